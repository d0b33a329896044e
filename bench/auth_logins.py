"""Auth's memory under concurrent logins (issue 12, finding 5: 20 at once took it from 85 MB to
479 MB, past its Kubernetes limit of 384 MiB).

    uv run python bench/auth_logins.py [--logins 50] [--rounds 3]

Starts auth (``python -m auth``) on a free port against the test MySQL, creates users, then
sends ``--logins`` logins at once, ``--rounds`` times (each from its own client address, so the
per-address limit does not refuse them before their password is checked: every one runs
Argon2id). Measures the process's peak RSS (``VmHWM``), its idle RSS and how long the burst
took, with the default bound on concurrent hashing (VIDMP3_PASSWORD_HASHING_CONCURRENCY, 2)
and, as the reference in the same run, with the bound lifted to the number of logins. Prints a
table and writes ``bench/results/auth-logins-<time>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
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

from tests.services import provide_endpoints  # noqa: E402

PASSWORD = "correct horse battery staple"  # noqa: S105 (made up for the run)
LIMIT_MIB = 384


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def memory_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for {pid}")


def environment(mysql_url: str, work: Path, port: int, concurrency: int) -> dict[str, str]:
    key = work / "signing.pem"
    if not key.exists():
        subprocess.run([sys.executable, "-m", "auth", "generate-key", str(key)], check=True, capture_output=True)  # noqa: S603
    env = {name: value for name, value in os.environ.items() if not name.startswith("VIDMP3_")}
    return env | {
        "VIDMP3_MYSQL_URL": mysql_url,
        "VIDMP3_SIGNING_KEY_FILE": str(key),
        "VIDMP3_PORT": str(port),
        "VIDMP3_TRUSTED_PROXIES": "127.0.0.1/32",
        "VIDMP3_PASSWORD_HASHING_CONCURRENCY": str(concurrency),
        "VIDMP3_PASSWORD_HASHING_QUEUE": "1000",
        "VIDMP3_LOG_LEVEL": "WARNING",
    }


def create_users(env: dict[str, str], count: int) -> list[str]:
    emails = [f"bench-logins-{uuid.uuid4().hex[:10]}@example.com" for _ in range(count)]
    for email in emails:
        subprocess.run(  # noqa: S603 (our own interpreter and module)
            [sys.executable, "-m", "auth", "create-user", email, "--password-stdin"],
            input=PASSWORD + "\n",
            text=True,
            env=env,
            check=True,
            capture_output=True,
        )
    return emails


async def burst(url: str, emails: list[str], logins: int, round_number: int) -> tuple[float, dict[int, int]]:
    async with httpx.AsyncClient(timeout=300) as http:

        async def one(n: int) -> int:
            # one in five logs in (each of 10 accounts from its own address; fewer than five at
            # once, which would lock it), the rest guess at emails nobody has (checked against a
            # decoy hash): every one costs one Argon2 run, and none is refused before
            right = n % 5 == 0
            email = emails[n // 5 % len(emails)] if right else f"nobody-{round_number}-{n}@example.com"
            password = PASSWORD if right else "a wrong guess"
            response = await http.post(
                f"{url}/v1/login",
                json={"email": email, "password": password},
                headers={"X-Forwarded-For": f"10.{round_number}.{n // 250}.{n % 250 + 1}"},
            )
            return response.status_code

        started = time.monotonic()
        statuses = await asyncio.gather(*(one(n) for n in range(logins)))
        elapsed = time.monotonic() - started
    counts: dict[int, int] = {}
    for status in statuses:
        counts[status] = counts.get(status, 0) + 1
    return elapsed, counts


def run(mysql_url: str, work: Path, concurrency: int, logins: int, rounds: int) -> dict[str, Any]:
    port = free_port()
    env = environment(mysql_url, work, port, concurrency)
    emails = create_users(env, 10)
    process = subprocess.Popen(
        [sys.executable, "-m", "auth"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("auth did not start")
            time.sleep(0.2)
        # one login first: the idle figure is a process that has served a request
        asyncio.run(burst(url, emails, 1, 0))
        idle_kb = memory_kb(process.pid, "VmRSS")
        results = [asyncio.run(burst(url, emails, logins, r + 1)) for r in range(rounds)]
        peak_kb = memory_kb(process.pid, "VmHWM")
        after_kb = memory_kb(process.pid, "VmRSS")
    finally:
        process.terminate()
        process.wait(20)
    statuses: dict[int, int] = {}
    for _, counts in results:
        for status, count in counts.items():
            statuses[status] = statuses.get(status, 0) + count
    return {
        "concurrency": concurrency,
        "idle_rss_mb": round(idle_kb / 1000, 1),
        "peak_rss_mb": round(peak_kb / 1000, 1),
        "rss_after_mb": round(after_kb / 1000, 1),
        "burst_seconds": [round(elapsed, 2) for elapsed, _ in results],
        "statuses": statuses,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--logins", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=2, help="the bound measured (the default setting)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as work, provide_endpoints() as endpoints:
        bounded = run(endpoints.mysql_url, Path(work), args.concurrency, args.logins, args.rounds)
        unbounded = run(endpoints.mysql_url, Path(work), args.logins, args.logins, args.rounds)

    load = os.getloadavg()
    result = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "logins": args.logins,
        "rounds": args.rounds,
        "load_average": load,
        "cpus": os.cpu_count(),
        "kubernetes_limit_mib": LIMIT_MIB,
        "bounded": bounded,
        "reference_unbounded": unbounded,
    }
    out = ROOT / "bench" / "results" / f"auth-logins-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))

    print(
        f"auth under {args.logins} concurrent logins, {args.rounds} rounds"
        f" (load {load[0]:.1f} on {os.cpu_count()} CPUs; limit {LIMIT_MIB} MiB = {LIMIT_MIB * 1.048576:.0f} MB)"
    )
    print(f"  {'hashing at once':16} {'idle MB':>8} {'peak MB':>8} {'after MB':>9} {'burst s':>18}  answers")
    for row in (bounded, unbounded):
        bursts = "/".join(f"{seconds:.1f}" for seconds in row["burst_seconds"])
        print(
            f"  {row['concurrency']:<16} {row['idle_rss_mb']:8.0f} {row['peak_rss_mb']:8.0f}"
            f" {row['rss_after_mb']:9.0f} {bursts:>18}  {row['statuses']}"
        )
    print(f"  written to {out.relative_to(ROOT)}")
    return 0 if bounded["peak_rss_mb"] < LIMIT_MIB * 1.048576 else 1


if __name__ == "__main__":
    raise SystemExit(main())
