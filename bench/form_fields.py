"""The attack of issue 12, finding 1, replayed: a 150 MB multipart body of 1 kB fields
``f0..f150000`` then a file, streamed to ``POST /v1/jobs``, with the gateway's memory watched.

    uv run python bench/form_fields.py [--fields 150000] [--limit-mb 200]

Starts the five services as the end-to-end tests do, then sends the body over one
connection as fast as the gateway takes it, and reports the answer (status, size, how long
it took) and the gateway process's RSS before, at its peak while the body was sent (VmHWM,
reset beforehand through /proc/<pid>/clear_refs) and after. As a reference in the same run,
a legitimate 3 s video is uploaded the same way first. Prints a table, writes
bench/results/form-fields-<time>.json and exits 1 when the peak passes ``--limit-mb``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from pymongo import MongoClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.gateway_upload import Memory  # noqa: E402
from converter.samples import write_sample_video  # noqa: E402
from tests.services import provide_endpoints  # noqa: E402
from tests.system import System, running_system  # noqa: E402

BOUNDARY = "b3nchb0undary"


def body(fields: int, size: int, video: bytes, sent: list[int]) -> Iterator[bytes]:
    """The fields then the file, a thousand fields a piece; ``sent`` counts the bytes taken."""
    value = b"x" * size
    for start in range(0, fields, 1000):
        piece = b"".join(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="f{n}"\r\n\r\n'.encode() + value + b"\r\n"
            for n in range(start, min(start + 1000, fields))
        )
        sent[0] += len(piece)
        yield piece
    tail = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="v.mp4"\r\n\r\n'.encode()
        + video
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )
    sent[0] += len(tail)
    yield tail


def send(system: System, token: str, memory: Memory, fields: int, video: bytes) -> dict[str, Any]:
    memory.reset_peak()
    before = memory.current_mb()
    sent = [0]
    started = time.perf_counter()
    try:
        response = httpx.post(
            f"{system.gateway}/v1/jobs",
            content=body(fields, 1000, video, sent),
            headers={"Authorization": f"Bearer {token}", "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
            timeout=600,
        )
        status, size, detail = response.status_code, len(response.content), response.text[:200]
    except httpx.HTTPError as error:  # the server may close the connection once it has answered
        status, size, detail = 0, 0, f"{type(error).__name__}: {error}"
    seconds = time.perf_counter() - started
    time.sleep(2.0)  # let the refused request's memory go back before reading "after"
    return {
        "fields": fields,
        "bytes_sent": sent[0],
        "status": status,
        "reply_bytes": size,
        "detail": detail,
        "seconds": round(seconds, 2),
        "rss_before_mb": round(before, 1),
        "peak_rss_mb": round(memory.peak_mb(), 1),
        "rss_after_mb": round(memory.current_mb(), 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fields", type=int, default=150_000)
    parser.add_argument("--limit-mb", type=float, default=200.0, help="fail when the gateway's peak RSS passes this")
    args = parser.parse_args()

    database = f"vidmp3_bench_{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as work, provide_endpoints() as endpoints:
        video_path = Path(work) / "v.mp4"
        write_sample_video(video_path, seconds=3.0)
        video = video_path.read_bytes()
        try:
            with running_system(endpoints, database, Path(work) / "stack", show_logs=False) as system:
                pid = system.stack.own_pid("gateway")
                assert pid is not None
                memory = Memory(pid)
                token = system.new_user_token()
                rows = [
                    {"case": "a 3 s video, no fields (reference)", **send(system, token, memory, 0, video)},
                    {
                        "case": f"{args.fields} fields of 1 kB, then the video",
                        **send(system, token, memory, args.fields, video),
                    },
                ]
        finally:
            client: MongoClient[dict[str, Any]] = MongoClient(endpoints.mongo_url)
            with client:
                client.drop_database(database)

    attack = rows[-1]
    result = {
        "when": datetime.now(UTC).isoformat(),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "rows": rows,
        "limit_mb": args.limit_mb,
        "within_limit": attack["peak_rss_mb"] <= args.limit_mb,
    }
    out = ROOT / "bench" / "results" / f"form-fields-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))

    columns = ("sent MB", 8), ("status", 6), ("reply B", 8), ("s", 6), ("RSS before", 10), ("peak", 6), ("after", 6)
    print(f"\n{'case':42} " + " ".join(f"{name:>{width}}" for name, width in columns))
    for row in rows:
        print(
            f"{row['case']:42} {row['bytes_sent'] / 1e6:8.1f} {row['status']:6} {row['reply_bytes']:8} "
            f"{row['seconds']:6.1f} {row['rss_before_mb']:10.1f} {row['peak_rss_mb']:6.1f} {row['rss_after_mb']:6.1f}"
        )
    print(f"load average {result['load_average'][0]:.1f} on {result['cpus']} CPUs")
    verdict = "within" if result["within_limit"] else "OVER"
    print(f"gateway peak RSS {attack['peak_rss_mb']:.1f} MB: {verdict} the {args.limit_mb:.0f} MB limit")
    print(f"written to {out.relative_to(ROOT)}")
    return 0 if result["within_limit"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
