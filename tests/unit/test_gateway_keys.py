"""API keys at the gateway: auth's answer kept a few seconds (and forgotten after), a revoked key
refused from the revocation log whatever is kept, scopes by route, and each key's rate. Auth is
stood in for by an ``httpx.MockTransport`` answering ``POST /v1/keys/verify``."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from litestar import Litestar, get, head, post
from litestar.di import NamedDependency, Provide
from litestar.testing import TestClient

from auth.tokens import Principal
from gateway.apikeys import KeyLimiter, KeyRefused, KeysUnchecked, KeyVerifier, is_api_key, key_id_of
from gateway.identity import Authenticator, current_principal
from gateway.revocations import RevocationFeed

NOW = 1_800_000_000.0
KEY = "vmk_0123456789ab_" + "s" * 43
OTHER = "vmk_ba9876543210_" + "t" * 43


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


class Auth:
    """Auth's ``POST /v1/keys/verify`` over a table of keys, and its revocation log."""

    def __init__(self) -> None:
        self.keys: dict[str, dict[str, Any]] = {}
        self.asked = 0
        self.down = False
        self.revocations: list[dict[str, Any]] = []

    def add(self, key: str, scopes: list[str], expires_at: float | None = None) -> None:
        key_id = key_id_of(key)
        assert key_id is not None
        self.keys[key] = {
            "key_id": key_id,
            "user_id": "7",
            "email": "ada@example.com",
            "scopes": scopes,
            "expires_at": expires_at,
        }

    def revoke(self, key: str) -> None:
        holder = self.keys.pop(key)
        seq = len(self.revocations) + 1
        self.revocations.append({"seq": seq, "subject": f"key:{holder['key_id']}", "expires_at": NOW + 120})

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("auth is away", request=request)
        if request.url.path == "/v1/revocations":
            after = int(request.url.params["after"])
            found = [entry for entry in self.revocations if entry["seq"] > after]
            return httpx.Response(200, content=json.dumps({"revocations": found, "more": False}))
        self.asked += 1
        holder = self.keys.get(json.loads(request.content)["key"])
        verdict = {"holder": holder} if holder else {"refused": "revoked"}
        return httpx.Response(200, content=json.dumps(verdict))


@pytest.fixture
def auth() -> Auth:
    return Auth()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def monotonic() -> Clock:
    return Clock()


def verifier(auth: Auth, clock: Clock, monotonic: Clock, **options: Any) -> KeyVerifier:
    http = httpx.AsyncClient(transport=httpx.MockTransport(auth))
    return KeyVerifier(http, "http://auth/v1/keys/verify", clock=clock, monotonic=monotonic, **options)


def test_keys_are_told_from_tokens_and_their_id_is_what_logs_name() -> None:
    assert is_api_key(KEY)
    assert not is_api_key("eyJhbGciOiJFZERTQSJ9.e30.sig")
    assert key_id_of(KEY) == "0123456789ab"
    assert key_id_of("vmk_nothex_x") is None


async def test_an_answer_is_kept_a_few_seconds_then_asked_again(auth: Auth, clock: Clock, monotonic: Clock) -> None:
    auth.add(KEY, ["jobs:read"])
    keys = verifier(auth, clock, monotonic, cache_seconds=5.0)

    principal = await keys.principal(KEY)
    await keys.principal(KEY)

    assert auth.asked == 1
    assert principal == Principal(
        "7", "ada@example.com", frozenset({"user"}), key_id="0123456789ab", scopes=frozenset({"jobs:read"})
    )
    assert not principal.is_admin
    auth.keys.clear()  # revoked at auth
    monotonic.now += 5.0
    with pytest.raises(KeyRefused) as refused:
        await keys.principal(KEY)
    assert refused.value.reason == "revoked"
    assert auth.asked == 2


async def test_a_key_that_expires_while_kept_is_refused(auth: Auth, clock: Clock, monotonic: Clock) -> None:
    auth.add(KEY, ["jobs:read"], expires_at=NOW + 2)
    keys = verifier(auth, clock, monotonic)
    await keys.principal(KEY)

    clock.now += 2

    with pytest.raises(KeyRefused) as refused:
        await keys.principal(KEY)
    assert refused.value.reason == "expired"


async def test_the_kept_answers_are_bounded(auth: Auth, clock: Clock, monotonic: Clock) -> None:
    auth.add(KEY, ["jobs:read"])
    auth.add(OTHER, ["jobs:read"])
    keys = verifier(auth, clock, monotonic, cache_size=1)

    await keys.principal(KEY)
    await keys.principal(OTHER)  # pushes KEY out
    await keys.principal(KEY)

    assert auth.asked == 3


