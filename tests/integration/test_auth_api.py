"""The auth service's HTTP API and CLI, against a real MySQL."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from argon2 import PasswordHasher
from litestar.testing import AsyncTestClient
from mysql.connector.aio import connect
from prometheus_client import REGISTRY, generate_latest

from auth.app import create_app
from auth.database import connection_options
from auth.passwords import Passwords
from auth.settings import AuthSettings
from auth.tokens import Principal, TokenVerifier, generate_key_pem
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
    return AuthSettings(mysql_url=endpoints.mysql_url, signing_key_file=key_file, token_ttl_seconds=600)


def unique_email() -> str:
    return f"api-{uuid.uuid4().hex}@example.com"


async def verifier_from(client: AsyncTestClient[Any], settings: AuthSettings) -> TokenVerifier:
    response = await client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    return TokenVerifier(response.json(), issuer=settings.token_issuer, audience=settings.token_audience)


async def login(client: AsyncTestClient[Any], email: str, password: str) -> httpx.Response:
    return await client.post("/v1/login", json={"email": email, "password": password})


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    assert response.json()["status"] == 401
    assert "access_token" not in response.text


# --- logging in ---------------------------------------------------------------------------


async def test_a_login_returns_a_token_the_published_keys_verify(
    client: AsyncTestClient[Any], settings: AuthSettings, users: Users, passwords: Passwords
) -> None:
    user = await users.create(unique_email(), passwords.hash(PASSWORD))

    response = await login(client, user.email, PASSWORD)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body | {"access_token": None, "refresh_token": None} == {
        "access_token": None,
        "token_type": "Bearer",
        "expires_in": 600,
        "refresh_token": None,
        "refresh_expires_in": 30 * 86400,
    }
    principal = (await verifier_from(client, settings)).verify(body["access_token"])
    assert principal == Principal(str(user.id), user.email, frozenset({"user"}), session_id=principal.session_id)
    assert principal.session_id is not None


async def test_the_email_is_matched_whatever_its_case(
    client: AsyncTestClient[Any], settings: AuthSettings, users: Users, passwords: Passwords
) -> None:
    user = await users.create(unique_email(), passwords.hash(PASSWORD))

    response = await login(client, f"  {user.email.upper()} ", PASSWORD)

    assert response.status_code == 200, response.text
    assert (await verifier_from(client, settings)).verify(response.json()["access_token"]).email == user.email


async def test_an_admin_gets_the_admin_role(
    client: AsyncTestClient[Any], settings: AuthSettings, users: Users, passwords: Passwords
) -> None:
    admin = await users.create(unique_email(), passwords.hash(PASSWORD), is_admin=True)

    response = await login(client, admin.email, PASSWORD)

    assert response.status_code == 200, response.text
    principal = (await verifier_from(client, settings)).verify(response.json()["access_token"])
    assert principal.roles == frozenset({"admin", "user"})


async def test_wrong_password_and_unknown_email_look_the_same(
    client: AsyncTestClient[Any], users: Users, passwords: Passwords
) -> None:
    user = await users.create(unique_email(), passwords.hash(PASSWORD))

    wrong_password = await login(client, user.email, "not the password")
    unknown_email = await login(client, unique_email(), PASSWORD)

    assert_refused(wrong_password)
    assert_refused(unknown_email)
    assert wrong_password.content == unknown_email.content
    assert wrong_password.headers["content-type"] == unknown_email.headers["content-type"]


async def test_a_disabled_account_is_refused_like_a_wrong_password(
    endpoints: Endpoints, client: AsyncTestClient[Any], users: Users, passwords: Passwords
) -> None:
    user = await users.create(unique_email(), passwords.hash(PASSWORD))
    await disable(endpoints.mysql_url, user)

    disabled = await login(client, user.email, PASSWORD)
    unknown_email = await login(client, unique_email(), PASSWORD)

    assert_refused(disabled)
    assert disabled.content == unknown_email.content


async def disable(mysql_url: str, user: User) -> None:
    connection = await connect(**connection_options(mysql_url))
    try:
        cursor = await connection.cursor()
        await cursor.execute("UPDATE users SET is_active = FALSE WHERE id = %s", (user.id,))
        await cursor.close()
    finally:
        await connection.close()


@pytest.mark.parametrize(
    ("email", "password"),
    [
        ("' OR '1'='1", "' OR '1'='1"),
        ("' OR 1=1 -- ", PASSWORD),
        ("x'; DROP TABLE users; --", PASSWORD),
        ("admin@example.com' --", "anything"),
        ("a@example.com", "' OR '1'='1' --"),
        ('"; SELECT SLEEP(5); --', "x"),
    ],
)
async def test_sql_in_the_login_fields_is_refused_not_an_error(
    client: AsyncTestClient[Any], users: Users, passwords: Passwords, email: str, password: str
) -> None:
    user = await users.create(unique_email(), passwords.hash(PASSWORD))

    assert_refused(await login(client, email, password))

    assert (await login(client, user.email, PASSWORD)).status_code == 200, "the users table must still work"


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"",
        b"[]",
        b'{"email": "a@example.com"}',
        b'{"password": "pw"}',
        b'{"email": 42, "password": "pw"}',
        b'{"email": "a@example.com", "password": ""}',
        b'{"email": "a@example.com", "password": null}',
        b'{"email": "a@example.com", "password": "pw"',
    ],
)
async def test_a_malformed_body_is_a_client_error(client: AsyncTestClient[Any], body: bytes) -> None:
    response = await client.post("/v1/login", content=body, headers={"content-type": "application/json"})

    assert response.status_code in {400, 422}, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)


async def test_an_oversized_password_is_a_client_error(client: AsyncTestClient[Any]) -> None:
    response = await login(client, unique_email(), "x" * 10_000)

    assert response.status_code in {400, 422}, response.text


async def test_a_weak_stored_hash_is_upgraded_at_login(
    client: AsyncTestClient[Any], users: Users, passwords: Passwords
) -> None:
    weak_hash = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
    user = await users.create(unique_email(), weak_hash)

    assert (await login(client, user.email, PASSWORD)).status_code == 200

    stored = await users.by_email(user.email)
    assert stored is not None
    assert stored.password_hash != weak_hash
    assert not passwords.needs_rehash(stored.password_hash)
    assert (await login(client, user.email, PASSWORD)).status_code == 200


# --- keys and probes ----------------------------------------------------------------------


async def test_the_jwks_publishes_one_public_ed25519_key(client: AsyncTestClient[Any]) -> None:
    response = await client.get("/.well-known/jwks.json")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/jwk-set+json")
    (key,) = response.json()["keys"]
    assert (key["kty"], key["crv"], key["alg"], key["use"]) == ("OKP", "Ed25519", "EdDSA", "sig")
    assert "d" not in key, "the private key must never be published"


async def test_tokens_outlive_a_restart_with_the_same_key_file(
    settings: AuthSettings, users: Users, passwords: Passwords
) -> None:
    user = await users.create(unique_email(), passwords.hash(PASSWORD))
    async with AsyncTestClient(app=create_app(settings)) as before:
        token = (await login(before, user.email, PASSWORD)).json()["access_token"]

    async with AsyncTestClient(app=create_app(settings)) as after:
        assert (await verifier_from(after, settings)).verify(token).email == user.email


async def test_after_a_restart_with_a_new_key_tokens_of_the_previous_key_still_verify(
    settings: AuthSettings, users: Users, passwords: Passwords, tmp_path: Path
) -> None:
    """Rotation by settings: the new key in VIDMP3_SIGNING_KEY_FILE, the old one in
    VIDMP3_PREVIOUS_SIGNING_KEY_FILES until its tokens have expired."""
    user = await users.create(unique_email(), passwords.hash(PASSWORD))
    async with AsyncTestClient(app=create_app(settings)) as before:
        old_token = (await login(before, user.email, PASSWORD)).json()["access_token"]
    new_key = tmp_path / "new-signing.pem"
    new_key.write_bytes(generate_key_pem())
    assert settings.signing_key_file is not None
    rotated = settings.model_copy(
        update={"signing_key_file": new_key, "previous_signing_key_files": [settings.signing_key_file]}
    )

    async with AsyncTestClient(app=create_app(rotated)) as after:
        new_token = (await login(after, user.email, PASSWORD)).json()["access_token"]
        verifier = await verifier_from(after, settings)
        published = [key["kid"] for key in (await after.get("/.well-known/jwks.json")).json()["keys"]]

    assert published == [kid_of(new_token), kid_of(old_token)]
    assert verifier.verify(old_token).email == verifier.verify(new_token).email == user.email


async def test_rotate_key_adds_a_key_the_running_service_publishes_then_signs_with(
    endpoints: Endpoints, settings: AuthSettings, users: Users, passwords: Passwords, tmp_path: Path
) -> None:
    """Rotation by directory, without a restart: what the gateway sees through the JWKS."""
    keys = tmp_path / "keys"
    first = await run_cli(endpoints.mysql_url, "rotate-key", str(keys), stdin="")
    assert first[0] == 0, first[2]
    directory = settings.model_copy(
        update={
            "signing_key_file": None,
            "signing_key_dir": keys,
            "signing_key_reload_seconds": 0.01,
            "signing_key_activation_seconds": 2,
        }
    )
    user = await users.create(unique_email(), passwords.hash(PASSWORD))

    async with AsyncTestClient(app=create_app(directory)) as client:
        old_token = (await login(client, user.email, PASSWORD)).json()["access_token"]
        gateway_before = await verifier_from(client, settings)

        code, stdout, stderr = await run_cli(endpoints.mysql_url, "rotate-key", str(keys), stdin="")
        assert code == 0, stderr
        new_kid = stdout.split("(kid ")[1].rstrip(")\n")
        await asyncio.sleep(0.05)
        published_at_once = [key["kid"] for key in (await client.get("/.well-known/jwks.json")).json()["keys"]]
        still_old = (await login(client, user.email, PASSWORD)).json()["access_token"]
        await asyncio.sleep(2)
        new_token = (await login(client, user.email, PASSWORD)).json()["access_token"]
        gateway_after = await verifier_from(client, settings)

    assert published_at_once == [kid_of(old_token), new_kid], "published before it signs"
    assert kid_of(still_old) == kid_of(old_token)
    assert kid_of(new_token) == new_kid != kid_of(old_token)
    assert not gateway_before.knows(new_token), "a verifier with the old JWKS refetches on the new kid"
    assert gateway_after.verify(old_token).email == gateway_after.verify(new_token).email == user.email


async def test_rotate_key_retires_keys_replaced_long_enough_ago(endpoints: Endpoints, tmp_path: Path) -> None:
    for _ in range(3):
        code, _, stderr = await run_cli(endpoints.mysql_url, "rotate-key", str(tmp_path), stdin="")
        assert code == 0, stderr
    oldest = pem_names(tmp_path)[0]

    code, stdout, stderr = await run_cli(
        endpoints.mysql_url, "rotate-key", str(tmp_path), "--retire-after", "0", stdin=""
    )

    assert code == 0, stderr
    assert f"retired {tmp_path / 'retired' / oldest}" in stdout
    assert len(pem_names(tmp_path)) == 2
    assert len(pem_names(tmp_path / "retired")) == 2


def pem_names(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.glob("*.pem"))


def kid_of(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


async def test_health_and_ready(client: AsyncTestClient[Any]) -> None:
    health = await client.get("/health")
    ready = await client.get("/ready")

    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})


async def test_logins_are_counted_in_the_metrics(client: AsyncTestClient[Any]) -> None:
    await login(client, unique_email(), PASSWORD)

    # /metrics has a listener of its own (common.service.serve) serving this registry
    assert 'path="/v1/login"' in generate_latest(REGISTRY).decode()
    assert (await client.get("/metrics")).status_code == 404  # not on the service's port


# --- the CLI ------------------------------------------------------------------------------


async def run_cli(mysql_url: str, *args: str, stdin: str) -> tuple[int, str, str]:
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


async def test_create_user_makes_an_account_that_can_log_in(
    endpoints: Endpoints, client: AsyncTestClient[Any], settings: AuthSettings
) -> None:
    email = unique_email()

    code, stdout, stderr = await run_cli(
        endpoints.mysql_url, "create-user", email.upper(), "--admin", "--password-stdin", stdin=f"{PASSWORD}\n"
    )

    assert code == 0, stderr
    assert f"<{email}>" in stdout
    assert "(admin)" in stdout
    response = await login(client, email, PASSWORD)
    assert response.status_code == 200, response.text
    assert (await verifier_from(client, settings)).verify(response.json()["access_token"]).is_admin


async def test_create_user_twice_fails_saying_the_user_exists(endpoints: Endpoints) -> None:
    email = unique_email()
    first, _, first_error = await run_cli(endpoints.mysql_url, "create-user", email, "--password-stdin", stdin="pw1\n")

    code, stdout, stderr = await run_cli(endpoints.mysql_url, "create-user", email, "--password-stdin", stdin="pw2\n")

    assert first == 0, first_error
    assert code == 1
    assert f"a user with email {email} already exists" in stderr
    assert "Traceback" not in stderr
    assert "created" not in stdout


async def test_create_user_refuses_an_empty_password(endpoints: Endpoints, users: Users) -> None:
    email = unique_email()

    code, _, stderr = await run_cli(endpoints.mysql_url, "create-user", email, "--password-stdin", stdin="\n")

    assert code != 0
    assert "password must not be empty" in stderr
    assert await users.by_email(email) is None
