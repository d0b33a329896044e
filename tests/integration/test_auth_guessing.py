"""Password guessing over the auth API, against a real MySQL: accounts lock, addresses are
rate-limited, and neither answers nor timings tell which emails have accounts."""

from __future__ import annotations

import asyncio
import os
import statistics
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient

from auth.app import create_app
from auth.database import Database
from auth.migrations import AUTH_SCHEMA
from auth.passwords import Passwords
from auth.settings import AuthSettings
from auth.tokens import generate_key_pem
from auth.users import User, Users
from tests.services import Endpoints

PASSWORD = "correct horse battery staple"
PROBLEM_JSON = "application/problem+json"
GATEWAY = "10.0.0.5"


@pytest.fixture(autouse=True)
def no_vidmp3_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("VIDMP3_"):
            monkeypatch.delenv(name)


@pytest.fixture
def settings(endpoints: Endpoints, tmp_path: Path) -> AuthSettings:
    """Quick locks (3 failures, 1 s) and an address limit loose enough not to get in their way."""
    key_file = tmp_path / "signing.pem"
    key_file.write_bytes(generate_key_pem())
    return AuthSettings(
        mysql_url=endpoints.mysql_url,
        signing_key_file=key_file,
        lockout_threshold=3,
        lockout_base_seconds=1,
        login_attempts_burst=1000,
        trusted_proxies=[GATEWAY],
    )


@pytest.fixture
async def users(endpoints: Endpoints) -> AsyncIterator[Users]:
    database = Database(endpoints.mysql_url, pool_size=1)
    await AUTH_SCHEMA.migrate(database)
    try:
        yield Users(database)
    finally:
        await database.close()


@pytest.fixture
async def user(users: Users) -> User:
    return await users.create(unique_email(), Passwords().hash(PASSWORD))


class FromPeer:
    """The app as reached from ``peer`` (Litestar's test client always comes from ``testclient``)."""

    def __init__(self, app: Any, peer: str) -> None:
        self.app, self.peer = app, peer

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            scope = {**scope, "client": (self.peer, 50000)}
        await self.app(scope, receive, send)


def unique_email() -> str:
    return f"guessing-{uuid.uuid4().hex}@example.com"


async def login(client: AsyncTestClient[Any], email: str, password: str, **headers: str) -> httpx.Response:
    return await client.post("/v1/login", json={"email": email, "password": password}, headers=headers)


def seen(response: httpx.Response) -> tuple[int, str | None, bytes]:
    """All a caller learns from an answer: status, Retry-After and body."""
    return response.status_code, response.headers.get("retry-after"), response.content


def assert_too_many(response: httpx.Response) -> int:
    """A 429 problem with a Retry-After in whole seconds; returns those seconds."""
    assert response.status_code == 429, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    assert response.json()["status"] == 429
    assert "access_token" not in response.text
    return int(response.headers["retry-after"])


# --- per account --------------------------------------------------------------------------


async def test_failures_lock_the_account_even_against_the_right_password_until_the_lock_ends(
    settings: AuthSettings, user: User
) -> None:
    async with AsyncTestClient(app=create_app(settings)) as client:
        failures = [await login(client, user.email, f"guess {n}") for n in range(3)]
        locked = await login(client, user.email, PASSWORD)
        await asyncio.sleep(1.1)
        after = await login(client, user.email, PASSWORD)
        # the success forgot the failures: two more are not enough to lock
        again = [await login(client, user.email, "guess") for _ in range(2)]
        still_open = await login(client, user.email, PASSWORD)

    assert [response.status_code for response in failures] == [401, 401, 401]
    assert assert_too_many(locked) == 1
    assert after.status_code == 200, after.text
    assert [response.status_code for response in again] == [401, 401]
    assert still_open.status_code == 200


async def test_an_unknown_email_locks_exactly_like_an_existing_one(settings: AuthSettings, user: User) -> None:
    async def attempts(client: AsyncTestClient[Any], email: str) -> list[tuple[int, str | None, bytes]]:
        answers = [seen(await login(client, email, f"guess {n}")) for n in range(5)]
        await asyncio.sleep(1.1)
        answers += [seen(await login(client, email, "guess again")) for _ in range(2)]
        return answers

    async with AsyncTestClient(app=create_app(settings)) as client:
        existing = await attempts(client, user.email)
        unknown = await attempts(client, unique_email())

    assert existing == unknown
    assert [status for status, _, _ in existing] == [401, 401, 401, 429, 429, 401, 429]
    assert existing[-1][1] == "2", "the failure after a lock doubles the next one"


