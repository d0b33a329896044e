"""Slow clients are cut off (raw sockets against a real gateway with short timeouts): a
connection that sends nothing, headers sent a byte at a time, a body trickled in. Clients
that keep to the rates still get through. Every answer says ``X-Content-Type-Options: nosniff``."""

from __future__ import annotations

import dataclasses
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from common.stack import Stack
from tests.e2e.conftest import System
from tests.e2e.test_flow import bearer
from tests.e2e.test_gateway_uploads import free_port

HEADER_SECONDS, BODY_SECONDS, BODY_MIN_BYTES = 2.0, 2.0, 4000
CONNECTIONS = 10
DEADLINE = 20.0
"""Every slow connection must be closed by then: several times the timeouts, for a busy box."""


@pytest.fixture(scope="module")
def strict_gateway(system: System, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second gateway process with short read timeouts, beside the system's."""
    config = dataclasses.replace(
        system.stack.config,
        state_dir=tmp_path_factory.mktemp("strict-gateway"),
        base_port=free_port(),
        extra_env={
            "VIDMP3_HTTP_HEADER_TIMEOUT_SECONDS": str(HEADER_SECONDS),
            "VIDMP3_HTTP_BODY_TIMEOUT_SECONDS": str(BODY_SECONDS),
            "VIDMP3_HTTP_BODY_MIN_BYTES": str(BODY_MIN_BYTES),
            "VIDMP3_AUTH_URL": system.stack.config.url("auth"),
        },
    )
    stack = Stack(config)
    stack.start("gateway")
    try:
        yield config.url("gateway")
    finally:
        stack.stop("gateway")


def connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    connection = socket.create_connection((parts.hostname, parts.port))
    connection.settimeout(0.2)
    return connection


def closed(connection: socket.socket) -> bytes | None:
    """What the server sent before closing, or ``None`` while the connection is open."""
    received = b""
    while True:
        try:
            data = connection.recv(65536)
        except TimeoutError:
            return None
        except ConnectionResetError:
            return received
        if not data:
            return received
        received += data


def trickle_until_closed(connections: list[socket.socket], piece: bytes | None) -> list[bytes]:
    """Send ``piece`` on each open connection every half second (nothing if ``None``) until the
    server has closed them all; fails after ``DEADLINE``."""
    answers: dict[int, bytes] = {}
    deadline = time.monotonic() + DEADLINE
    while len(answers) < len(connections) and time.monotonic() < deadline:
        for index, connection in enumerate(connections):
            if index in answers:
                continue
            if (answer := closed(connection)) is not None:
                answers[index] = answer
            elif piece is not None:
                try:
                    connection.sendall(piece)
                except (BrokenPipeError, ConnectionResetError):
                    answers[index] = b""
        time.sleep(0.5)
    for connection in connections:
        connection.close()
    assert len(answers) == len(connections), f"{len(connections) - len(answers)} slow connections still open"
    return list(answers.values())


def test_connections_that_send_nothing_are_closed(strict_gateway: str) -> None:
    answers = trickle_until_closed([connect(strict_gateway) for _ in range(CONNECTIONS)], None)
    assert all(answer.startswith(b"HTTP/1.1 408") for answer in answers), answers


def test_headers_sent_a_byte_at_a_time_are_cut_off(strict_gateway: str) -> None:
    connections = [connect(strict_gateway) for _ in range(CONNECTIONS)]
    for connection in connections:
        connection.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
    answers = trickle_until_closed(connections, b"X")
    assert all(answer.startswith(b"HTTP/1.1 408") for answer in answers), answers


def test_a_trickled_body_is_cut_off(system: System, strict_gateway: str) -> None:
    token = system.new_user_token()
    connections = [connect(strict_gateway) for _ in range(CONNECTIONS)]
    for connection in connections:
        connection.sendall(
            f"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 10000000\r\n\r\n--b\r\n".encode()
        )
    trickle_until_closed(connections, b"0123456789")  # 20 bytes a second


def test_clients_keeping_to_the_rates_get_through(system: System, strict_gateway: str) -> None:
    # a body over several windows, each bringing more than the minimum
    def steady() -> Iterator[bytes]:
        head = '--b\r\nContent-Disposition: form-data; name="file"; filename="v.mp4"\r\n\r\n'
        yield head.encode()
        for _ in range(int(3 * BODY_SECONDS / 0.25)):
            time.sleep(0.25)
            yield b"\0" * BODY_MIN_BYTES
        yield b"\r\n--b--\r\n"

    response = httpx.post(
        f"{strict_gateway}/v1/jobs",
        headers={**bearer(system.new_user_token()), "Content-Type": "multipart/form-data; boundary=b"},
        content=steady(),
        timeout=60,
    )
    # the whole body arrived: the zeros are no video, so it is refused as such, not cut off
    assert response.status_code == 422, response.text
    assert "not a video or audio file" in response.json()["detail"]

    # a kept-alive connection idle between requests is not a slow header
    with httpx.Client(base_url=strict_gateway) as client:
        assert client.get("/health").status_code == 200
        time.sleep(HEADER_SECONDS / 2)
        assert client.get("/health").status_code == 200


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/health"), ("GET", "/v1/jobs"), ("GET", "/nothing"), ("GET", "/docs/openapi.json")]
)
def test_every_answer_says_nosniff(system: System, method: str, path: str) -> None:
    response = httpx.request(method, f"{system.gateway}{path}")
    assert response.headers["x-content-type-options"] == "nosniff"
