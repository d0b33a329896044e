"""What GridFS's ``(files_id, n)`` index costs chunk inserts, with and without it.

    uv run python bench/gridfs_index.py [--rounds 4] [--chunks 80] [--mongo-url URL]

Inserts ``--chunks`` 255 kB chunks per round (eight at a time, as the services do) into a
collection with the unique index and into one without, the rounds alternating, in a
throwaway database dropped afterwards; prints ms per chunk and writes
``bench/results/gridfs-index-<time>.json``. ``common.blobs`` creates the index only on MongoDB:
FerretDB never reads through it, so there it is only this cost.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from bson import ObjectId
from pymongo import MongoClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common.blobs import CHUNK_SIZE, chunk_document  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--chunks", type=int, default=80)
    parser.add_argument("--mongo-url", default=os.environ.get("VIDMP3_MONGO_URL", "mongodb://127.0.0.1:27017/"))
    args = parser.parse_args()
    payload = os.urandom(CHUNK_SIZE)
    timings: dict[str, list[float]] = {"without": [], "with": []}
    client: MongoClient[dict[str, object]] = MongoClient(args.mongo_url)
    name = f"vidmp3_bench_index_{uuid.uuid4().hex[:8]}"
    try:
        server = client.admin.command("buildInfo")
        for round_ in range(args.rounds):
            for indexed in (False, True) if round_ % 2 == 0 else (True, False):
                chunks = client[name][f"chunks_{round_}_{int(indexed)}"]
                chunks.insert_one({"_id": "first"})  # the collection exists before timing starts
                if indexed:
                    chunks.create_index([("files_id", 1), ("n", 1)], unique=True)
                started = time.perf_counter()
                for _ in range(args.chunks // 8):
                    file_id = ObjectId()
                    chunks.insert_many([chunk_document(file_id, n, payload) for n in range(8)])
                per_chunk = (time.perf_counter() - started) * 1000 / (args.chunks // 8 * 8)
                timings["with" if indexed else "without"].append(round(per_chunk, 2))
    finally:
        client.drop_database(name)
        client.close()
    medians = {key: statistics.median(values) for key, values in timings.items()}
    result = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "server": server.get("ferretdbVersion") or f"MongoDB {server.get('version')}",
        "load": os.getloadavg()[0],
        "ms_per_chunk": timings,
        "median_ratio": round(medians["with"] / medians["without"], 3),
    }
    for key, values in timings.items():
        print(f"{key:8} the index: {medians[key]:6.2f} ms per chunk (rounds: {', '.join(map(str, values))})")
    print(f"with / without: {result['median_ratio']}x on {result['server']} (load {result['load']:.1f})")
    out = ROOT / "bench" / "results" / f"gridfs-index-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