async def test_the_email_is_normalized_before_counting(settings: AuthSettings, user: User) -> None:
    async with AsyncTestClient(app=create_app(settings)) as client:
        for variant in (user.email, user.email.upper(), f"  {user.email} "):
            await login(client, variant, "guess")
        locked = await login(client, user.email.title(), PASSWORD)

    assert_too_many(locked)


async def test_a_lock_holds_in_every_auth_process(settings: AuthSettings, user: User) -> None:
    async with AsyncTestClient(app=create_app(settings)) as first:
        for n in range(3):
            await login(first, user.email, f"guess {n}")
    async with AsyncTestClient(app=create_app(settings)) as second:
        locked = await login(second, user.email, PASSWORD)

    assert_too_many(locked)


async def test_other_accounts_are_not_locked(settings: AuthSettings, user: User) -> None:
    async with AsyncTestClient(app=create_app(settings)) as client:
        for n in range(5):
            await login(client, unique_email(), f"guess {n}")
        for n in range(5):
            await login(client, "victim@example.com", f"guess {n}")
        response = await login(client, user.email, PASSWORD)

    assert response.status_code == 200, response.text


# --- per client address -------------------------------------------------------------------


async def test_an_address_making_too_many_attempts_gets_429_with_retry_after(
    settings: AuthSettings, user: User
) -> None:
    limited = settings.model_copy(update={"login_attempts_burst": 3, "login_attempts_per_minute": 1})
    app = create_app(limited)
    async with AsyncTestClient(app=FromPeer(app, "203.0.113.20")) as client:
        allowed = [await login(client, unique_email(), "guess") for _ in range(3)]
        refused = await login(client, user.email, PASSWORD)
    async with AsyncTestClient(app=FromPeer(app, "203.0.113.21")) as elsewhere:
        other_address = await login(elsewhere, user.email, PASSWORD)

    assert [response.status_code for response in allowed] == [401, 401, 401]
    assert 55 <= assert_too_many(refused) <= 60
    assert other_address.status_code == 200, other_address.text


async def test_forwarded_for_names_the_client_only_when_a_trusted_proxy_sends_it(settings: AuthSettings) -> None:
    limited = settings.model_copy(update={"login_attempts_burst": 2, "login_attempts_per_minute": 1})
    app = create_app(limited)

    async def statuses(peer: str, forwarded_for: list[str]) -> list[int]:
        async with AsyncTestClient(app=FromPeer(app, peer)) as client:
            return [
                (await login(client, unique_email(), "guess", **{"X-Forwarded-For": address})).status_code
                for address in forwarded_for
            ]

    # through the gateway: one bucket per client it names
    assert await statuses(GATEWAY, ["198.51.100.1", "198.51.100.2", "198.51.100.1", "198.51.100.2"]) == [401] * 4
    assert await statuses(GATEWAY, ["198.51.100.1"]) == [429]
    # a client forging the header for itself, directly or through the gateway, is still itself
    assert await statuses("203.0.113.30", ["198.51.100.3", "198.51.100.4", "198.51.100.5"]) == [401, 401, 429]
    assert await statuses(GATEWAY, ["198.51.100.9, 198.51.100.2"]) == [429]


# --- timing -------------------------------------------------------------------------------


async def test_an_unknown_email_takes_about_as_long_as_a_wrong_password(settings: AuthSettings, user: User) -> None:
    """Loose bounds: this catches a missing decoy (a skipped Argon2 run is 10-100x faster), not
    microsecond differences, which network jitter hides anyway."""
    patient = settings.model_copy(update={"lockout_threshold": 1000})

    async def duration(client: AsyncTestClient[Any], email: str) -> float:
        started = time.process_time()
        response = await login(client, email, "a wrong guess")
        elapsed = time.process_time() - started
        assert response.status_code == 401, response.text
        return elapsed

    known, unknown = [], []
    async with AsyncTestClient(app=create_app(patient)) as client:
        await duration(client, unique_email())  # warm up the pool
        for _ in range(7):  # interleaved, so load from elsewhere hits both alike
            known.append(await duration(client, user.email))
            unknown.append(await duration(client, unique_email()))

    ratio = statistics.median(unknown) / statistics.median(known)
    assert 0.5 < ratio < 2.0, f"unknown/known ratio {ratio:.2f}; known {statistics.median(known) * 1000:.0f} ms"
