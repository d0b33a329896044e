"""Managing accounts over the auth API, against a real MySQL: admins create and disable users,
users change their passwords, anyone registers where the operator allows it."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from litestar.testing import AsyncTestClient
from mysql.connector.aio import connect

from auth.app import create_app
from auth.database import connection_options
from auth.passwords import Passwords
from auth.settings import AuthSettings
from auth.tokens import Principal, TokenIssuer, TokenVerifier
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
    return AuthSettings(mysql_url=endpoints.mysql_url, signing_key_file=key_file)


def unique_email() -> str:
    return f"accounts-{uuid.uuid4().hex}@example.com"


async def login(client: AsyncTestClient[Any], email: str, password: str) -> httpx.Response:
    return await client.post("/v1/login", json={"email": email, "password": password})


async def token_of(client: AsyncTestClient[Any], user: User) -> str:
    response = await login(client, user.email, PASSWORD)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def verifier_from(client: AsyncTestClient[Any], settings: AuthSettings) -> TokenVerifier:
    jwks = (await client.get("/.well-known/jwks.json")).json()
    return TokenVerifier(jwks, issuer=settings.token_issuer, audience=settings.token_audience)


def assert_problem(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    assert response.json()["status"] == status


@pytest.fixture
async def admin(users: Users, passwords: Passwords) -> User:
    return await users.create(unique_email(), passwords.hash(PASSWORD), is_admin=True)


@pytest.fixture
async def admin_token(client: AsyncTestClient[Any], admin: User) -> str:
    return await token_of(client, admin)


async def update_user(mysql_url: str, user: User, assignment: str) -> None:
    """Change a user behind the service's back, as another admin or an operator would."""
    connection = await connect(**connection_options(mysql_url))
    try:
        cursor = await connection.cursor()
        await cursor.execute(f"UPDATE users SET {assignment} WHERE id = %s", (user.id,))  # noqa: S608 (test literals)
        await cursor.close()
    finally:
        await connection.close()


# --- admins create users ------------------------------------------------------------------


async def test_an_admin_creates_a_user_who_can_then_log_in(
    client: AsyncTestClient[Any], settings: AuthSettings, admin_token: str
) -> None:
    email = unique_email()

    response = await client.post(
        "/v1/users", json={"email": email.upper(), "password": PASSWORD}, headers=bearer(admin_token)
    )

    assert response.status_code == 201, response.text
    created = response.json()
    assert created | {"id": None} == {"id": None, "email": email, "roles": ["user"], "active": True}
    logged_in = await login(client, email, PASSWORD)
    assert logged_in.status_code == 200, logged_in.text
    principal = (await verifier_from(client, settings)).verify(logged_in.json()["access_token"])
    assert principal == Principal(str(created["id"]), email, frozenset({"user"}), session_id=principal.session_id)


async def test_an_admin_creates_another_admin(client: AsyncTestClient[Any], admin_token: str) -> None:
    response = await client.post(
        "/v1/users", json={"email": unique_email(), "password": PASSWORD, "admin": True}, headers=bearer(admin_token)
    )

    assert response.status_code == 201, response.text
    assert response.json()["roles"] == ["admin", "user"]


async def test_creating_a_user_needs_an_admin_token(
    client: AsyncTestClient[Any], users: Users, passwords: Passwords, settings: AuthSettings
) -> None:
    """403 for a valid token that is not an admin's (the route is public knowledge, nothing to
    hide behind a 404); 401 with a challenge for no token or one that does not verify."""
    user = await users.create(unique_email(), passwords.hash(PASSWORD))
    forger = TokenIssuer(
        Ed25519PrivateKey.generate(),
        issuer=settings.token_issuer,
        audience=settings.token_audience,
        ttl_seconds=60,
    )
    forged_admin = forger.issue(Principal(str(user.id), user.email, frozenset({"admin", "user"})))
    email = unique_email()
    body = {"email": email, "password": PASSWORD, "admin": True}

    as_user = await client.post("/v1/users", json=body, headers=bearer(await token_of(client, user)))
    anonymous = await client.post("/v1/users", json=body)
    forged = await client.post("/v1/users", json=body, headers=bearer(forged_admin))
    garbage = await client.post("/v1/users", json=body, headers={"Authorization": "Bearer not-a-token"})

    assert_problem(as_user, 403)
    for refused in (anonymous, forged, garbage):
        assert_problem(refused, 401)
        assert refused.headers["www-authenticate"].startswith("Bearer")
    assert await users.by_email(email) is None


async def test_a_demoted_or_disabled_admins_token_creates_no_more_users(
    endpoints: Endpoints, client: AsyncTestClient[Any], admin: User, admin_token: str
) -> None:
    """The token still says admin, but the users table is asked."""
    await update_user(endpoints.mysql_url, admin, "is_admin = FALSE")
    demoted = await client.post(
        "/v1/users", json={"email": unique_email(), "password": PASSWORD}, headers=bearer(admin_token)
    )
    await update_user(endpoints.mysql_url, admin, "is_admin = TRUE, is_active = FALSE")
    disabled = await client.post(
        "/v1/users", json={"email": unique_email(), "password": PASSWORD}, headers=bearer(admin_token)
    )

    assert_problem(demoted, 403)
    assert_problem(disabled, 403)


