"""Sessions over the auth API, against a real MySQL: refresh tokens rotate, are stored hashed,
a reused one ends its session, and logging out, a new password, disabling and deleting end
sessions, through the API and the command line alike."""

from __future__ import annotations

import asyncio
import hashlib
import os
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient
from mysql.connector.aio import connect

from auth.app import create_app
from auth.database import Database, connection_options
from auth.migrations import AUTH_SCHEMA
from auth.passwords import Passwords
from auth.refresh import RefreshPolicy
from auth.sessions import Sessions
from auth.settings import AuthSettings
from auth.tokens import TokenVerifier
from auth.users import User, Users
from tests.services import Endpoints

REPO_ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery staple"
PROBLEM_JSON = "application/problem+json"


@pytest.fixture(autouse=True)
def no_vidmp3_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("VIDMP3_"):
            monkeypatch.delenv(name)


@pytest.fixture
def settings(endpoints: Endpoints, key_file: Path) -> AuthSettings:
    """No grace for a reused token (the tests that want one set it), logins unthrottled."""
    return AuthSettings(
        mysql_url=endpoints.mysql_url,
        signing_key_file=key_file,
        refresh_reuse_grace_seconds=0,
        login_attempts_burst=1000,
    )


@pytest.fixture
async def database(endpoints: Endpoints) -> AsyncIterator[Database]:
    database = Database(endpoints.mysql_url, pool_size=2)
    await AUTH_SCHEMA.migrate(database)
    try:
        yield database
    finally:
        await database.close()


@pytest.fixture
def users(database: Database) -> Users:
    return Users(database)


@pytest.fixture
async def user(users: Users, passwords: Passwords) -> User:
    return await users.create(f"sessions-{uuid.uuid4().hex}@example.com", passwords.hash(PASSWORD))


async def login(client: AsyncTestClient[Any], user: User, password: str = PASSWORD) -> dict[str, Any]:
    response = await client.post("/v1/login", json={"email": user.email, "password": password})
    assert response.status_code == 200, response.text
    return dict(response.json())


async def refresh(client: AsyncTestClient[Any], token: str) -> httpx.Response:
    return await client.post("/v1/refresh", json={"refresh_token": token})


def assert_ended(response: httpx.Response, *words: str) -> None:
    """A 401 problem whose detail says, in plain words, what happened and to log in again."""
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    detail = response.json()["detail"]
    assert "log in" in detail or "disabled" in detail or "no longer exists" in detail, detail
    for word in words:
        assert word in detail, detail
    assert "access_token" not in response.text


async def query(mysql_url: str, statement: str, *parameters: Any) -> list[tuple[Any, ...]]:
    connection = await connect(**connection_options(mysql_url))
    try:
        cursor = await connection.cursor()
        await cursor.execute(statement, parameters)
        rows = list(await cursor.fetchall()) if cursor.description else []
        await cursor.close()
        return rows  # type: ignore[return-value]
    finally:
        await connection.close()


async def verifier(client: AsyncTestClient[Any], settings: AuthSettings) -> TokenVerifier:
    keys = (await client.get("/.well-known/jwks.json")).json()
    return TokenVerifier(keys, issuer=settings.token_issuer, audience=settings.token_audience)


# --- rotation -----------------------------------------------------------------------------


async def test_a_refresh_answers_like_a_login_with_a_new_refresh_token(
    client: AsyncTestClient[Any], settings: AuthSettings, user: User
) -> None:
    first = await login(client, user)

    response = await refresh(client, first["refresh_token"])

    assert response.status_code == 200, response.text
    second = response.json()
    assert set(second) == {"access_token", "token_type", "expires_in", "refresh_token", "refresh_expires_in"}
    assert second["refresh_token"] != first["refresh_token"]
    assert (second["token_type"], second["expires_in"]) == ("Bearer", 900)
    assert 30 * 86400 - 5 <= second["refresh_expires_in"] <= 30 * 86400
    keys = await verifier(client, settings)
    before, after = keys.verify(first["access_token"]), keys.verify(second["access_token"])
    assert after.user_id == str(user.id)
    assert after.session_id == before.session_id is not None
    third = await refresh(client, second["refresh_token"])
    assert third.status_code == 200, third.text


async def test_refresh_tokens_are_stored_as_their_hash_only(
    client: AsyncTestClient[Any], endpoints: Endpoints, user: User
) -> None:
    token = (await login(client, user))["refresh_token"]

    stored = await query(
        endpoints.mysql_url,
        "SELECT token_hash FROM refresh_tokens WHERE token_hash = %s",
        hashlib.sha256(token.encode()).digest(),
    )
    plain = await query(
        endpoints.mysql_url, "SELECT COUNT(*) FROM refresh_tokens WHERE token_hash = %s", token.encode()
    )

    assert len(stored) == 1
    assert plain == [(0,)]


