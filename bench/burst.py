"""A burst of short uploads through the whole system: throughput and end-to-end latency.

    uv run python bench/burst.py [--jobs 300] [--concurrency 8] [--seconds 1.0]

Starts the five services (as the end-to-end tests do: their own RabbitMQ vhost and MongoDB
database, an in-process SMTP server), uploads ``--jobs`` generated videos from
``--concurrency`` clients, waits until every job is terminal, then prints a table and writes
``bench/results/burst-<time>.json``. Latency is counted from the start of each upload to the
job's ``notified`` (the user has the email) and to ``converted`` (the MP3 can be fetched).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from converter.samples import write_sample_video  # noqa: E402
from tests.services import provide_endpoints  # noqa: E402
from tests.system import System, running_system  # noqa: E402

TERMINAL = {"notified", "failed", "cancelled"}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def run(system: System, jobs: int, concurrency: int, video: bytes) -> dict[str, Any]:
    token = system.new_user_token()
    headers = {"Authorization": f"Bearer {token}"}
    started: dict[str, float] = {}

    def send(n: int) -> str:
        begin = time.time()
        response = httpx.post(
            f"{system.gateway}/v1/jobs", headers=headers, files={"file": (f"b{n}.mp4", video, "video/mp4")}, timeout=120
        )
        response.raise_for_status()
        job_id = str(response.json()["job_id"])
        started[job_id] = begin
        return job_id

    wall = time.monotonic()
    with ThreadPoolExecutor(concurrency) as pool:
        ids = list(pool.map(send, range(jobs)))
    uploaded = time.monotonic() - wall

    finished: dict[str, dict[str, Any]] = {}
    with httpx.Client(base_url=system.gateway, headers=headers, timeout=30) as client:
        deadline = time.monotonic() + 600
        while len(finished) < len(ids) and time.monotonic() < deadline:
            for job_id in ids:
                if job_id not in finished:
                    status = client.get(f"/v1/jobs/{job_id}").json()
                    if status["state"] in TERMINAL:
                        finished[job_id] = status
            time.sleep(0.5)
    total = time.monotonic() - wall

    def at(status: dict[str, Any], state: str) -> float | None:
        moment = next((c["at"] for c in status["history"] if c["state"] == state), None)
        return None if moment is None else datetime.fromisoformat(moment).timestamp()

    to_notified = [t - started[j] for j, s in finished.items() if (t := at(s, "notified")) is not None]
    to_converted = [t - started[j] for j, s in finished.items() if (t := at(s, "converted")) is not None]
    states = [s["state"] for s in finished.values()]
    last_event = max(max(datetime.fromisoformat(c["at"]).timestamp() for c in s["history"]) for s in finished.values())
    return {
        "jobs": jobs,
        "concurrency": concurrency,
        "terminal": len(finished),
        "notified": states.count("notified"),
        "failed": states.count("failed"),
        "not_terminal": len(ids) - len(finished),
        "upload_seconds": round(uploaded, 2),
        "wall_seconds_until_all_terminal": round(total, 2),
        "jobs_per_minute": round(60 * len(finished) / (last_event - min(started.values())), 1),
        "latency_to_converted": _summary(to_converted),
        "latency_to_notified": _summary(to_notified),
    }


def _summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    return {
        "p50": round(percentile(values, 0.50), 3),
        "p90": round(percentile(values, 0.90), 3),
        "p99": round(percentile(values, 0.99), 3),
        "max": round(max(values), 3),
        "mean": round(statistics.fmean(values), 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=1.0, help="length of each uploaded video")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as work:
        sample = Path(work) / "short.mp4"
        write_sample_video(sample, seconds=args.seconds)
        with (
            provide_endpoints() as endpoints,
            running_system(
                endpoints, f"vidmp3_bench_{uuid.uuid4().hex[:8]}", Path(work) / "stack", show_logs=False
            ) as system,
        ):
            result = run(system, args.jobs, args.concurrency, sample.read_bytes())

    result["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    result["video_seconds"] = args.seconds
    out = ROOT / "bench" / "results" / f"burst-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))

    print(f"{result['jobs']} uploads of {args.seconds:g} s videos from {args.concurrency} clients")
    print(
        f"  terminal {result['terminal']} (notified {result['notified']}, failed {result['failed']}), "
        f"never terminal {result['not_terminal']}"
    )
    print(f"  throughput {result['jobs_per_minute']} jobs/min")
    print(f"  every job terminal after {result['wall_seconds_until_all_terminal']} s")
    print(f"  {'latency (s)':24} {'p50':>7} {'p90':>7} {'p99':>7} {'max':>7}")
    for name in ("latency_to_converted", "latency_to_notified"):
        row = result[name]
        cells = " ".join(f"{row.get(key, 0):7.2f}" for key in ("p50", "p90", "p99", "max"))
        print(f"  {name[11:]:24} {cells}")
    print(f"  written to {out.relative_to(ROOT)}")
    return 0 if result["not_terminal"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
