"""Does the service stay fast however much the store holds? (``./run bench-store``)

    ./run bench-store [--sizes 0,10000,50000,100000] [--gigabytes 10] [--video-seconds 90]
                      [--uploads 3] [--owners 100] [--samples 200] [--idle-seconds 30]
                      [--settle 30] [--keep]

Starts a FerretDB of its own (so its CPU is the benchmark's alone; a scratch data directory,
removed afterwards unless ``--keep``) and the five services on it, then fills the store
through the services' own document builders (``bench.store_fill``) to each size in turn, with
``--gigabytes`` of chunks at the largest, and at each size measures:

- ``--uploads`` uploads (the median counts) of a generated ``--video-seconds`` 1280x720 H.264
  + AAC video (ffmpeg's test sources, ~4.5 Mbit/s), timed from the request to ``converted``
  and to ``notified``;
- ``GET /v1/jobs/{id}`` p50/p99 (``--samples`` jobs of an owner holding 1/``--owners`` of all);
- ``GET /v1/jobs`` p50/p99 (that owner's newest 20, and pages further down), and an admin's
  list of everyone's;
- a ranged MP3 download (the first 64 KiB, and the last 64 KiB) of the uploaded job;
- ``DELETE /v1/jobs/{id}`` of stored jobs, and how long until their files are gone;
- FerretDB's CPU over ``--idle-seconds`` with no request in flight (``/proc/<pid>/stat``).

Prints a table with each size's ratio to the row at 0, checks the targets at the largest
size, and writes ``bench/results/store-<time>.json`` (with the machine's load beside each row).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from bson import ObjectId
from pymongo import MongoClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.store_fill import Filler  # noqa: E402
from tests.services import PrivateFerretDB, provide_endpoints  # noqa: E402
from tests.system import System, running_system  # noqa: E402

TERMINAL = {"notified", "failed", "cancelled"}
CACHE = Path.home() / ".cache" / "vidmp3" / "bench"
TARGETS = {
    "job ratio (converted, notified)": 1.2,
    "status p50 ms": 30.0,
    "list p50 ms": 50.0,
    "ranged download ms": 100.0,
    "delete ms": 100.0,
    "idle FerretDB CPU %": 2.0,
}


def make_video(seconds: int) -> Path:
    path = CACHE / f"store-{seconds}s-720p.mp4"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        print(f"making {path} (once) ...", flush=True)
        partial = path.with_name(f".{path.name}.partial.mp4")
        audio = (
            "sine=frequency=440:sample_rate=44100[t];"
            "anoisesrc=color=pink:amplitude=0.2:sample_rate=44100[n];[t][n]amerge=inputs=2"
        )
        subprocess.run(  # noqa: S603
            [
                *("ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"),
                *("-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30", "-f", "lavfi", "-i", audio),
                *("-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "4500k"),
                *("-c:a", "aac", "-b:a", "160k", "-ac", "2", str(partial)),
            ],
            check=True,
        )
        partial.replace(path)
    return path


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def timed(client: httpx.Client, method: str, url: str, **headers: str) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    response = client.request(method, url, headers=headers)
    return (time.perf_counter() - started) * 1000, response


def summary(values: list[float]) -> dict[str, float]:
    return {"p50": round(percentile(values, 0.5), 2), "p99": round(percentile(values, 0.99), 2), "n": len(values)}


def owner_of(token: str) -> str:
    payload = token.split(".")[1]
    return str(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sub"])


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime


def measure(
    system: System, filler: Filler, database: Any, *, tokens: dict[str, str], video: bytes, args: argparse.Namespace
) -> dict[str, Any]:
    owner, admin = tokens["owner"], tokens["admin"]
    auth = {"Authorization": f"Bearer {owner}"}
    row: dict[str, Any] = {"jobs": filler.jobs, "load_before": os.getloadavg()[0]}
    with httpx.Client(base_url=system.gateway, headers=auth, timeout=600) as client:
        uploads = [upload(client, video) for _ in range(args.uploads)]
        job_id, status = uploads[-1]["job_id"], uploads[-1]["status"]
        row["uploads"] = [{k: v for k, v in u.items() if k != "status"} for u in uploads]
        row["state"] = status["state"]
        for measure_ in ("accepted", "converted", "notified"):
            times = [u[f"to_{measure_}_s"] for u in uploads if u[f"to_{measure_}_s"] is not None]
            row[f"to_{measure_}_s"] = round(statistics.median(times), 2) if times else None
        row["upload_accepted_s"] = row.pop("to_accepted_s")

        mine = filler.job_ids.get(owner_of(owner), [])
        sample = random.sample(mine, min(args.samples, len(mine))) if mine else [job_id] * args.samples
        row["status_ms"] = summary([timed(client, "GET", f"/v1/jobs/{j}")[0] for j in sample])

        firsts, deeper = [], []
        for _ in range(max(1, args.samples // 2)):
            elapsed, page = timed(client, "GET", "/v1/jobs?limit=20")
            firsts.append(elapsed)
            if page.json().get("next_url"):
                deeper.append(timed(client, "GET", page.json()["next_url"])[0])
        row["list_ms"] = summary(firsts)
        row["list_next_page_ms"] = summary(deeper) if deeper else None
        everyone = [
            timed(client, "GET", "/v1/jobs?limit=20&all=true", Authorization=f"Bearer {admin}")[0]
            for _ in range(max(1, args.samples // 4))
        ]
        row["list_everyone_ms"] = summary(everyone)

        mp3 = status.get("mp3") and status["mp3"]["download_url"]
        if mp3:
            first = [timed(client, "GET", mp3, Range="bytes=0-65535")[0] for _ in range(20)]
            last = [timed(client, "GET", mp3, Range="bytes=-65536")[0] for _ in range(20)]
            row["range_first_ms"], row["range_last_ms"] = summary(first), summary(last)

        doomed = [j for j in sample[:10] if j in mine] or [job_id]
        files = [database["job_status"].find_one({"_id": j}) for j in doomed]
        deletes = [timed(client, "DELETE", f"/v1/jobs/{j}")[0] for j in doomed]
        row["delete_ms"] = summary(deletes)
        removal = time.monotonic()
        while any(
            database[f"{bucket}.files"].find_one({"_id": ObjectId(doc[key])}) is not None
            for doc in files
            if doc
            for bucket, key in (("videos", "video_file_id"), ("mp3s", "mp3_file_id"))
        ):
            time.sleep(0.1)
        row["files_removed_s"] = round(time.monotonic() - removal, 2)
        for j in doomed:
            if j in mine:
                mine.remove(j)
    return row


def upload(client: httpx.Client, video: bytes) -> dict[str, Any]:
    """One upload, timed from the request to the answer, to ``converted`` and to ``notified``."""
    started = time.time()
    response = client.post("/v1/jobs", files={"file": ("bench.mp4", video, "video/mp4")})
    response.raise_for_status()
    accepted = time.time() - started
    job_id = response.json()["job_id"]
    deadline = time.monotonic() + 1800
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status = client.get(f"/v1/jobs/{job_id}").json()
        if status["state"] in TERMINAL:
            break
        time.sleep(0.2)
    moments = {c["state"]: datetime.fromisoformat(c["at"]).timestamp() for c in status["history"]}
    timed_ = {
        f"to_{state}_s": round(moments[state] - started, 2) if state in moments else None
        for state in ("converted", "notified")
    }
    return {"job_id": job_id, "status": status, "to_accepted_s": round(accepted, 2), **timed_}


def idle_cpu(ferret: PrivateFerretDB, seconds: float) -> float:
    assert ferret._process is not None  # the benchmark's own process
    time.sleep(5)  # what the measurements started settles
    before, started = cpu_ticks(ferret._process.pid), time.monotonic()
    time.sleep(seconds)
    used = (cpu_ticks(ferret._process.pid) - before) / os.sysconf("SC_CLK_TCK")
    return round(100 * used / (time.monotonic() - started), 2)


def ratio(value: float | None, reference: float | None) -> str:
    return f"{value / reference:.2f}x" if value and reference else "-"


def print_table(rows: list[dict[str, Any]]) -> None:
    base = rows[0]
    columns: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
        ("jobs", lambda r: f"{r['jobs']:,}"),
        ("files GB", lambda r: f"{r.get('chunk_gb', 0):.1f}"),
        ("store GB", lambda r: f"{r['stored_gb']:.1f}"),
        ("fill s", lambda r: f"{r['fill_s']:.0f}"),
        ("converted s", lambda r: f"{r['to_converted_s']} ({ratio(r['to_converted_s'], base['to_converted_s'])})"),
        ("notified s", lambda r: f"{r['to_notified_s']} ({ratio(r['to_notified_s'], base['to_notified_s'])})"),
        ("status p50/p99 ms", lambda r: f"{r['status_ms']['p50']}/{r['status_ms']['p99']}"),
        ("list p50/p99 ms", lambda r: f"{r['list_ms']['p50']}/{r['list_ms']['p99']}"),
        ("all p50 ms", lambda r: f"{r['list_everyone_ms']['p50']}"),
        ("range first/last ms", lambda r: f"{r['range_first_ms']['p50']}/{r['range_last_ms']['p50']}"),
        ("delete ms", lambda r: f"{r['delete_ms']['p50']}"),
        ("files gone s", lambda r: f"{r['files_removed_s']}"),
        ("idle CPU %", lambda r: f"{r['idle_cpu_percent']}"),
        ("load", lambda r: f"{r['load_before']:.1f}"),
    ]
    cells = [[fmt(row) for _, fmt in columns] for row in rows]
    widths = [max(len(name), *(len(c[i]) for c in cells)) for i, (name, _) in enumerate(columns)]
    print(" | ".join(name.ljust(w) for (name, _), w in zip(columns, widths, strict=True)))
    print("-+-".join("-" * w for w in widths))
    for line in cells:
        print(" | ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)))


def verdicts(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    base, top = rows[0], rows[-1]
    job_ratio = max((top[f"to_{s}_s"] or 0) / (base[f"to_{s}_s"] or 1) for s in ("converted", "notified"))
    found = {
        "job ratio (converted, notified)": job_ratio,
        "status p50 ms": top["status_ms"]["p50"],
        "list p50 ms": max(top["list_ms"]["p50"], top["list_everyone_ms"]["p50"]),
        "ranged download ms": max(top["range_first_ms"]["p50"], top["range_last_ms"]["p50"]),
        "delete ms": top["delete_ms"]["p50"],
        "idle FerretDB CPU %": top["idle_cpu_percent"],
    }
    return {
        name: {"value": round(value, 2), "target": TARGETS[name], "met": value <= TARGETS[name]}
        for name, value in found.items()
    }


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="0,10000,50000,100000", help="finished jobs at each step")
    parser.add_argument("--gigabytes", type=float, default=10.0, help="chunks stored at the largest size")
    parser.add_argument("--video-seconds", type=int, default=90)
    parser.add_argument("--owners", type=int, default=100, help="owners the jobs are spread over")
    parser.add_argument("--uploads", type=int, default=3, help="uploads timed at each size (medians)")
    parser.add_argument("--settle", type=float, default=30.0, help="seconds between a fill and its measurements")
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    parser.add_argument("--keep", action="store_true", help="keep the FerretDB data directory")
    return parser.parse_args()


def run(args: argparse.Namespace, sizes: list[int], video: bytes, data_dir: Path) -> list[dict[str, Any]]:
    """Each size's row, measured on a FerretDB and a stack of the benchmark's own."""
    ferret = PrivateFerretDB(data_dir / "ferretdb")
    database_name = "vidmp3_bench_store"
    rows: list[dict[str, Any]] = []
    try:
        ferret.start()
        mongo: MongoClient[dict[str, Any]] = MongoClient(ferret.url, tz_aware=True)
        with provide_endpoints() as shared, mongo:
            endpoints = replace(shared, mongo_url=ferret.url)
            with running_system(endpoints, database_name, data_dir / "stack", show_logs=False) as system:
                accounts = {"owner": system.create_user(), "admin": system.create_user(admin=True)}
                owners = [owner_of(system.login(*accounts["owner"]))] + [f"bench-{n}" for n in range(1, args.owners)]
                database = mongo[database_name]
                per_job = int(args.gigabytes * 1e9 / max(1, sizes[-1]))
                filler = Filler(database, ferret.url, owners, bytes_per_job=per_job, planned_jobs=sizes[-1])
                for size in sizes:
                    print(f"filling to {size:,} jobs ...", flush=True)
                    fill_started = time.monotonic()
                    filler.fill_to(size)
                    fill_s = time.monotonic() - fill_started
                    time.sleep(args.settle if size else 0)  # the store writes out what the fill left pending
                    stats = database.command("dbStats")
                    # tokens last minutes, a fill longer: log in afresh for each size
                    tokens = {name: system.login(*account) for name, account in accounts.items()}
                    row = measure(system, filler, database, tokens=tokens, video=video, args=args)
                    row |= {
                        "fill_s": round(fill_s, 1),
                        "chunk_gb": round(size * per_job / 1e9, 2),
                        "stored_gb": round(stats.get("dataSize", 0) / 1e9, 2),  # as FerretDB keeps it: base64 JSON
                        "idle_cpu_percent": idle_cpu(ferret, args.idle_seconds),
                        "load_after": os.getloadavg()[0],
                    }
                    rows.append(row)
                    print(json.dumps(row), flush=True)
    finally:
        ferret.stop()
    return rows


def main() -> int:
    args = arguments()
    sizes = sorted({0, *(int(size) for size in args.sizes.split(","))})
    video = make_video(args.video_seconds).read_bytes()
    data_dir = Path(tempfile.mkdtemp(prefix="vidmp3-bench-store-"))
    try:
        rows = run(args, sizes, video, data_dir)
    finally:
        if args.keep:
            print(f"kept {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)
    print()
    print_table(rows)
    checked = verdicts(rows)
    print(
        f"\ntargets at {rows[-1]['jobs']:,} jobs ({rows[-1].get('chunk_gb', 0):.1f} GB of files) against the row at 0:"
    )
    for name, verdict in checked.items():
        print(f"  {name:34} {verdict['value']:>8} (≤ {verdict['target']}) {'met' if verdict['met'] else 'NOT MET'}")
    result = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "arguments": vars(args),
        "video_bytes": len(video),
        "rows": rows,
        "targets": checked,
    }
    out = ROOT / "bench" / "results" / f"store-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"written to {out.relative_to(ROOT)}")
    return 0 if all(v["met"] for v in checked.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
