"""Fairness: a third user's short job while two users load the converter with ``normalize`` jobs.

    uv run python bench/fairness.py [--short-seconds 10] [--heavy-seconds 600] [--repeats 3] [--compare]

Starts the services (their own RabbitMQ vhost and MongoDB database, as the end-to-end tests
do), then times a short job of a third user from upload to ``notified``: first on an idle
system, then while users A and B each have as much ``normalize`` work in flight as they may
(two 10-minute jobs each: 8 units of 8). The ratio of the medians is what to read (the
issue's bound: 2x). ``--compare`` also runs the same with the heavy lane as wide as the
converter (``VIDMP3_HEAVY_CONVERSIONS`` = ``VIDMP3_CONVERSIONS``), which is how the
converter behaved before: heavy jobs could hold every slot. Prints a table and writes
``bench/results/fairness-<time>.json``, with the machine's load average beside each row.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from converter.samples import write_sample_video  # noqa: E402
from tests.faults.media import write_long_video  # noqa: E402
from tests.services import provide_endpoints  # noqa: E402
from tests.system import System, running_system, wait_for  # noqa: E402

TERMINAL = {"notified", "failed", "cancelled"}


def upload(system: System, token: str, name: str, video: bytes, **fields: str) -> str:
    response = httpx.post(
        f"{system.gateway}/v1/jobs",
        headers={"Authorization": f"Bearer {token}"},
        files={"file": (name, video, "video/mp4")},
        data=fields,
        timeout=120,
    )
    response.raise_for_status()
    return str(response.json()["job_id"])


def state(system: System, token: str, job_id: str) -> str:
    response = httpx.get(f"{system.gateway}/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {token}"})
    return str(response.json()["state"])


def short_job_seconds(system: System, token: str, video: bytes) -> float:
    """From the start of the upload to ``notified``."""
    started = time.monotonic()
    job_id = upload(system, token, "short.mp4", video)
    wait_for(lambda: state(system, token, job_id) in TERMINAL, timeout=600, interval=0.1)
    if (final := state(system, token, job_id)) != "notified":
        raise SystemExit(f"the short job ended {final}")
    return time.monotonic() - started


def measure(system: System, short: bytes, heavy: bytes, repeats: int) -> dict[str, Any]:
    third = system.new_user_token()
    short_job_seconds(system, third, short)  # warm: the first job of a process pays its imports
    idle = [short_job_seconds(system, third, short) for _ in range(repeats)]
    idle_load = os.getloadavg()[0]

    heavy_jobs: list[tuple[str, str]] = []
    for user in ("a", "b"):
        token = system.new_user_token()
        heavy_jobs += [(token, upload(system, token, f"{user}{n}.mp4", heavy, normalize="true")) for n in range(2)]
    wait_for(lambda: any(state(system, t, j) == "converting" for t, j in heavy_jobs), timeout=120, interval=0.2)
    loaded: list[float] = []
    in_flight: list[int] = []
    for _ in range(repeats):
        in_flight.append(sum(state(system, t, j) not in TERMINAL for t, j in heavy_jobs))
        loaded.append(short_job_seconds(system, third, short))
    loaded_load = os.getloadavg()[0]
    in_flight.append(sum(state(system, t, j) not in TERMINAL for t, j in heavy_jobs))
    for token, job_id in heavy_jobs:  # the heavy work is not what is measured: stop it
        httpx.post(f"{system.gateway}/v1/jobs/{job_id}/cancel", headers={"Authorization": f"Bearer {token}"})
    return {
        "idle_seconds": [round(s, 2) for s in idle],
        "loaded_seconds": [round(s, 2) for s in loaded],
        "idle_median_s": round(statistics.median(idle), 2),
        "loaded_median_s": round(statistics.median(loaded), 2),
        "ratio": round(statistics.median(loaded) / statistics.median(idle), 2),
        "heavy_jobs_in_flight_during": in_flight,
        "load_1m_idle": round(idle_load, 1),
        "load_1m_loaded": round(loaded_load, 1),
    }


def run(endpoints: Any, work: Path, short: bytes, heavy: bytes, repeats: int, **env: str) -> dict[str, Any]:
    name = uuid.uuid4().hex[:8]
    with running_system(endpoints, f"vidmp3_bench_{name}", work / f"stack-{name}", show_logs=False, **env) as system:
        return measure(system, short, heavy, repeats)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--short-seconds", type=float, default=10.0)
    parser.add_argument("--heavy-seconds", type=int, default=600)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--compare", action="store_true", help="also run with the heavy lane as wide as the converter")
    args = parser.parse_args()

    rows: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as scratch, provide_endpoints() as endpoints:
        work = Path(scratch)
        write_sample_video(work / "short.mp4", seconds=args.short_seconds)
        write_long_video(work / "heavy.mp4", args.heavy_seconds)
        short, heavy = (work / "short.mp4").read_bytes(), (work / "heavy.mp4").read_bytes()
        rows["lanes (default: 1 heavy of 2 conversions)"] = run(endpoints, work, short, heavy, args.repeats)
        if args.compare:
            rows["no lane (heavy may hold both conversions)"] = run(
                endpoints, work, short, heavy, args.repeats, VIDMP3_HEAVY_CONVERSIONS="2"
            )

    result = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "short_job_audio_seconds": args.short_seconds,
        "heavy_job_audio_seconds": args.heavy_seconds,
        "heavy_jobs": "2 users x 2 normalize jobs (each user's 8 units)",
        "repeats": args.repeats,
        "rows": rows,
    }
    out = ROOT / "bench" / "results" / f"fairness-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))

    print(
        f"a third user's {args.short_seconds:g} s job, upload to notified (median of {args.repeats}), "
        f"idle vs beside 4 normalize jobs of {args.heavy_seconds} s from two users"
    )
    print(f"  {'converter':44} {'idle s':>7} {'loaded s':>9} {'ratio':>6} {'load idle/loaded':>17}")
    for name, row in rows.items():
        print(
            f"  {name:44} {row['idle_median_s']:7.2f} {row['loaded_median_s']:9.2f} {row['ratio']:6.2f} "
            f"{row['load_1m_idle']:8.1f}/{row['load_1m_loaded']:.1f}"
        )
    print(f"  written to {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
