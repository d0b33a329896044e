"""The one-box stack reuses only processes it started itself: anything else on its ports (another
checkout's stack, any program) stops ``python -m common.stack up`` with a message saying which
port, which process, and how to stop it. Real processes and sockets; no backing service needed."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from common.listeners import listening, listening_pids
from common.stack import SERVICES, PortTaken, Stack, StackConfig

ROOT = Path(__file__).resolve().parents[2]

# answers every GET with 200, as a ready service would
_SERVER = textwrap.dedent(
    """
    import http.server, sys
    class Ok(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200); self.send_header("content-length", "0"); self.end_headers()
        def log_message(self, *args): pass
    server = http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Ok)
    print("listening", flush=True)
    server.serve_forever()
    """
)


def _free_block(size: int = len(SERVICES)) -> int:
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = int(probe.getsockname()[1])
        if base + size < 65_000 and not any(listening(port) for port in range(base, base + size)):
            return base
    raise RuntimeError("no free block of ports")


class Listeners:
    """HTTP servers started by the test, each in a session of its own (as services are)."""

    def __init__(self) -> None:
        self.processes: list[subprocess.Popen[str]] = []

    def start(self, port: int, cwd: Path) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, "-c", _SERVER, str(port)],
            cwd=cwd,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.processes.append(process)
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "listening"
        return process


@pytest.fixture
def listeners() -> Iterator[Listeners]:
    started = Listeners()
    yield started
    for process in started.processes:
        process.kill()
        process.wait()


def _up(state_dir: Path, base_port: int) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VIDMP3_STACK_DIR": str(state_dir), "VIDMP3_STACK_BASE_PORT": str(base_port)}
    return subprocess.run(
        [sys.executable, "-m", "common.stack", "up"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_listening_pids_names_the_process_holding_a_port(listeners: Listeners, tmp_path: Path) -> None:
    port = _free_block(1)
    assert not listening(port)
    assert listening_pids(port) == set()
    server = listeners.start(port, tmp_path)
    assert listening(port)
    assert listening_pids(port) == {server.pid}


def test_up_refuses_a_port_held_by_another_process_and_starts_nothing(listeners: Listeners, tmp_path: Path) -> None:
    base = _free_block()
    stranger = listeners.start(base + 2, tmp_path)  # the converter's port

    result = _up(tmp_path / "state", base)

    assert result.returncode == 1, result.stdout + result.stderr
    assert f"port {base + 2} (converter) is in use by pid {stranger.pid}" in result.stderr
    assert f"kill {stranger.pid}" in result.stderr
    assert f"in {tmp_path}" in result.stderr  # where it runs from
    assert f"VIDMP3_STACK_BASE_PORT={base + 100}" in result.stderr
    assert stranger.poll() is None, "it is not ours to stop"
    assert not (tmp_path / "state" / "pids").exists() or not list((tmp_path / "state" / "pids").iterdir())
    assert not [port for port in range(base, base + 5) if port != base + 2 and listening(port)]


def test_another_checkouts_stack_is_named_with_the_way_to_stop_it(listeners: Listeners, tmp_path: Path) -> None:
    base = _free_block()
    other = tmp_path / "other-checkout"
    (other / ".run" / "pids").mkdir(parents=True)
    gateway = listeners.start(base, other)
    (other / ".run" / "pids" / "gateway.pid").write_text(str(gateway.pid))

    result = _up(tmp_path / "state", base)

    assert result.returncode == 1
    assert f"port {base} (gateway) is in use by pid {gateway.pid}" in result.stderr
    assert f"cd {other} && ./run down" in result.stderr


def test_a_service_this_stack_started_is_left_running(listeners: Listeners, tmp_path: Path) -> None:
    base = _free_block()
    stack = Stack(StackConfig(state_dir=tmp_path, base_port=base))
    ours = listeners.start(base, tmp_path)
    (tmp_path / "pids").mkdir()
    (tmp_path / "pids" / "gateway.pid").write_text(str(ours.pid))

    assert stack.own_running(SERVICES) == {"gateway"}
    stack.start("gateway", timeout=10)  # ready already: nothing is started

    assert stack.processes == {}
    assert (tmp_path / "pids" / "gateway.pid").read_text() == str(ours.pid)
    assert listening_pids(base) == {ours.pid}


def test_a_stale_pid_file_is_removed(tmp_path: Path) -> None:
    base = _free_block()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    (tmp_path / "pids").mkdir()
    (tmp_path / "pids" / "gateway.pid").write_text(str(gone.pid))
    stack = Stack(StackConfig(state_dir=tmp_path, base_port=base))

    assert stack.own_running(SERVICES) == set()
    assert not (tmp_path / "pids" / "gateway.pid").exists()


def test_a_live_pid_file_does_not_make_a_strangers_port_ours(listeners: Listeners, tmp_path: Path) -> None:
    """The pid in the file lives (a reused pid, or a service that lost its port), but another
    process holds the port: that is a stranger's."""
    base = _free_block()
    stranger = listeners.start(base + 4, tmp_path)  # the projection's port
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        (tmp_path / "pids").mkdir()
        (tmp_path / "pids" / "projections.pid").write_text(str(bystander.pid))
        stack = Stack(StackConfig(state_dir=tmp_path, base_port=base))

        with pytest.raises(PortTaken, match=rf"port {base + 4} \(projections\) is in use by pid {stranger.pid}"):
            stack.own_running(SERVICES)
    finally:
        bystander.kill()
        bystander.wait()


def test_status_tells_a_strangers_service_from_ours(listeners: Listeners, tmp_path: Path) -> None:
    base = _free_block()
    listeners.start(base, tmp_path)
    env = {**os.environ, "VIDMP3_STACK_DIR": str(tmp_path / "state"), "VIDMP3_STACK_BASE_PORT": str(base)}
    result = subprocess.run(
        [sys.executable, "-m", "common.stack", "status"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    lines = dict(line.split(None, 1) for line in result.stdout.splitlines())
    assert "not this checkout's" in lines["gateway"]
    assert lines["auth"].split()[-1] == "down"
