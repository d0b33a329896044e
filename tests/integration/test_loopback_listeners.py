"""Every backing service listens on loopback only, as ``scripts/services`` starts them:
MariaDB and FerretDB (the running ones), and RabbitMQ with its distribution port and epmd (a
private node started with the variables the script starts the shared one with, on ports of its
own, since the shared one must not be restarted under other test sessions)."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from common.listeners import listening, listening_pids

ROOT = Path(__file__).resolve().parents[2]
SERVICES_SCRIPT = ROOT / "scripts" / "services"
RABBITMQ_SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")


def _address(hex_address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    raw = bytes.fromhex(hex_address)
    # /proc/net/tcp*: the address in 32-bit words of the host's (little-endian) byte order
    ordered = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    address = ipaddress.ip_address(ordered)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def listen_addresses(pid: int) -> set[tuple[str, int]]:
    """(address, port) of every socket ``pid`` listens on."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(int(target[8:-1]))
    found = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], int(fields[9])
            if state == "0A" and inode in inodes:
                address, port = local.rsplit(":", 1)
                found.add((str(_address(address)), int(port, 16)))
    return found


def not_on_loopback(pids: set[int]) -> set[tuple[str, int]]:
    assert pids
    return {
        (address, port)
        for pid in pids
        for address, port in listen_addresses(pid)
        if not ipaddress.ip_address(address).is_loopback
    }


@pytest.mark.parametrize(("name", "port"), [("MariaDB", 3306), ("FerretDB", 27017)])
def test_the_database_servers_listen_on_loopback_only(name: str, port: int) -> None:
    if not listening(port):
        pytest.fail(f"{name} does not listen on {port}: start it with `scripts/services up`")
    pids = listening_pids(port)
    if not pids:
        pytest.fail(f"{name}'s process is not visible to this user: run the tests as its owner (or root)")
    assert not_on_loopback(pids) == set(), f"{name} listens beyond loopback"


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _stop(pids: set[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in pids):
        time.sleep(0.2)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def private_rabbitmq(tmp_path: Path) -> Iterator[tuple[int, int, int]]:
    """(AMQP, distribution, epmd) ports of a RabbitMQ node started as ``scripts/services``
    starts the shared one, with its own name, ports and directories."""
    if not RABBITMQ_SERVER.exists() or shutil.which("rabbitmqctl") is None:
        pytest.fail("RabbitMQ is not installed natively: `scripts/services up` installs it")
    script = subprocess.run([SERVICES_SCRIPT, "rabbitmq-env"], capture_output=True, text=True, check=False)
    assert script.returncode == 0, f"scripts/services rabbitmq-env failed: {script.stderr}"
    amqp, distribution, epmd = _free_ports(3)
    (tmp_path / "plugins").write_text("[].\n")
    environment = dict(os.environ)
    environment.update(line.partition("=")[::2] for line in script.stdout.splitlines() if line)
    host = environment.get("RABBITMQ_NODENAME", f"rabbit@{socket.gethostname()}").split("@")[1]
    environment.update(
        RABBITMQ_NODENAME=f"vidmp3-loopback-{uuid.uuid4().hex[:8]}@{host}",
        RABBITMQ_NODE_PORT=str(amqp),
        RABBITMQ_DIST_PORT=str(distribution),
        ERL_EPMD_PORT=str(epmd),
        RABBITMQ_MNESIA_BASE=str(tmp_path / "mnesia"),
        RABBITMQ_LOG_BASE=str(tmp_path / "log"),
        RABBITMQ_ENABLED_PLUGINS_FILE=str(tmp_path / "plugins"),
        RABBITMQ_PID_FILE=str(tmp_path / "pid"),
    )
    started = subprocess.run(
        [RABBITMQ_SERVER, "-detached"], env=environment, capture_output=True, text=True, timeout=120, check=False
    )
    assert started.returncode == 0, started.stderr
    try:
        deadline = time.monotonic() + 90
        while not listening(amqp):
            assert time.monotonic() < deadline, f"the private RabbitMQ did not open {amqp}: see {tmp_path / 'log'}"
            time.sleep(0.5)
        yield amqp, distribution, epmd
    finally:
        _stop(listening_pids(amqp) | listening_pids(distribution))
        _stop(listening_pids(epmd))


def test_rabbitmq_its_distribution_port_and_epmd_listen_on_loopback_only(
    private_rabbitmq: tuple[int, int, int],
) -> None:
    amqp, distribution, epmd = private_rabbitmq
    deadline = time.monotonic() + 30
    while not (listening(distribution) and listening(epmd)) and time.monotonic() < deadline:
        time.sleep(0.2)
    node, epmd_daemon = listening_pids(amqp), listening_pids(epmd)

    assert node == listening_pids(distribution)
    assert epmd_daemon
    assert {port for pid in node for _, port in listen_addresses(pid)} >= {amqp, distribution}
    assert not_on_loopback(node) == set(), "RabbitMQ listens beyond loopback"
    assert not_on_loopback(epmd_daemon) == set(), "epmd listens beyond loopback"