async def test_a_reused_refresh_token_ends_the_whole_session(client: AsyncTestClient[Any], user: User) -> None:
    first = (await login(client, user))["refresh_token"]
    other_session = (await login(client, user))["refresh_token"]
    second = (await refresh(client, first)).json()["refresh_token"]
    third = (await refresh(client, second)).json()["refresh_token"]

    reused = await refresh(client, first)

    assert_ended(reused, "already been used")
    assert_ended(await refresh(client, third), "already been used")
    assert (await refresh(client, other_session)).status_code == 200, "other sessions go on"


async def test_concurrent_refreshes_with_one_token_give_one_session_at_most(
    client: AsyncTestClient[Any], user: User
) -> None:
    """Without a grace period, one of eight racing refreshes wins; the others are reuses,
    which end the session, so the winner's token is dead too."""
    token = (await login(client, user))["refresh_token"]

    answers = await asyncio.gather(*(refresh(client, token) for _ in range(8)))

    won = [answer.json()["refresh_token"] for answer in answers if answer.status_code == 200]
    assert len(won) == 1, [answer.status_code for answer in answers]
    assert sum(answer.status_code == 401 for answer in answers) == 7
    assert_ended(await refresh(client, won[0]), "already been used")


async def test_within_the_grace_concurrent_refreshes_all_get_tokens_of_the_session(
    settings: AuthSettings, user: User
) -> None:
    """Two tabs with the same cookie refreshing at once: nobody is signed out."""
    async with AsyncTestClient(
        app=create_app(settings.model_copy(update={"refresh_reuse_grace_seconds": 30}))
    ) as client:
        token = (await login(client, user))["refresh_token"]

        answers = await asyncio.gather(*(refresh(client, token) for _ in range(4)))

        assert [answer.status_code for answer in answers] == [200] * 4
        for answer in answers:
            assert (await refresh(client, answer.json()["refresh_token"])).status_code == 200


async def test_unknown_and_expired_refresh_tokens_are_refused_saying_why(settings: AuthSettings, user: User) -> None:
    short = settings.model_copy(update={"refresh_token_days": 2 / 86400})
    async with AsyncTestClient(app=create_app(short)) as client:
        token = (await login(client, user))["refresh_token"]
        await asyncio.sleep(3)

        assert_ended(await refresh(client, token), "expired")
        assert_ended(await refresh(client, "not-a-token"), "not valid")
        empty = await refresh(client, "")
        assert empty.status_code == 400, empty.text


# --- what ends sessions -------------------------------------------------------------------


async def test_a_logout_ends_the_session_of_any_of_its_tokens(client: AsyncTestClient[Any], user: User) -> None:
    first = (await login(client, user))["refresh_token"]
    other_session = (await login(client, user))["refresh_token"]
    latest = (await refresh(client, first)).json()["refresh_token"]

    out = await client.post("/v1/logout", json={"refresh_token": first})
    again = await client.post("/v1/logout", json={"refresh_token": first})
    unknown = await client.post("/v1/logout", json={"refresh_token": "never issued"})

    assert (out.status_code, again.status_code, unknown.status_code) == (204, 204, 204)
    assert_ended(await refresh(client, latest), "signed out")
    assert (await refresh(client, other_session)).status_code == 200


async def test_a_password_change_ends_every_session_of_the_user(client: AsyncTestClient[Any], user: User) -> None:
    one, two = await login(client, user), await login(client, user)

    changed = await client.post(
        "/v1/me/password",
        json={"current_password": PASSWORD, "new_password": "a brand new password"},
        headers={"Authorization": f"Bearer {one['access_token']}"},
    )

    assert changed.status_code == 204, changed.text
    assert_ended(await refresh(client, one["refresh_token"]), "password was changed")
    assert_ended(await refresh(client, two["refresh_token"]), "password was changed")
    assert (await login(client, user, "a brand new password"))["refresh_token"]


async def test_disabling_and_deleting_a_user_end_their_sessions(
    client: AsyncTestClient[Any], users: Users, passwords: Passwords, user: User
) -> None:
    admin = await users.create(f"admin-{uuid.uuid4().hex}@example.com", passwords.hash(PASSWORD), is_admin=True)
    other = await users.create(f"other-{uuid.uuid4().hex}@example.com", passwords.hash(PASSWORD))
    admin_token = {"Authorization": f"Bearer {(await login(client, admin))['access_token']}"}
    disabled_session = (await login(client, user))["refresh_token"]
    deleted_session = (await login(client, other))["refresh_token"]

    disabled = await client.post(f"/v1/users/{user.id}/disable", headers=admin_token)
    enabled = await client.post(f"/v1/users/{user.id}/enable", headers=admin_token)
    deleted = await client.delete(f"/v1/users/{other.id}", headers=admin_token)
    deleted_again = await client.delete(f"/v1/users/{other.id}", headers=admin_token)

    assert (disabled.status_code, enabled.status_code, deleted.status_code) == (200, 200, 204)
    assert deleted_again.status_code == 404, deleted_again.text
    assert_ended(await refresh(client, disabled_session), "disabled")
    assert_ended(await refresh(client, deleted_session), "no longer exists")
    assert await users.by_id(other.id) is None
    assert (await login(client, user))["refresh_token"], "an enabled user logs in again"


