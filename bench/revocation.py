"""How soon an access token stops once its rights are taken away (issue 12, finding 7).

    uv run python bench/revocation.py [--trials 10] [--poll-seconds 1.0]

Starts auth and a gateway on free ports, then for each kind of revocation (an admin disables
the user, deletes the user, the user changes the password, the user logs out, the user revokes
an API key) and each trial: logs a fresh user in, keeps calling ``GET /v1/jobs`` with the access
token (or the key, used once before so the gateway keeps auth's answer about it) every 20 ms,
takes the rights away, and records the time from sending that request to the first 401.

The reference measured in the same run is the round trip of one ``GET /v1/jobs`` (the floor
any revocation could reach), beside the gateway's configured poll interval (the expected
bound). Also counts the requests the gateway made to auth's revocation log against the API
requests it answered meanwhile: the log is read per interval, not per request. Without this
mechanism (main before it) a token outlived each of these for its whole lifetime: 900 s.
Prints a table and writes ``bench/results/revocation-<time>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common.stack import Stack, StackConfig  # noqa: E402
from tests.services import provide_endpoints  # noqa: E402

PASSWORD = "correct horse battery staple"  # noqa: S105 (made up for the run)
KINDS = ("disable", "delete", "password", "logout", "api key")


def free_port_block(size: int) -> int:
    for base in range(21_000, 30_000, 10):
        try:
            for port in range(base, base + size):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise RuntimeError("no free block of ports")


def user_id_of(token: str) -> str:
    payload = token.split(".")[1]
    return str(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sub"])


def revocation_polls(metrics: str) -> int:
    """Requests auth answered on ``/v1/revocations``, from its Prometheus text."""
    pattern = r'^http_requests_total\{[^}]*path="/v1/revocations"[^}]*\} ([0-9.e+]+)$'
    return int(sum(float(value) for value in re.findall(pattern, metrics, re.MULTILINE)))


class Bench:
    def __init__(self, http: httpx.AsyncClient, gateway: str, auth: str) -> None:
        self.http, self.gateway, self.auth = http, gateway, auth
        self.admin: dict[str, str] = {}
        self.api_requests = 0

    async def new_user(self, *, admin: bool = False) -> tuple[str, dict[str, Any]]:
        email = f"bench-{uuid.uuid4().hex[:12]}@example.com"
        if admin:
            return email, {}
        created = await self.http.post(
            f"{self.auth}/v1/users", json={"email": email, "password": PASSWORD}, headers=self.admin
        )
        created.raise_for_status()
        return email, await self.login(email)

    async def login(self, email: str) -> dict[str, Any]:
        response = await self.http.post(f"{self.gateway}/v1/auth/login", json={"email": email, "password": PASSWORD})
        response.raise_for_status()
        return dict(response.json())

    async def jobs(self, token: str) -> int:
        self.api_requests += 1
        response = await self.http.get(f"{self.gateway}/v1/jobs", headers={"Authorization": f"Bearer {token}"})
        return response.status_code

    def revoker(self, kind: str, session: dict[str, Any]) -> Callable[[], Awaitable[httpx.Response]]:
        token = session["access_token"]
        user = user_id_of(token)
        return {
            "disable": lambda: self.http.post(f"{self.auth}/v1/users/{user}/disable", headers=self.admin),
            "delete": lambda: self.http.delete(f"{self.auth}/v1/users/{user}", headers=self.admin),
            "password": lambda: self.http.post(
                f"{self.gateway}/v1/auth/password",
                json={"current_password": PASSWORD, "new_password": "another long passphrase"},
                headers={"Authorization": f"Bearer {token}"},
            ),
            "logout": lambda: self.http.post(
                f"{self.gateway}/v1/auth/logout", json={"refresh_token": session["refresh_token"]}
            ),
            "api key": lambda: self.http.delete(
                f"{self.gateway}/v1/keys/{session.get('key_id')}", headers={"Authorization": f"Bearer {token}"}
            ),
        }[kind]

    async def trial(self, kind: str) -> tuple[float, float]:
        """Seconds from sending the revocation, and from its answer, to the token's first 401."""
        _, session = await self.new_user()
        token = session["access_token"]
        if kind == "api key":
            created = await self.http.post(
                f"{self.gateway}/v1/keys", json={"name": "bench"}, headers={"Authorization": f"Bearer {token}"}
            )
            session["key_id"] = created.raise_for_status().json()["id"]
            token = created.json()["key"]
        if await self.jobs(token) != 200:
            raise RuntimeError("a fresh token was refused")
        revoke = self.revoker(kind, session)
        started = time.monotonic()
        answer = await revoke()
        answered = time.monotonic()
        if answer.status_code >= 300:
            raise RuntimeError(f"{kind} answered {answer.status_code}: {answer.text}")
        while time.monotonic() - started < 60:
            if await self.jobs(token) == 401:
                return time.monotonic() - started, time.monotonic() - answered
            await asyncio.sleep(0.02)
        raise RuntimeError(f"the token still worked 60 s after {kind}")

    async def round_trip(self, token: str, count: int = 50) -> float:
        times = []
        for _ in range(count):
            started = time.monotonic()
            await self.jobs(token)
            times.append(time.monotonic() - started)
        return statistics.median(times)


