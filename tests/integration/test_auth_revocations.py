"""Auth's revocation log against a real MySQL: every ended session whose access tokens may still
be valid is listed, numbered without gaps or repeats even when sessions end at once, served in
order by ``GET /v1/revocations``, and dropped once its tokens have expired."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from auth.app import create_app
from auth.database import Database
from auth.migrations import AUTH_SCHEMA
from auth.passwords import Passwords
from auth.refresh import RefreshPolicy, WhyEnded
from auth.revocations import Revocations, session_subject
from auth.sessions import Sessions
from auth.settings import AuthSettings
from auth.tokens import TokenVerifier, generate_key_pem
from auth.users import User, Users
from tests.services import Endpoints

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def no_vidmp3_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("VIDMP3_"):
            monkeypatch.delenv(name)


@pytest.fixture
async def database(endpoints: Endpoints) -> AsyncIterator[Database]:
    database = Database(endpoints.mysql_url, pool_size=10)
    await AUTH_SCHEMA.migrate(database)
    try:
        yield database
    finally:
        await database.close()


@pytest.fixture
async def user(database: Database) -> User:
    return await Users(database).create(f"revocations-{uuid.uuid4().hex}@example.com", Passwords().hash(PASSWORD))


@pytest.fixture
def settings(endpoints: Endpoints, tmp_path: Path) -> AuthSettings:
    key_file = tmp_path / "signing.pem"
    key_file.write_bytes(generate_key_pem())
    return AuthSettings(mysql_url=endpoints.mysql_url, signing_key_file=key_file, login_attempts_burst=1000)


async def entries_after(revocations: Revocations, seq: int) -> dict[str, int]:
    return {entry.subject: entry.seq for entry in await revocations.after(seq, 100_000)}


async def test_ended_sessions_are_numbered_in_order_without_gaps_even_at_once(database: Database, user: User) -> None:
    revocations = Revocations(database)
    sessions = Sessions(database, RefreshPolicy(), hooks=revocations)
    started = [await sessions.start(user) for _ in range(12)]
    before = await revocations.last()

    await asyncio.gather(
        *(sessions.end(issued.session_id, WhyEnded.LOGOUT) for issued in started if issued is not None)
    )

    listed = await entries_after(revocations, before)
    mine = {session_subject(issued.session_id) for issued in started if issued is not None}
    assert mine <= set(listed)
    numbers = sorted(listed.values())
    assert numbers == list(range(before + 1, before + 1 + len(numbers))), "no gap, no repeat"
    assert await revocations.last() >= max(numbers)


async def test_ending_every_session_of_a_user_lists_each_once(database: Database, user: User) -> None:
    revocations = Revocations(database)
    sessions = Sessions(database, RefreshPolicy(), hooks=revocations)
    started = [await sessions.start(user) for _ in range(3)]
    before = await revocations.last()

    assert await sessions.end_all(user.id, WhyEnded.PASSWORD) == 3
    assert await sessions.end_all(user.id, WhyEnded.PASSWORD) == 0

    listed = await entries_after(revocations, before)
    for issued in started:
        assert issued is not None
        assert session_subject(issued.session_id) in listed


async def test_a_session_whose_access_tokens_all_expired_needs_no_entry(database: Database, user: User) -> None:
    clock = [1_000_000.0]
    revocations = Revocations(database, clock=lambda: clock[0])
    sessions = Sessions(database, RefreshPolicy(access_seconds=60), hooks=revocations, clock=lambda: clock[0])
    idle = await sessions.start(user)
    assert idle is not None
    before = await revocations.last()
    clock[0] += 61

    await sessions.end(idle.session_id, WhyEnded.LOGOUT)

    assert session_subject(idle.session_id) not in await entries_after(revocations, before)


async def test_an_entry_lasts_until_the_sessions_last_access_token_expires_and_is_then_pruned(
    database: Database, user: User
) -> None:
    clock = [1_000_000.0]
    revocations = Revocations(database, margin_seconds=30, clock=lambda: clock[0])
    sessions = Sessions(database, RefreshPolicy(access_seconds=60), hooks=revocations, clock=lambda: clock[0])
    issued = await sessions.start(user)
    assert issued is not None
    clock[0] += 10
    before = await revocations.last()

    await sessions.end(issued.session_id, WhyEnded.LOGOUT)

    [entry] = [e for e in await revocations.after(before, 100_000) if e.subject == session_subject(issued.session_id)]
    assert entry.expires_at == 1_000_000.0 + 60 + 30
    clock[0] = entry.expires_at - 1
    await revocations.prune()
    assert await revocations.after(entry.seq - 1, 1) == [entry]
    clock[0] = entry.expires_at
    await revocations.prune()
    assert [e.seq for e in await revocations.after(entry.seq - 1, 1)] != [entry.seq]


async def test_the_log_is_served_in_pages_in_order(settings: AuthSettings, database: Database, user: User) -> None:
    revocations = Revocations(database)
    sessions = Sessions(database, RefreshPolicy(), hooks=revocations)
    started = [await sessions.start(user) for _ in range(5)]
    before = await revocations.last()
    for issued in started:
        assert issued is not None
        await sessions.end(issued.session_id, WhyEnded.LOGOUT)

    async with AsyncTestClient(app=create_app(settings)) as client:
        seen: list[dict[str, Any]] = []
        after = before
        while True:
            page = (await client.get("/v1/revocations", params={"after": after, "limit": 2})).json()
            seen.extend(page["revocations"])
            if not page["more"]:
                break
            after = page["revocations"][-1]["seq"]
        bad = await client.get("/v1/revocations", params={"after": -1})

    assert [entry["seq"] for entry in seen] == sorted(entry["seq"] for entry in seen)
    mine = {session_subject(issued.session_id) for issued in started if issued is not None}
    assert mine <= {entry["subject"] for entry in seen}
    assert bad.status_code == 400


async def test_a_logged_out_sessions_token_is_refused_by_auth_itself(settings: AuthSettings, user: User) -> None:
    """Auth reads its own tables: its admin and password routes refuse an ended session's token at once."""
    async with AsyncTestClient(app=create_app(settings)) as client:
        login = (await client.post("/v1/login", json={"email": user.email, "password": PASSWORD})).json()
        keys = (await client.get("/.well-known/jwks.json")).json()
        assert TokenVerifier(keys, issuer="vidmp3-auth", audience="vidmp3").verify(login["access_token"]).session_id
        await client.post("/v1/logout", json={"refresh_token": login["refresh_token"]})

        changed = await client.post(
            "/v1/me/password",
            json={"current_password": PASSWORD, "new_password": "something else entirely"},
            headers={"Authorization": f"Bearer {login['access_token']}"},
        )

    assert changed.status_code == 401, changed.text
    assert "session has ended" in changed.json()["detail"]