async def test_a_user_disabled_in_the_table_alone_gets_no_more_tokens(
    client: AsyncTestClient[Any], endpoints: Endpoints, user: User
) -> None:
    token = (await login(client, user))["refresh_token"]

    await query(endpoints.mysql_url, "UPDATE users SET is_active = FALSE WHERE id = %s", user.id)

    assert_ended(await refresh(client, token), "disabled")


async def test_only_an_admin_deletes_users(
    client: AsyncTestClient[Any], user: User, users: Users, passwords: Passwords
) -> None:
    other = await users.create(f"other-{uuid.uuid4().hex}@example.com", passwords.hash(PASSWORD))
    token = {"Authorization": f"Bearer {(await login(client, user))['access_token']}"}

    refused = await client.delete(f"/v1/users/{other.id}", headers=token)
    anonymous = await client.delete(f"/v1/users/{other.id}")

    assert (refused.status_code, anonymous.status_code) == (403, 401)
    assert await users.by_id(other.id) is not None


async def run_cli(mysql_url: str, *args: str, stdin: str = "") -> tuple[int, str, str]:
    environment = {name: value for name, value in os.environ.items() if not name.startswith("VIDMP3_")}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "auth",
        *args,
        cwd=REPO_ROOT,
        env=environment | {"VIDMP3_MYSQL_URL": mysql_url},
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(stdin.encode()), timeout=60)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


async def test_the_commands_that_take_rights_away_end_sessions(
    client: AsyncTestClient[Any], endpoints: Endpoints, users: Users, passwords: Passwords
) -> None:
    async def new_user(*, admin: bool = False) -> User:
        return await users.create(f"cli-{uuid.uuid4().hex}@example.com", passwords.hash(PASSWORD), is_admin=admin)

    reset, disabled, deleted, demoted = await new_user(), await new_user(), await new_user(), await new_user(admin=True)
    people = (reset, disabled, deleted, demoted)
    tokens = {user.id: (await login(client, user))["refresh_token"] for user in people}

    results = [
        await run_cli(endpoints.mysql_url, "set-password", reset.email, "--password-stdin", stdin="a new password\n"),
        await run_cli(endpoints.mysql_url, "disable-user", disabled.email),
        await run_cli(endpoints.mysql_url, "delete-user", deleted.email.upper()),
        await run_cli(endpoints.mysql_url, "revoke-admin", demoted.email),
    ]

    assert [code for code, _, _ in results] == [0, 0, 0, 0], [stderr for _, _, stderr in results]
    assert f"<{deleted.email}> deleted" in results[2][1]
    assert f"<{demoted.email}> is no longer an admin" in results[3][1]
    assert_ended(await refresh(client, tokens[reset.id]), "password")
    assert_ended(await refresh(client, tokens[disabled.id]), "disabled")
    assert_ended(await refresh(client, tokens[deleted.id]), "no longer exists")
    assert_ended(await refresh(client, tokens[demoted.id]), "rights changed")
    demoted_now = await users.by_id(demoted.id)
    assert demoted_now is not None
    assert not demoted_now.is_admin
    missing = await run_cli(endpoints.mysql_url, "delete-user", deleted.email)
    assert missing[0] == 1
    assert "no user with email" in missing[2]
    granted = await run_cli(endpoints.mysql_url, "grant-admin", reset.email)
    assert granted[0] == 0, granted[2]
    assert (await users.by_id(reset.id)).is_admin  # type: ignore[union-attr]


# --- the table stays bounded --------------------------------------------------------------


async def test_expired_tokens_and_sessions_are_pruned(database: Database, endpoints: Endpoints, user: User) -> None:
    clock = [1_000_000.0]
    sessions = Sessions(database, RefreshPolicy(token_seconds=60, session_seconds=120), clock=lambda: clock[0])
    started = await sessions.start(user)
    assert started is not None
    clock[0] += 90
    # the first token expired unused: the session is still going but that token goes
    removed = await sessions.prune()
    assert removed >= 1
    rows = await query(endpoints.mysql_url, "SELECT COUNT(*) FROM sessions WHERE id = %s", started.session_id.bytes)
    assert rows == [(1,)]
    clock[0] += 60
    await sessions.prune()
    assert await query(
        endpoints.mysql_url, "SELECT COUNT(*) FROM sessions WHERE id = %s", started.session_id.bytes
    ) == [(0,)]


async def test_a_user_has_at_most_the_configured_number_of_sessions(database: Database, user: User) -> None:
    sessions = Sessions(database, RefreshPolicy(per_user=3))
    started = [await sessions.start(user) for _ in range(5)]

    assert await sessions.active(user.id) == 3
    assert all(session is not None for session in started)