async def measure(gateway: str, auth: str, auth_metrics: str, trials: int) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=30) as http:
        bench = Bench(http, gateway, auth)
        admin_email = os.environ["BENCH_ADMIN_EMAIL"]
        bench.admin = {"Authorization": f"Bearer {(await bench.login(admin_email))['access_token']}"}
        _, probe = await bench.new_user()
        rtt = await bench.round_trip(probe["access_token"])
        polls_before = revocation_polls((await http.get(auth_metrics)).text)
        requests_before, started = bench.api_requests, time.monotonic()
        results = {kind: [await bench.trial(kind) for _ in range(trials)] for kind in KINDS}
        sent = {kind: [pair[0] for pair in pairs] for kind, pairs in results.items()}
        answered = {kind: [pair[1] for pair in pairs] for kind, pairs in results.items()}
        elapsed = time.monotonic() - started
        polls = revocation_polls((await http.get(auth_metrics)).text) - polls_before
    return {
        "round_trip_s": rtt,
        "seconds_to_401": sent,
        "seconds_from_answer_to_401": answered,
        "elapsed_s": elapsed,
        "revocation_log_reads": polls,
        "api_requests": bench.api_requests - requests_before,
    }


def create_admin(config: StackConfig) -> str:
    email = f"bench-admin-{uuid.uuid4().hex[:8]}@example.com"
    subprocess.run(  # noqa: S603 (our own interpreter and module)
        [sys.executable, "-m", "auth", "create-user", email, "--admin", "--password-stdin"],
        input=PASSWORD + "\n",
        text=True,
        env=config.environment("auth"),
        check=True,
        capture_output=True,
    )
    return email


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--poll-seconds", type=float, default=1.0, help="the gateway's VIDMP3_REVOCATION_POLL_SECONDS")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as work, provide_endpoints() as endpoints:
        config = StackConfig(
            state_dir=Path(work),
            base_port=free_port_block(10),  # the services', then their /metrics listeners
            rabbit_url=endpoints.rabbit_url,
            mongo_url=endpoints.mongo_url,
            mongo_database=f"vidmp3_bench_{uuid.uuid4().hex[:8]}",
            mysql_url=endpoints.mysql_url,
            extra_env={"VIDMP3_REVOCATION_POLL_SECONDS": str(args.poll_seconds)},
        )
        stack = Stack(config)
        stack.start("auth", "gateway")
        try:
            os.environ["BENCH_ADMIN_EMAIL"] = create_admin(config)
            measured = asyncio.run(
                measure(config.url("gateway"), config.url("auth"), config.metrics_url("auth"), args.trials)
            )
        finally:
            stack.stop("auth", "gateway")

    load = os.getloadavg()
    summary = {
        kind: {
            "median_s": round(statistics.median(times), 3),
            "max_s": round(max(times), 3),
            "min_s": round(min(times), 3),
            "median_from_answer_s": round(statistics.median(measured["seconds_from_answer_to_401"][kind]), 3),
        }
        for kind, times in measured["seconds_to_401"].items()
    }
    result = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "trials": args.trials,
        "poll_seconds": args.poll_seconds,
        "load_average": load,
        "cpus": os.cpu_count(),
        "summary": summary,
        **measured,
    }
    out = ROOT / "bench" / "results" / f"revocation-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))

    print(
        f"time from taking rights away to the token's first 401, {args.trials} trials each,"
        f" gateway polling every {args.poll_seconds} s (load {load[0]:.1f} on {os.cpu_count()} CPUs)"
    )
    print(f"  {'revocation':12} {'median s':>9} {'min s':>7} {'max s':>7} {'median s after its answer':>26}")
    for kind, row in summary.items():
        print(
            f"  {kind:12} {row['median_s']:9.3f} {row['min_s']:7.3f} {row['max_s']:7.3f}"
            f" {row['median_from_answer_s']:26.3f}"
        )
    print(f"  reference: one GET /v1/jobs round trip {measured['round_trip_s'] * 1000:.1f} ms; before: 900 s")
    print(
        f"  auth's revocation log was read {measured['revocation_log_reads']} times while the gateway answered"
        f" {measured['api_requests']} API requests ({measured['elapsed_s']:.0f} s)"
    )
    print(f"  written to {out.relative_to(ROOT)}")
    worst = max(row["max_s"] for row in summary.values())
    return 0 if worst < 10 * args.poll_seconds + 5 else 1


if __name__ == "__main__":
    raise SystemExit(main())
