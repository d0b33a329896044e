"""Password guessing over the auth API, against a real MySQL: a guessing address locks itself
out of the account and nobody else, an account under attack from many addresses slows new
addresses but not its owner's, addresses are rate-limited and cannot be claimed through
X-Forwarded-For, and neither answers nor timings tell which emails have accounts."""

from __future__ import annotations

import asyncio
import os
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient

from auth.app import create_app
from auth.passwords import Passwords
from auth.settings import AuthSettings
from auth.tokens import generate_key_pem
from auth.users import User, Users
from tests.services import Endpoints

PASSWORD = "correct horse battery staple"
PROBLEM_JSON = "application/problem+json"
GATEWAY = "10.0.0.5"
GUESSER = {"X-Forwarded-For": "203.0.113.66"}
OWNER = {"X-Forwarded-For": "198.51.100.10"}


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
        slowdown_threshold=6,
        slowdown_base_seconds=20,
        slowdown_max_seconds=40,
        login_attempts_burst=1000,
        trusted_proxies=[GATEWAY],
    )


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


# --- per account and address -------------------------------------------------------------


async def test_failures_lock_the_address_out_even_against_the_right_password_until_the_lock_ends(
    settings: AuthSettings, user: User
) -> None:
    five = settings.model_copy(update={"lockout_base_seconds": 5})
    async with AsyncTestClient(app=create_app(five)) as client:
        failures = [await login(client, user.email, f"guess {n}") for n in range(3)]
        locked = await login(client, user.email, PASSWORD)
        await asyncio.sleep(assert_too_many(locked) + 0.1)
        after = await login(client, user.email, PASSWORD)
        # the success forgot the failures: two more are not enough to lock
        again = [await login(client, user.email, "guess") for _ in range(2)]
        still_open = await login(client, user.email, PASSWORD)

    assert [response.status_code for response in failures] == [401, 401, 401]
    assert 1 <= assert_too_many(locked) <= 5
    assert "from your address" in locked.json()["detail"]
    assert after.status_code == 200, after.text
    assert [response.status_code for response in again] == [401, 401]
    assert still_open.status_code == 200


async def test_the_owner_from_their_address_gets_in_while_a_guesser_is_locked_out(
    settings: AuthSettings, user: User
) -> None:
    """Issue 12, finding 3: five wrong passwords for carol@example.com gave the real owner 429,
    doubling up to 900 s. A guesser now locks only their own address out."""
    patient = settings.model_copy(update={"lockout_base_seconds": 600})
    async with AsyncTestClient(app=FromPeer(create_app(patient), GATEWAY)) as client:
        guesses = [await login(client, f" {user.email.upper()} ", f"guess {n}", **GUESSER) for n in range(8)]
        owner = await login(client, user.email, PASSWORD, **OWNER)

    assert [response.status_code for response in guesses[:3]] == [401, 401, 401]
    assert all(assert_too_many(response) > 60 for response in guesses[3:])
    assert owner.status_code == 200, owner.text


async def test_an_account_guessed_from_many_addresses_slows_new_addresses_not_its_owners(
    settings: AuthSettings, user: User
) -> None:
    async with AsyncTestClient(app=FromPeer(create_app(settings), GATEWAY)) as client:
        known = await login(client, user.email, PASSWORD, **OWNER)
        botnet = [await login(client, user.email, "guess", **{"X-Forwarded-For": f"192.0.2.{n}"}) for n in range(1, 9)]
        newcomer = await login(client, user.email, PASSWORD, **{"X-Forwarded-For": "198.51.100.200"})
        owner = await login(client, user.email, PASSWORD, **OWNER)

    assert known.status_code == 200, known.text
    assert [response.status_code for response in botnet[:6]] == [401] * 6
    assert all(0 < assert_too_many(response) <= 20 for response in botnet[6:])
    assert 0 < assert_too_many(newcomer) <= 20, "a wait of at most the slowdown's bound, not a lock"
    assert "new places must wait" in newcomer.json()["detail"]
    assert owner.status_code == 200, owner.text


async def test_an_unknown_email_locks_exactly_like_an_existing_one(settings: AuthSettings, user: User) -> None:
    """The same statuses and bodies; ``Retry-After`` counts down from when the lock began, so
    only its presence is compared."""
    five = settings.model_copy(update={"lockout_base_seconds": 5})

    async def attempts(client: AsyncTestClient[Any], email: str) -> list[tuple[int, bool, bytes]]:
        answers = [await login(client, email, f"guess {n}") for n in range(5)]
        await asyncio.sleep(assert_too_many(answers[-1]) + 0.1)
        answers += [await login(client, email, "guess again") for _ in range(2)]
        return [(a.status_code, "retry-after" in a.headers, a.content) for a in answers]

    async with AsyncTestClient(app=create_app(five)) as client:
        existing = await attempts(client, user.email)
        unknown = await attempts(client, unique_email())

    assert existing == unknown
    assert [status for status, _, _ in existing] == [401, 401, 401, 429, 429, 401, 429]


async def test_the_email_is_normalized_before_counting(settings: AuthSettings, user: User) -> None:
    patient = settings.model_copy(update={"lockout_base_seconds": 600})
    async with AsyncTestClient(app=create_app(patient)) as client:
        for variant in (user.email.upper(), f"  {user.email}\u00a0", user.email.replace("g", "\uff47", 1)):
            await login(client, variant, "guess")
        locked = await login(client, user.email.title(), PASSWORD)

    assert_too_many(locked)


async def test_a_lock_holds_in_every_auth_process(settings: AuthSettings, user: User) -> None:
    patient = settings.model_copy(update={"lockout_base_seconds": 600})
    async with AsyncTestClient(app=create_app(patient)) as first:
        for n in range(3):
            await login(first, user.email, f"guess {n}")
    async with AsyncTestClient(app=create_app(patient)) as second:
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


async def test_by_default_no_peer_may_name_another_address(settings: AuthSettings) -> None:
    """Issue 12, finding 4: loopback peers were believed by default, so a rotating
    X-Forwarded-For got 25 of 25 attempts through directly on auth."""
    default = settings.model_copy(
        update={"trusted_proxies": [], "login_attempts_burst": 20, "login_attempts_per_minute": 0.1}
    )
    app = create_app(default)
    async with AsyncTestClient(app=FromPeer(app, "127.0.0.1")) as client:
        answers = [
            (await login(client, unique_email(), "guess", **{"X-Forwarded-For": f"198.51.100.{n}"})).status_code
            for n in range(1, 26)
        ]

    assert answers[:20] == [401] * 20
    assert answers[20:] == [429] * 5


# --- timing -------------------------------------------------------------------------------


async def test_an_unknown_email_takes_about_as_long_as_a_wrong_password(settings: AuthSettings, user: User) -> None:
    """Loose bounds: this catches a missing decoy (a skipped Argon2 run is 10-100x faster), not
    microsecond differences, which network jitter hides anyway."""
    patient = settings.model_copy(update={"lockout_threshold": 1000, "slowdown_threshold": 1000})

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
