"""``common.stack`` starts a service again right after it was killed with SIGKILL, though the
killed process lingers as a zombie (its parent has not reaped it) and still answers
``kill(pid, 0)``: it used to count as "still starting", and ``up`` waited 60 s, then failed."""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from common.listeners import listening
from common.stack import Stack, StackConfig
from tests.services import Endpoints


def _free_block(size: int = 5) -> int:
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = int(probe.getsockname()[1])
        if base + size < 65_000 and not any(listening(port) for port in range(base, base + size)):
            return base
    raise RuntimeError("no free block of ports")


@pytest.fixture
def config(endpoints: Endpoints, mongo_database_name: str, tmp_path: Path) -> StackConfig:
    return StackConfig(
        state_dir=tmp_path / "stack",
        base_port=_free_block(),
        rabbit_url=endpoints.rabbit_url,
        mongo_url=endpoints.mongo_url,
        mongo_database=mongo_database_name,
        mysql_url=endpoints.mysql_url,
    )


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]


def _killed(stack: Stack, service: str) -> int:
    """SIGKILL ``service`` from outside the stack (as a chaos run does), leaving a zombie."""
    pid = stack.own_pid(service)
    assert pid is not None
    os.killpg(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while _state(pid) != "Z" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _state(pid) == "Z"  # this process started it and has not reaped it
    return pid


def test_the_same_stack_starts_a_killed_service_again(config: StackConfig) -> None:
    stack = Stack(config)
    stack.start("projections")
    try:
        old = _killed(stack, "projections")

        started = time.monotonic()
        stack.start("projections", timeout=45)

        assert stack.own_pid("projections") not in (None, old)
        assert stack.healthy("projections")
        assert time.monotonic() - started < 45
    finally:
        stack.stop("projections")


def test_a_new_stack_up_does_not_take_a_zombie_for_a_starting_service(config: StackConfig) -> None:
    """``python -m common.stack up`` in another process, while the killed one's parent lives on."""
    first = Stack(config)
    first.start("projections")
    try:
        old = _killed(first, "projections")
        up = subprocess.run(
            [sys.executable, "-c", "from pathlib import PosixPath; from common.stack import Stack, StackConfig; "
             f"Stack(StackConfig(**{dataclasses.asdict(config)!r})).start('projections', timeout=45)"],
            capture_output=True, text=True, timeout=120, check=False, env=config.environment("projections"),
        )  # fmt: skip
        assert up.returncode == 0, up.stderr[-2000:]
        second = Stack(config)
        assert second.own_pid("projections") not in (None, old)
        assert second.healthy("projections")
    finally:
        Stack(config).stop("projections")
        first.processes.pop("projections", None)
