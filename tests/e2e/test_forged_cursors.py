"""A list cursor is opaque: whatever a client forges in its place is a 400, never a 500."""

from __future__ import annotations

import base64
import random
import uuid

import pytest

from tests.e2e.conftest import System
from tests.e2e.test_gateway_jobs import assert_problem, get


def _cursor(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


_JOB = str(uuid.UUID(int=0))
_RANDOM = random.Random(12)  # noqa: S311 (test data, reproducible)

FORGED = [
    # times that leave the calendar once moved to UTC (the example first)
    _cursor(f"0001-01-01T00:00:00+01:00|{_JOB}".encode()),
    _cursor(f"9999-12-31T23:59:59.999999-01:00|{_JOB}".encode()),
    _cursor(f"0001-01-01T00:00:00+23:59|{_JOB}".encode()),
    # malformed parts
    _cursor(f"2026-01-01T00:00:00|{_JOB}".encode()),  # naive
    _cursor(b"2026-01-01T00:00:00+00:00|not-a-uuid"),
    _cursor(b"2026-01-01T00:00:00+00:00"),
    _cursor(b"|"),
    _cursor(b"\xff\xfe\x00 not utf-8"),
    _cursor("\u2028|\u202e".encode()),
    "!!!not base64!!!",
    "%C3%A9",
    "A" * 5000,
    *(_cursor(_RANDOM.randbytes(_RANDOM.randrange(1, 120))) for _ in range(20)),
]


@pytest.fixture(scope="module")
def token(system: System) -> str:
    """A token of this module's own: the shared ones may expire before later modules use them."""
    return system.new_user_token()


@pytest.mark.parametrize("cursor", FORGED, ids=range(len(FORGED)))
def test_a_forged_cursor_is_a_400(system: System, token: str, cursor: str) -> None:
    problem = assert_problem(get(system, token, f"/v1/jobs?cursor={cursor}"), 400)
    assert problem["errors"][0]["field"] == "cursor"


@pytest.mark.parametrize(
    "moment", ["0001-01-01T00:00:00-01:00", "9999-12-31T23:59:59.999+00:00", "2026-01-01T00:00:00+00:00"]
)
def test_a_well_formed_cursor_far_in_time_is_an_empty_or_full_page(system: System, token: str, moment: str) -> None:
    response = get(system, token, f"/v1/jobs?cursor={_cursor(f'{moment}|{_JOB}'.encode())}")
    assert response.status_code == 200, response.text
