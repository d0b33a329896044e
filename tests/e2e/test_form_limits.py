"""A multipart upload's fields are bounded in number, in bytes and in header size, and a
refusal stays small: a body of many small fields is not held, and not echoed back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import System
from tests.e2e.test_flow import bearer
from tests.e2e.test_gateway_uploads import assert_problem

BOUNDARY = "f0rmb0undary"
HEADERS = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}


def field(name: str, value: bytes) -> bytes:
    return f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + value + b"\r\n"


def file_part(data: bytes) -> bytes:
    head = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="v.mp4"\r\n\r\n'
    return head.encode() + data + f"\r\n--{BOUNDARY}--\r\n".encode()


def many_fields(count: int, size: int, video: bytes) -> Iterator[bytes]:
    """``f0``..``f<count>`` of ``size`` bytes each, then the file: streamed, never built whole."""
    value = b"x" * size
    for start in range(0, count, 1000):
        yield b"".join(field(f"f{n}", value) for n in range(start, min(start + 1000, count)))
    yield file_part(video)


@pytest.fixture(scope="module")
def token(system: System) -> str:
    return system.new_user_token()


def post(system: System, token: str, content: bytes | Iterator[bytes]) -> httpx.Response:
    return httpx.post(f"{system.gateway}/v1/jobs", content=content, headers={**bearer(token), **HEADERS}, timeout=120)


def test_a_body_of_many_small_fields_is_refused_at_the_limit_with_a_small_answer(
    system: System, token: str, sample_video: tuple[Path, float]
) -> None:
    # 20 MB of 1 kB fields: the 150 MB body, scaled down (bench/form_fields.py sends it whole)
    response = post(system, token, many_fields(20_000, 1000, sample_video[0].read_bytes()))

    problem = assert_problem(response, 413)
    assert "The form's fields hold more than 16 KiB together" in problem["detail"]
    assert len(response.content) < 2048
    assert httpx.get(f"{system.gateway}/health").status_code == 200


def test_a_body_of_many_tiny_fields_is_refused_at_the_count(
    system: System, token: str, sample_video: tuple[Path, float]
) -> None:
    response = post(system, token, many_fields(20_000, 1, sample_video[0].read_bytes()))

    problem = assert_problem(response, 413)
    assert "The form has more than 32 fields" in problem["detail"]
    assert len(response.content) < 2048


def test_fields_over_their_bytes_together_are_refused(
    system: System, token: str, sample_video: tuple[Path, float]
) -> None:
    body = b"".join(field(f"f{n}", b"y" * 1000) for n in range(20)) + file_part(sample_video[0].read_bytes())

    problem = assert_problem(post(system, token, body), 413)
    assert "The form's fields hold more than 16 KiB together" in problem["detail"]


def test_a_part_with_oversized_headers_is_refused(system: System, token: str, sample_video: tuple[Path, float]) -> None:
    body = field("n" * 10_000, b"1") + file_part(sample_video[0].read_bytes())

    response = post(system, token, body)
    problem = assert_problem(response, 400)
    assert "header size" in problem["errors"][0]["message"]
    assert len(response.content) < 2048


def test_a_422_lists_at_most_twenty_errors(system: System, token: str, sample_video: tuple[Path, float]) -> None:
    body = b"".join(field(f"unknown_{n}_" + "z" * 200, b"1") for n in range(30)) + file_part(
        sample_video[0].read_bytes()
    )

    response = post(system, token, body)
    problem = assert_problem(response, 422)
    assert len(problem["errors"]) == 20
    assert "30 errors, the first 20 listed" in problem["detail"]
    assert all(len(error["field"]) <= 101 for error in problem["errors"])
    assert len(response.content) < 8192


def test_a_form_within_the_limits_is_accepted(system: System, token: str, sample_video: tuple[Path, float]) -> None:
    body = field("bitrate_kbps", b"128") + field("channels", b"mono") + file_part(sample_video[0].read_bytes())

    response = post(system, token, body)
    assert response.status_code == 202, response.text
