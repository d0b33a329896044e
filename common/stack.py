"""Run the five services on one box, each as its own process: for the demo, tests and operators.

    python -m common.stack up       start them (detached) with the development settings
    python -m common.stack status   which answer /health, and whether this checkout started them
    python -m common.stack down     stop them

Backing services (RabbitMQ, MariaDB, FerretDB) come from ``scripts/services up``. The services
listen on 8000-8004, their ``/metrics`` on 8005-8009 (``VIDMP3_STACK_BASE_PORT`` moves them).
A service counts as running only when the process holding its port is the one this checkout
started (its pid file under ``.run/pids``); anything else on a port stops ``up`` with a
message saying what holds it:
another checkout's stack answers ``/health`` just as well, with other code and settings.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from common.listeners import Listener, describe, listening, listening_pids

__all__ = ["SERVICES", "PortTaken", "Stack", "StackConfig"]

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

    def metrics_port(self, service: str) -> int:
        """Where ``service``'s ``/metrics`` listens: the block of five after the services'."""
        return self.port(service) + len(SERVICES)

    def metrics_url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.metrics_port(service)}/metrics"

    @property
    def signing_key_file(self) -> Path:
        return self.state_dir / "auth-signing-key.pem"

    def environment(self, service: str) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith("VIDMP3_")}
        env.update(
            VIDMP3_PORT=str(self.port(service)),
            VIDMP3_METRICS_PORT=str(self.metrics_port(service)),
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
        if service == "auth":
            # logins reach auth through the gateway, which connects from loopback here
            env["VIDMP3_TRUSTED_PROXIES"] = "127.0.0.1/32,::1/128"
        env.update(self.extra_env)
        return env


class PortTaken(RuntimeError):
    """A port of the stack is held by a process this stack did not start."""


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
        """Start ``services`` (all by default) and wait until each is ready.

        One already running from this stack (its pid file names the process holding its
        port) is left running; a port held by anything else raises ``PortTaken`` before
        anything starts.
        """
        wanted = services or SERVICES
        running = self.own_running(wanted)
        self.ensure_signing_key()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        (self.config.state_dir / "pids").mkdir(parents=True, exist_ok=True)
        for service in wanted:
            if service in running:
                continue
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
        for service in wanted:
            self._wait_healthy(service, timeout)

    def own_pid(self, service: str) -> int | None:
        """The live process this stack started for ``service``, if any (a stale pid file,
        whose process is gone, is removed)."""
        pid = self._pid(service)
        if pid is None:
            return None
        process = self.processes.get(service)
        if process is not None and process.poll() is not None:  # poll() reaps it, if killed
            self.processes.pop(service)
            self._pid_file(service).unlink(missing_ok=True)
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            self._pid_file(service).unlink(missing_ok=True)
            return None
        except PermissionError:  # the pid was reused by another user's process
            return None
        if _zombie(pid):  # killed, not yet reaped by its parent: it answers kill(pid, 0) still
            self._pid_file(service).unlink(missing_ok=True)
            return None
        return pid

    def own_running(self, services: Iterable[str] = SERVICES) -> set[str]:
        """Which of ``services`` run from this stack; raises ``PortTaken`` naming every port
        held by another process."""
        running, taken = set(), []
        for service in services:
            port = self.config.port(service)
            own = self.own_pid(service)
            holders = listening_pids(port)
            if own is not None and holders and all(_in_group(pid, own) for pid in holders):
                running.add(service)
            elif own is not None and not listening(port):
                running.add(service)  # still starting: the caller waits for it to be ready
            elif listening(port) and not (own is None and not holders and _released(port)):
                taken.append(self._taken_message(service, port, listening_pids(port)))
        if taken:
            raise PortTaken("\n".join(taken) + self._way_out())
        return running

    def _taken_message(self, service: str, port: int, holders: set[int]) -> str:
        if not holders:
            return (
                f"port {port} ({service}) is in use by a process this user cannot see "
                f"(another user's, or a container's): find it with `ss -ltnp 'sport = :{port}'` and stop it"
            )
        lines = []
        for holder in sorted(holders):
            listener = describe(holder)
            where = f" in {listener.cwd}" if listener.cwd else ""
            lines.append(
                f"port {port} ({service}) is in use by pid {holder} ({listener.command}{where}), "
                f"which this checkout did not start: stop it with `kill {holder}`"
                + _other_stack_hint(listener, service)
            )
        return "\n".join(lines)

    def _way_out(self) -> str:
        return (
            f"\n(this checkout's pid files are in {self.config.state_dir / 'pids'}; to run beside the other "
            f"stack instead, pick other ports: VIDMP3_STACK_BASE_PORT={self.config.base_port + 100})"
        )

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


def _released(port: int, within: float = 10.0) -> bool:
    """Whether a port held by no process this user can see is let go of within ``within``
    seconds: a killed multi-threaded service shows as a zombie while its other threads still
    exit, and its socket stays open till the last one is gone (its fds are unreadable then)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not listening(port):
            return True
        if listening_pids(port):
            return False
        time.sleep(0.1)
    return not listening(port)


def _zombie(pid: int) -> bool:
    """Whether ``pid`` has exited and waits for its parent to reap it (state Z or X in /proc)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # gone meanwhile, or no /proc: kill(pid, 0) is all there is
        return False
    # "pid (command) state ...": the command may hold spaces and parentheses
    return stat.rpartition(")")[2].split()[:1] in (["Z"], ["X"])


def _in_group(pid: int, leader: int) -> bool:
    """Whether ``pid`` is ``leader`` or runs in its process group (services start in their own)."""
    if pid == leader:
        return True
    try:
        return os.getpgid(pid) == leader
    except ProcessLookupError:
        return False


def _other_stack_hint(listener: Listener, service: str) -> str:
    """How to stop it when it is another checkout's stack (its pid file names it)."""
    if listener.cwd is None:
        return ""
    pid_file = listener.cwd / ".run" / "pids" / f"{service}.pid"
    with contextlib.suppress(OSError, ValueError):
        if int(pid_file.read_text()) == listener.pid:
            return f", or stop that checkout's stack: `cd {listener.cwd} && ./run down`"
    return ""


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
            if _zombie(pid):
                return True
        time.sleep(0.1)
    return False


def _status(stack: Stack, service: str) -> str:
    if not stack.healthy(service):
        return "down"
    try:
        return "up" if service in stack.own_running([service]) else "up (?)"
    except PortTaken:
        return "up, but not this checkout's: `python -m common.stack up` says what holds the port"


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "status"
    config = StackConfig(
        state_dir=Path(os.environ.get("VIDMP3_STACK_DIR", ".run")).resolve(),
        base_port=int(os.environ.get("VIDMP3_STACK_BASE_PORT", "8000")),
    )
    stack = Stack(config)
    if command == "up":
        try:
            stack.start(*SERVICES)
        except PortTaken as taken:
            print(f"not starting the stack:\n{taken}", file=sys.stderr)
            return 1
        print(f"up: gateway {stack.config.url('gateway')} (docs at /docs), logs in {stack.log_dir}")
    elif command == "down":
        # every process started for the stack, the demo's SMTP server included
        extra = [pid.stem for pid in (stack.config.state_dir / "pids").glob("*.pid") if pid.stem not in SERVICES]
        stack.stop(*SERVICES, *extra)
        print("down")
    elif command == "status":
        for service in SERVICES:
            print(f"{service:12} {stack.config.url(service):24} {_status(stack, service)}")
    else:
        print("usage: python -m common.stack up|down|status", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