async def test_an_email_already_taken_is_a_conflict(
    client: AsyncTestClient[Any], admin: User, admin_token: str
) -> None:
    response = await client.post(
        "/v1/users", json={"email": f" {admin.email.upper()}", "password": PASSWORD}, headers=bearer(admin_token)
    )

    assert_problem(response, 409)


@pytest.mark.parametrize(
    "body",
    [
        {"email": "not an email", "password": PASSWORD},
        {"email": "x'; DROP TABLE users; --@example.com", "password": PASSWORD},
        {"email": "short@example.com", "password": "seven!!"},
        {"email": "long@example.com", "password": "x" * 1025},
        {"password": PASSWORD},
    ],
)
async def test_a_new_user_needs_a_valid_email_and_a_password_of_8_characters(
    client: AsyncTestClient[Any], admin_token: str, body: dict[str, str]
) -> None:
    response = await client.post("/v1/users", json=body, headers=bearer(admin_token))

    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)


# --- admins disable users -----------------------------------------------------------------


async def test_a_disabled_user_cannot_log_in_until_enabled_again(
    client: AsyncTestClient[Any], settings: AuthSettings, users: Users, passwords: Passwords, admin_token: str
) -> None:
    user = await users.create(unique_email(), passwords.hash(PASSWORD))
    earlier_token = await token_of(client, user)

    disabled = await client.post(f"/v1/users/{user.id}/disable", headers=bearer(admin_token))
    refused = await login(client, user.email, PASSWORD)
    unknown = await login(client, unique_email(), PASSWORD)

    assert disabled.status_code == 200, disabled.text
    assert disabled.json() == {"id": user.id, "email": user.email, "roles": ["user"], "active": False}
    assert_problem(refused, 401)
    assert refused.content == unknown.content, "a disabled account looks like an unknown one"
    # documented: tokens already issued live out their short lifetime
    assert (await verifier_from(client, settings)).verify(earlier_token).email == user.email

    enabled = await client.post(f"/v1/users/{user.id}/enable", headers=bearer(admin_token))
    assert enabled.status_code == 200, enabled.text
    assert enabled.json()["active"] is True
    assert (await login(client, user.email, PASSWORD)).status_code == 200


async def test_disabling_an_unknown_user_is_not_found(client: AsyncTestClient[Any], admin_token: str) -> None:
    assert_problem(await client.post(f"/v1/users/{2**62}/disable", headers=bearer(admin_token)), 404)


async def test_only_an_admin_disables_users(
    client: AsyncTestClient[Any], users: Users, passwords: Passwords, admin: User
) -> None:
    user = await users.create(unique_email(), passwords.hash(PASSWORD))
    user_token = await token_of(client, user)

    assert_problem(await client.post(f"/v1/users/{admin.id}/disable", headers=bearer(user_token)), 403)
    assert_problem(await client.post(f"/v1/users/{admin.id}/disable"), 401)
    assert (await login(client, admin.email, PASSWORD)).status_code == 200


# --- users change their password ----------------------------------------------------------


async def test_a_user_changes_their_password(client: AsyncTestClient[Any], users: Users, passwords: Passwords) -> None:
    user = await users.create(unique_email(), passwords.hash(PASSWORD))
    token = await token_of(client, user)

    response = await client.post(
        "/v1/me/password",
        json={"current_password": PASSWORD, "new_password": "a brand new passphrase"},
        headers=bearer(token),
    )

    assert response.status_code == 204, response.text
    assert_problem(await login(client, user.email, PASSWORD), 401)
    assert (await login(client, user.email, "a brand new passphrase")).status_code == 200


async def test_a_wrong_current_password_is_refused_and_counts_towards_the_lockout(
    endpoints: Endpoints, key_file: Path, users: Users, passwords: Passwords
) -> None:
    settings = AuthSettings(mysql_url=endpoints.mysql_url, signing_key_file=key_file, lockout_threshold=3)
    user = await users.create(unique_email(), passwords.hash(PASSWORD))
    async with AsyncTestClient(app=create_app(settings)) as client:
        token = await token_of(client, user)

        async def change(current: str) -> httpx.Response:
            body = {"current_password": current, "new_password": "a brand new passphrase"}
            return await client.post("/v1/me/password", json=body, headers=bearer(token))

        guesses = [await change(guess) for guess in ["guess 1", "guess 2", "guess 3"]]
        locked = await change(PASSWORD)
        login_locked = await login(client, user.email, PASSWORD)

    for guess in guesses:
        assert_problem(guess, 403)
    assert_problem(locked, 429)
    assert_problem(login_locked, 429)
    assert int(locked.headers["retry-after"]) >= 1