async def test_a_malformed_key_is_refused_without_asking(auth: Auth, clock: Clock, monotonic: Clock) -> None:
    keys = verifier(auth, clock, monotonic)
    with pytest.raises(KeyRefused):
        await keys.principal("vmk_short")
    assert auth.asked == 0


async def test_auth_away_with_nothing_kept_is_unchecked(auth: Auth, clock: Clock, monotonic: Clock) -> None:
    auth.down = True
    with pytest.raises(KeysUnchecked):
        await verifier(auth, clock, monotonic).principal(KEY)


def test_each_key_has_its_own_bucket() -> None:
    limiter = KeyLimiter(burst=2, per_minute=60)
    assert limiter.wait("a") == 0.0
    assert limiter.wait("a") == 0.0
    assert 0 < limiter.wait("a") <= 1.0
    assert limiter.wait("b") == 0.0


@get("/things", sync_to_thread=False)
def read_things(principal: NamedDependency[Principal]) -> str:
    return principal.user_id


@post("/things", status_code=201, sync_to_thread=False)
def write_things(principal: NamedDependency[Principal]) -> str:
    return principal.user_id


@head("/uploads", opt={"scope": "jobs:write"}, sync_to_thread=False)
def upload_offset(principal: NamedDependency[Principal]) -> None:
    return None


@post("/keys", status_code=201, opt={"api_keys": False}, sync_to_thread=False)
def manage_keys(principal: NamedDependency[Principal]) -> str:
    return principal.user_id


def app(auth: Auth, *, burst: int = 100) -> tuple[TestClient[Litestar], RevocationFeed]:
    http = httpx.AsyncClient(transport=httpx.MockTransport(auth))
    feed = RevocationFeed(http, "http://auth/v1/revocations")
    authenticator = Authenticator(
        http,
        "http://auth/.well-known/jwks.json",
        issuer="vidmp3-auth",
        audience="vidmp3",
        revocations=feed,
        keys=KeyVerifier(http, "http://auth/v1/keys/verify", cache_seconds=60),
        key_limiter=KeyLimiter(burst, 60),
    )

    async def catch_up() -> None:
        await feed.catch_up()

    litestar = Litestar(
        [read_things, write_things, upload_offset, manage_keys],
        dependencies={
            "authenticator": Provide(lambda: authenticator, sync_to_thread=False),
            "principal": Provide(current_principal),
        },
        on_startup=[catch_up],
    )
    return TestClient(litestar), feed


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_scopes_decide_by_route(auth: Auth) -> None:
    auth.add(KEY, ["jobs:read"])
    auth.add(OTHER, ["jobs:write"])
    client, _ = app(auth)
    with client:
        assert client.get("/things", headers=bearer(KEY)).status_code == 200
        refused = client.post("/things", headers=bearer(KEY))
        assert refused.status_code == 403
        assert "jobs:write" in refused.json()["detail"]
        assert client.head("/uploads", headers=bearer(KEY)).status_code == 403
        assert client.get("/things", headers=bearer(OTHER)).status_code == 403
        assert client.post("/things", headers=bearer(OTHER)).status_code == 201
        assert client.head("/uploads", headers=bearer(OTHER)).status_code == 200
        assert client.post("/keys", headers=bearer(OTHER)).status_code == 403


def test_a_key_over_its_rate_waits(auth: Auth) -> None:
    auth.add(KEY, ["jobs:read"])
    client, _ = app(auth, burst=2)
    with client:
        assert client.get("/things", headers=bearer(KEY)).status_code == 200
        assert client.get("/things", headers=bearer(KEY)).status_code == 200
        limited = client.get("/things", headers=bearer(KEY))
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) >= 1
        assert "too many requests" in limited.json()["detail"]


def test_a_key_in_the_revocation_log_is_refused_whatever_is_kept(auth: Auth) -> None:
    auth.add(KEY, ["jobs:read"])
    client, feed = app(auth)
    with client:
        assert client.get("/things", headers=bearer(KEY)).status_code == 200  # kept for 60 s now
        auth.revoke(KEY)
        with client.portal() as portal:
            portal.call(feed.catch_up)

        refused = client.get("/things", headers=bearer(KEY))

        assert refused.status_code == 401
        assert "revoked" in refused.json()["detail"]
        assert refused.headers["www-authenticate"].startswith("Bearer")
        assert auth.asked == 1, "refused from the log, not from asking auth again"
