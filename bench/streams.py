"""Status streams: one user's 200 stream attempts against another user's job list.

    uv run python bench/streams.py [--attempts 200] [--requests 60] [--hold 20] [--compare]

Starts the services (their own RabbitMQ vhost and MongoDB database), gives user A two long
jobs in flight and user B a few finished ones, then times B's ``GET /v1/jobs`` (sequential
requests, median and p90): idle (half before, half after), and while A makes ``--attempts``
stream attempts at once on its jobs, holding each stream it gets (the gateway lets 10 in
and answers the rest 429; ``--retry`` makes a refused client ask again after
``Retry-After``). The ratio of the medians is what to read (the issue's bound: 2x).
``--compare`` also runs the same with the cap lifted (``VIDMP3_MAX_STREAMS_PER_USER=100000``),
as before it existed. Prints a table and writes ``bench/results/streams-<time>.json``, with
the machine's load average beside each row.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from converter.samples import write_sample_video  # noqa: E402
from tests.faults.media import write_long_video  # noqa: E402
from tests.services import provide_endpoints  # noqa: E402
from tests.system import System, running_system  # noqa: E402


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def upload(system: System, token: str, video: bytes, **fields: str) -> str:
    response = httpx.post(
        f"{system.gateway}/v1/jobs", headers=bearer(token), files={"file": ("v.mp4", video)}, data=fields, timeout=120
    )
    response.raise_for_status()
    return str(response.json()["job_id"])


def list_latencies(system: System, token: str, requests: int) -> list[float]:
    seconds = []
    with httpx.Client(headers=bearer(token), timeout=60) as client:
        for _ in range(requests):
            started = time.perf_counter()
            client.get(f"{system.gateway}/v1/jobs").raise_for_status()
            seconds.append(time.perf_counter() - started)
    return seconds


async def attack(
    system: System, token: str, jobs: list[str], attempts: int, until: float, *, retry: bool
) -> Counter[str]:
    """``attempts`` clients, each holding a stream it gets until ``until`` (monotonic); a
    refused one asks again after ``Retry-After`` if ``retry``."""
    outcomes: Counter[str] = Counter()
    limits = httpx.Limits(max_connections=attempts + 10, max_keepalive_connections=0)
    async with httpx.AsyncClient(headers=bearer(token), timeout=httpx.Timeout(30, read=None), limits=limits) as client:

        async def one(n: int) -> None:
            url = f"{system.gateway}/v1/jobs/{jobs[n % len(jobs)]}/events"
            while time.monotonic() < until:
                try:
                    async with client.stream("GET", url) as stream:
                        outcomes[str(stream.status_code)] += 1
                        if stream.status_code == 200:
                            async for _ in stream.aiter_lines():
                                if time.monotonic() >= until:
                                    return
                            continue  # the stream ended (the job did): open another
                        wait = float(stream.headers.get("retry-after", "5"))
                except httpx.HTTPError as error:
                    outcomes[type(error).__name__] += 1
                    wait = 5.0
                if not retry:
                    return
                await asyncio.sleep(wait)

        tasks = [asyncio.create_task(one(n)) for n in range(attempts)]
        await asyncio.sleep(max(0.0, until - time.monotonic()))
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return outcomes


def measure(  # noqa: PLR0917
    system: System, long_video: bytes, short_video: bytes, attempts: int, requests: int, hold: float, retry: bool
) -> Any:
    reader = system.new_user_token()
    for _ in range(5):  # a list with something in it
        upload(system, reader, short_video)
    list_latencies(system, reader, 10)  # warm
    idle = list_latencies(system, reader, requests // 2)
    idle_load = os.getloadavg()[0]

    attacker = system.new_user_token()
    jobs = [upload(system, attacker, long_video, normalize="true") for _ in range(2)]
    until = time.monotonic() + hold + 5
    loaded: list[float] = []

    def measure_meanwhile() -> None:
        time.sleep(5)  # the streams are opened and refused meanwhile
        loaded.extend(list_latencies(system, reader, requests))

    async def both() -> Counter[str]:
        reading = asyncio.create_task(asyncio.to_thread(measure_meanwhile))
        outcomes = await attack(system, attacker, jobs, attempts, until, retry=retry)
        await reading
        return outcomes

    outcomes = asyncio.run(both())
    loaded_load = os.getloadavg()[0]
    for job_id in jobs:
        httpx.post(f"{system.gateway}/v1/jobs/{job_id}/cancel", headers=bearer(attacker))
    time.sleep(2)  # the streams end with their jobs
    idle += list_latencies(system, reader, requests - requests // 2)  # idle before and after: less noise
    return {
        "idle_median_ms": round(statistics.median(idle) * 1000, 1),
        "idle_p90_ms": round(statistics.quantiles(idle, n=10)[-1] * 1000, 1),
        "loaded_median_ms": round(statistics.median(loaded) * 1000, 1),
        "loaded_p90_ms": round(statistics.quantiles(loaded, n=10)[-1] * 1000, 1),
        "ratio": round(statistics.median(loaded) / statistics.median(idle), 2),
        "stream_answers": dict(outcomes),
        "load_1m_idle": round(idle_load, 1),
        "load_1m_loaded": round(loaded_load, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--attempts", type=int, default=200)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--hold", type=float, default=20.0, help="seconds the streams are held")
    parser.add_argument("--compare", action="store_true", help="also run with the per-user cap lifted")
    parser.add_argument("--retry", action="store_true", help="refused clients ask again after Retry-After")
    args = parser.parse_args()

    rows: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as scratch, provide_endpoints() as endpoints:
        work = Path(scratch)
        write_long_video(work / "long.mp4", 900)
        write_sample_video(work / "short.mp4", seconds=1.0)
        long_video, short_video = (work / "long.mp4").read_bytes(), (work / "short.mp4").read_bytes()
        configs: dict[str, dict[str, str]] = {"cap of 10 streams per user (default)": {}}
        if args.compare:
            configs["no cap (as before)"] = {"VIDMP3_MAX_STREAMS_PER_USER": "100000"}
        for name, env in configs.items():
            tag = uuid.uuid4().hex[:8]
            with running_system(
                endpoints, f"vidmp3_bench_{tag}", work / f"stack-{tag}", show_logs=False, **env
            ) as system:
                rows[name] = measure(
                    system, long_video, short_video, args.attempts, args.requests, args.hold, args.retry
                )

    result = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "attempts": args.attempts,
        "requests": args.requests,
        "hold_seconds": args.hold,
        "refused_clients_retry": args.retry,
        "rows": rows,
    }
    out = ROOT / "bench" / "results" / f"streams-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))

    print(
        f"user B's GET /v1/jobs ({args.requests} in a row), idle vs while user A makes {args.attempts} stream attempts"
    )
    print(f"  {'gateway':38} {'idle ms':>8} {'p90':>6} {'loaded ms':>10} {'p90':>7} {'ratio':>6}  streams answered")
    for name, row in rows.items():
        print(
            f"  {name:38} {row['idle_median_ms']:8.1f} {row['idle_p90_ms']:6.1f} {row['loaded_median_ms']:10.1f} "
            f"{row['loaded_p90_ms']:7.1f} {row['ratio']:6.2f}  {row['stream_answers']}  "
            f"(load {row['load_1m_idle']}/{row['load_1m_loaded']})"
        )
    print(f"  written to {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
