"""Run the five services on one box, each as its own process: for the demo, tests and operators.

    python -m common.stack up       start them (detached) with the development settings
    python -m common.stack status   which answer /health
    python -m common.stack down     stop them

Backing services (RabbitMQ, MariaDB, FerretDB) come from ``scripts/services up``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

__all__ = ["SERVICES", "Stack", "StackConfig"]

SERVICES = ("auth", "projections", "converter", "notifier", "gateway")


@dataclass
class StackConfig:
    """Where the services listen and what they use; every field becomes a ``VIDMP3_*`` variable."""

    state_dir: Path
    base_port: int = 8000
    rabbit_url: str = "amqp://guest:guest@127.0.0.1:5672/vidmp3"
    mongo_url: str = "mongodb://127.0.0.1:27017/"
    mongo_database: str = "vidmp3"
    mysql_url: str = "mysql://vidmp3:vidmp3-dev@127.0.0.1:3306/vidmp3?ssl-mode=disabled"
    smtp_port: int = 1025
    extra_env: Mapping[str, str] = field(default_factory=dict)

    def port(self, service: str) -> int:
        return self.base_port + ("gateway", "auth", "converter", "notifier", "projections").index(service)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.port(service)}"

    @property
    def signing_key_file(self) -> Path:
        return self.state_dir / "auth-signing-key.pem"

    def environment(self, service: str) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith("VIDMP3_")}
        env.update(
            VIDMP3_PORT=str(self.port(service)),
            VIDMP3_RABBIT_URL=self.rabbit_url,
            VIDMP3_MONGO_URL=self.mongo_url,
            VIDMP3_MONGO_DATABASE=self.mongo_database,
            VIDMP3_MYSQL_URL=self.mysql_url,
            VIDMP3_SIGNING_KEY_FILE=str(self.signing_key_file),
            VIDMP3_AUTH_URL=self.url("auth"),
            VIDMP3_SMTP_PORT=str(self.smtp_port),
            VIDMP3_PUBLIC_URL=self.url("gateway"),
            PYTHONUNBUFFERED="1",
        )
        env.update(self.extra_env)
        return env


class Stack:
    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    @property
    def log_dir(self) -> Path:
        return self.config.state_dir / "logs"

    def _pid_file(self, service: str) -> Path:
        return self.config.state_dir / "pids" / f"{service}.pid"

    def ensure_signing_key(self) -> None:
        key = self.config.signing_key_file
        if not key.exists():
            subprocess.run(  # noqa: S603 (our own interpreter and module)
                [sys.executable, "-m", "auth", "generate-key", str(key)], check=True, capture_output=True
            )

    def start(self, *services: str, timeout: float = 60.0) -> None:
        """Start ``services`` (all by default) and wait until each answers ``/health``."""
        self.ensure_signing_key()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        (self.config.state_dir / "pids").mkdir(parents=True, exist_ok=True)
        for service in services or SERVICES:
            log = (self.log_dir / f"{service}.log").open("ab")
            process = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
                [sys.executable, "-m", service],
                env=self.config.environment(service),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
            self.processes[service] = process
            self._pid_file(service).write_text(str(process.pid))
        for service in services or SERVICES:
            self._wait_healthy(service, timeout)

    def _wait_healthy(self, service: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        process = self.processes.get(service)
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"{service} exited with {process.returncode}: see {self.log_dir / service}.log")
            try:
                if httpx.get(f"{self.config.url(service)}/ready", timeout=2.0).status_code < 300:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{service} was not ready within {timeout:.0f} s: see {self.log_dir / service}.log")

    def stop(self, *services: str, sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
        """Stop ``services`` (all by default), with SIGKILL for any that outlive ``timeout``."""
        for service in services or SERVICES:
            pid = self._pid(service)
            if pid is not None:
                _signal(pid, sig)
        for service in services or SERVICES:
            pid = self._pid(service)
            if pid is not None and not _wait_gone(pid, self.processes.get(service), timeout):
                _signal(pid, signal.SIGKILL)
                _wait_gone(pid, self.processes.get(service), 5.0)
            self._pid_file(service).unlink(missing_ok=True)
            self.processes.pop(service, None)

    def _pid(self, service: str) -> int | None:
        if service in self.processes:
            return self.processes[service].pid
        try:
            return int(self._pid_file(service).read_text())
        except (FileNotFoundError, ValueError):
            return None

    def healthy(self, service: str) -> bool:
        try:
            return httpx.get(f"{self.config.url(service)}/health", timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)


def _wait_gone(pid: int, process: subprocess.Popen[bytes] | None, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None:
            if process.poll() is not None:
                return True
        else:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
        time.sleep(0.1)
    return False


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "status"
    stack = Stack(StackConfig(state_dir=Path(os.environ.get("VIDMP3_STACK_DIR", ".run")).resolve()))
    if command == "up":
        running = [service for service in SERVICES if stack.healthy(service)]
        stack.start(*(service for service in SERVICES if service not in running))
        print(f"up: gateway {stack.config.url('gateway')} (docs at /docs), logs in {stack.log_dir}")
    elif command == "down":
        # every process started for the stack, the demo's SMTP server included
        extra = [pid.stem for pid in (stack.config.state_dir / "pids").glob("*.pid") if pid.stem not in SERVICES]
        stack.stop(*SERVICES, *extra)
        print("down")
    elif command == "status":
        for service in SERVICES:
            print(f"{service:12} {stack.config.url(service):24} {'up' if stack.healthy(service) else 'down'}")
    else:
        print("usage: python -m common.stack up|down|status", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
