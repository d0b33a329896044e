"""Status polling under load: many pollers with valid tokens against one gateway process.

    uv run python bench/status_load.py [--connections 64] [--seconds 10]

Starts the services, makes a finished job, then runs ``wrk`` (Debian's ``wrk``; installed
with apt-get when missing) against ``GET /v1/jobs/{id}`` with a bearer token and, in the same
run, against the trivial ``GET /health`` of the same server: the ratio is what to read,
since both share the 2 cores with wrk itself. Prints a table and writes
``bench/results/status-load-<time>.json``.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from converter.samples import write_sample_video  # noqa: E402
from tests.services import provide_endpoints  # noqa: E402
from tests.system import System, running_system, wait_for  # noqa: E402

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def ensure_wrk() -> str:
    if (found := shutil.which("wrk")) is None:
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True, capture_output=True)  # noqa: S607
        found = shutil.which("wrk")
    if found is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    return found


def milliseconds(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def wrk(binary: str, url: str, connections: int, seconds: int, token: str | None) -> dict[str, Any]:
    command = [binary, "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if token:
        command += ["-H", f"Authorization: Bearer {token}"]
    output = subprocess.run([*command, url], check=True, capture_output=True, text=True).stdout  # noqa: S603
    percentiles = dict(re.findall(r"^\s+(50|90|99)%\s+(\S+)$", output, re.MULTILINE))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "requests_per_second": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),  # type: ignore[union-attr]
        "p50_ms": milliseconds(percentiles["50"]),
        "p90_ms": milliseconds(percentiles["90"]),
        "p99_ms": milliseconds(percentiles["99"]),
        "errors": int(non_2xx.group(1)) if non_2xx else 0,
    }


def finished_job(system: System, video: bytes) -> tuple[str, str]:
    token = system.new_user_token()
    headers = {"Authorization": f"Bearer {token}"}
    response = httpx.post(f"{system.gateway}/v1/jobs", headers=headers, files={"file": ("a.mp4", video)}, timeout=60)
    job_id = str(response.raise_for_status().json()["job_id"])
    wait_for(lambda: httpx.get(f"{system.gateway}/v1/jobs/{job_id}", headers=headers).json()["state"] == "notified")
    return token, job_id


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    binary = ensure_wrk()

    with tempfile.TemporaryDirectory() as work:
        sample = Path(work) / "a.mp4"
        write_sample_video(sample, seconds=1.0)
        with (
            provide_endpoints() as endpoints,
            running_system(
                endpoints, f"vidmp3_bench_{uuid.uuid4().hex[:8]}", Path(work) / "stack", show_logs=False
            ) as system,
        ):
            token, job_id = finished_job(system, sample.read_bytes())
            status = wrk(binary, f"{system.gateway}/v1/jobs/{job_id}", args.connections, args.seconds, token)
            health = wrk(binary, f"{system.gateway}/health", args.connections, args.seconds, None)

    result = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "connections": args.connections,
        "seconds": args.seconds,
        "status": status,
        "health": health,
        "status_vs_health_throughput": round(status["requests_per_second"] / health["requests_per_second"], 3),
    }
    out = ROOT / "bench" / "results" / f"status-load-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))

    print(f"wrk, {args.connections} connections, {args.seconds} s each, one gateway process")
    print(f"  {'endpoint':22} {'req/s':>9} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for name, row in (("GET /v1/jobs/{id}", status), ("GET /health", health)):
        print(
            f"  {name:22} {row['requests_per_second']:9.0f} {row['p50_ms']:8.2f} "
            f"{row['p90_ms']:8.2f} {row['p99_ms']:8.2f} {row['errors']:7d}"
        )
    print(f"  status throughput is {result['status_vs_health_throughput']:.0%} of the trivial endpoint's")
    print(f"  written to {out.relative_to(ROOT)}")
    return 0 if status["errors"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
