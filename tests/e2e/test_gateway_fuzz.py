"""Property-based fuzzing of a running gateway from its own OpenAPI document (schemathesis).

Every operation gets a few hundred generated requests, valid and invalid ones (wrong types,
missing or extra parameters, odd headers), sent with a valid token. The gateway must never
answer 5xx, and every answer must be what the document says: a documented status, its
media type, its schema (problem+json for every error) and its headers. Operations on a job
or an upload are sent half the time to a real one (a converted job, a pending upload), so
the fuzzing also reaches downloads with odd ranges and validators, cancels and appends.
"""

from __future__ import annotations

import os
import time
import zlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from requests.adapters import HTTPAdapter
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from gateway.app import create_app
from gateway.settings import GatewaySettings
from tests.e2e.conftest import System
from tests.e2e.test_flow import bearer, upload, wait_terminal

EXAMPLES = int(os.environ.get("VIDMP3_FUZZ_EXAMPLES", "300"))
_TOKEN_REUSE_SECONDS = 600.0
"""Generated requests per operation (hypothesis may stop sooner when an operation's input
space runs out, as it does for the parameterless ones)."""

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    ignored_auth,
]


@schemathesis.serializer("application/offset+octet-stream")
def _raw_bytes(ctx: Any, value: Any) -> bytes:
    """tus PATCH bodies: the generated value's bytes, as they are."""
    if isinstance(value, bytes):
        return value
    return str(value).encode("utf-8", "surrogatepass")


class _OtherClient(HTTPAdapter):
    """Requests from 127.0.0.2: the auth service throttles logins per client address, and the
    fuzzed logins must not use up the other tests' allowance."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = ("127.0.0.2", 0)
        super().init_poolmanager(*args, **kwargs)


class Fuzzing:
    def __init__(self, system: System, credentials: tuple[str, str], real_ids: dict[str, str]) -> None:
        self.system, self._credentials = system, credentials
        self._token, self._token_at = system.login(*credentials), time.monotonic()
        self.real_ids = real_ids
        self.session = requests.Session()
        self.session.mount("http://", _OtherClient())
        self.calls: Counter[str] = Counter()
        self.statuses: Counter[tuple[str, int]] = Counter()

    @property
    def token(self) -> str:
        """A token that has not expired: on a busy machine the fuzzing outlasts one (15 min)."""
        if time.monotonic() - self._token_at > _TOKEN_REUSE_SECONDS:
            self._token, self._token_at = self.system.login(*self._credentials), time.monotonic()
        return self._token


@pytest.fixture(scope="module")
def fuzzing(system: System, sample_video: tuple[Path, float]) -> Iterator[Fuzzing]:
    credentials = system.create_user()
    token = system.login(*credentials)
    job_id = upload(system, token, "fuzzed.mp4", sample_video[0].read_bytes()).json()["job_id"]
    converted = wait_terminal(system, token, job_id)
    assert converted["state"] == "notified"
    created = httpx.post(
        f"{system.gateway}/v1/uploads",
        headers={**bearer(token), "Tus-Resumable": "1.0.0", "Upload-Length": str(10**6)},
    )
    assert created.status_code == 201, created.text
    real_ids = {
        "job_id": job_id,
        "upload_id": created.headers["location"].rsplit("/", 1)[1],
        "token": converted["mp3"]["download_url"].rsplit("/", 1)[1],  # a signed download link's
    }
    state = Fuzzing(system, credentials, real_ids)
    yield state
    state.session.close()


def _document() -> dict[str, Any]:
    """The gateway's OpenAPI document, as its code builds it (building connects to nothing)."""
    return create_app(GatewaySettings()).openapi_schema.to_schema()


schema = schemathesis.openapi.from_dict(_document())


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_the_gateway_answers_every_request_as_documented(case: Any, fuzzing: Fuzzing) -> None:
    # half the cases aim at real resources (chosen by the case, so reruns are stable); never
    # deletes, which would leave the rest of the run nothing real to aim at
    if case.method != "DELETE" and zlib.crc32(repr(case).encode()) % 2 == 0:
        for name, real in fuzzing.real_ids.items():
            if name in (case.path_parameters or {}):
                case.path_parameters[name] = real
    headers = {} if case.operation.path == "/v1/auth/login" else bearer(fuzzing.token)
    response = case.call_and_validate(
        base_url=fuzzing.system.gateway, session=fuzzing.session, headers=headers, checks=CHECKS, timeout=30
    )
    fuzzing.calls[case.operation.label] += 1
    fuzzing.statuses[(case.operation.label, response.status_code)] += 1


def test_the_fuzzing_reached_every_operation_and_the_gateway_still_works(fuzzing: Fuzzing) -> None:
    """Runs after the fuzzing: it covered everything, and left the service healthy."""
    served = httpx.get(f"{fuzzing.system.gateway}/docs/openapi.json").json()
    assert served == _document()  # what was fuzzed is what the gateway serves
    operations = {result.ok().label for result in schema.get_all_operations()}
    assert set(fuzzing.calls) == operations
    print("\nrequests per operation:", dict(sorted(fuzzing.calls.items())))
    print("answers:", dict(sorted(fuzzing.statuses.items())))
    # operations with inputs to vary got hundreds of requests
    busy = [label for label, count in fuzzing.calls.items() if count >= min(EXAMPLES, 200)]
    assert len(busy) >= len(operations) - 2, fuzzing.calls
    job = httpx.get(f"{fuzzing.system.gateway}/v1/jobs/{fuzzing.real_ids['job_id']}", headers=bearer(fuzzing.token))
    assert job.status_code in (200, 404)  # the fuzzing may have deleted it
    assert httpx.get(f"{fuzzing.system.gateway}/ready").status_code == 200