async def test_changing_a_password_needs_a_token_and_a_long_enough_new_password(
    client: AsyncTestClient[Any], users: Users, passwords: Passwords
) -> None:
    user = await users.create(unique_email(), passwords.hash(PASSWORD))
    token = await token_of(client, user)

    anonymous = await client.post(
        "/v1/me/password", json={"current_password": PASSWORD, "new_password": "a brand new passphrase"}
    )
    too_short = await client.post(
        "/v1/me/password", json={"current_password": PASSWORD, "new_password": "short"}, headers=bearer(token)
    )

    assert_problem(anonymous, 401)
    assert too_short.status_code == 400, too_short.text
    assert (await login(client, user.email, PASSWORD)).status_code == 200


async def test_a_disabled_user_cannot_change_their_password_with_an_earlier_token(
    endpoints: Endpoints, client: AsyncTestClient[Any], users: Users, passwords: Passwords
) -> None:
    user = await users.create(unique_email(), passwords.hash(PASSWORD))
    token = await token_of(client, user)
    await update_user(endpoints.mysql_url, user, "is_active = FALSE")

    response = await client.post(
        "/v1/me/password",
        json={"current_password": PASSWORD, "new_password": "a brand new passphrase"},
        headers=bearer(token),
    )

    assert_problem(response, 401)


# --- self-registration --------------------------------------------------------------------


async def test_registration_is_off_by_default(client: AsyncTestClient[Any]) -> None:
    response = await client.post("/v1/register", json={"email": unique_email(), "password": PASSWORD})

    assert_problem(response, 404)
    assert "/v1/register" not in (await client.get("/schema/openapi.json")).json()["paths"]


async def test_where_enabled_anyone_registers_a_plain_user(settings: AuthSettings, users: Users) -> None:
    email = unique_email()
    enabled = settings.model_copy(update={"registration_enabled": True})
    async with AsyncTestClient(app=create_app(enabled)) as client:
        response = await client.post("/v1/register", json={"email": email, "password": PASSWORD, "admin": True})
        again = await client.post("/v1/register", json={"email": email.upper(), "password": "another passphrase"})
        logged_in = await login(client, email, PASSWORD)

    assert response.status_code == 201, response.text
    assert response.json() | {"id": None} == {"id": None, "email": email, "roles": ["user"], "active": True}
    assert_problem(again, 409)
    assert logged_in.status_code == 200
    stored = await users.by_email(email)
    assert stored is not None
    assert not stored.is_admin


async def test_registrations_are_rate_limited_per_address(settings: AuthSettings) -> None:
    enabled = settings.model_copy(
        update={"registration_enabled": True, "registrations_burst": 2, "registrations_per_hour": 1}
    )
    app = create_app(enabled)
    async with AsyncTestClient(app=FromPeer(app, "203.0.113.10")) as client:
        first = [await client.post("/v1/register", json={"email": unique_email(), "password": PASSWORD}) for _ in "ab"]
        refused = await client.post("/v1/register", json={"email": unique_email(), "password": PASSWORD})
    async with AsyncTestClient(app=FromPeer(app, "203.0.113.11")) as elsewhere:
        other_address = await elsewhere.post("/v1/register", json={"email": unique_email(), "password": PASSWORD})

    assert [response.status_code for response in first] == [201, 201]
    assert_problem(refused, 429)
    assert 3000 < int(refused.headers["retry-after"]) <= 3600
    assert other_address.status_code == 201, other_address.text


class FromPeer:
    """The app as reached from ``peer`` (Litestar's test client always comes from ``testclient``)."""

    def __init__(self, app: Any, peer: str) -> None:
        self.app, self.peer = app, peer

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            scope = {**scope, "client": (self.peer, 50000)}
        await self.app(scope, receive, send)


# --- the CLI ------------------------------------------------------------------------------


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


async def test_disable_user_and_enable_user_commands(
    endpoints: Endpoints, client: AsyncTestClient[Any], users: Users, passwords: Passwords
) -> None:
    user = await users.create(unique_email(), passwords.hash(PASSWORD))

    disabled = await run_cli(endpoints.mysql_url, "disable-user", user.email.upper())
    refused = await login(client, user.email, PASSWORD)
    enabled = await run_cli(endpoints.mysql_url, "enable-user", user.email)
    accepted = await login(client, user.email, PASSWORD)

    assert disabled[0] == 0, disabled[2]
    assert f"<{user.email}> disabled" in disabled[1]
    assert_problem(refused, 401)
    assert enabled[0] == 0, enabled[2]
    assert accepted.status_code == 200


async def test_disabling_an_unknown_email_fails_saying_so(endpoints: Endpoints) -> None:
    email = unique_email()

    code, _, stderr = await run_cli(endpoints.mysql_url, "disable-user", email)

    assert code == 1
    assert f"no user with email {email}" in stderr
    assert "Traceback" not in stderr


async def test_the_migrate_command_reports_an_up_to_date_schema(endpoints: Endpoints, users: Users) -> None:
    code, stdout, stderr = await run_cli(endpoints.mysql_url, "migrate")

    assert code == 0, stderr
    assert "up to date" in stdout
