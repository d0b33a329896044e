"""Accounts over in-memory users and lockouts: who may log in, when guessing is stopped, who is admin."""

from __future__ import annotations

import dataclasses
import statistics
import time
from typing import Any

import pytest
from argon2 import PasswordHasher
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from auth.passwords import Passwords
from auth.refresh import RefreshPolicy
from auth.service import Accounts, InvalidCredentials, NotAdmin, UnknownUser, WrongPassword
from auth.throttling import LockoutPolicy, TooManyAttempts
from auth.tokens import Principal, TokenIssuer, TokenVerifier
from auth.users import User, UserExists
from tests.unit.auth_fakes import Clock, MemoryLockouts, MemorySessions, MemoryUsers

PASSWORD = "correct horse battery staple"
POLICY = LockoutPolicy(threshold=3, base_seconds=30, max_seconds=600, reset_seconds=3600)


@pytest.fixture(scope="module")
def passwords() -> Passwords:
    # fast parameters: these tests count attempts, they do not time them
    return Passwords(PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def issuer() -> TokenIssuer:
    return TokenIssuer(Ed25519PrivateKey.generate(), issuer="vidmp3-auth", audience="vidmp3", ttl_seconds=900)


@pytest.fixture
def users() -> MemoryUsers:
    return MemoryUsers()


def accounts_of(
    users: MemoryUsers, passwords: Passwords, issuer: TokenIssuer, clock: Clock, **lockout: Any
) -> Accounts:
    policy = dataclasses.replace(POLICY, **lockout) if lockout else POLICY
    sessions = MemorySessions(users, RefreshPolicy(), clock)
    return Accounts(users, passwords, issuer, MemoryLockouts(policy, clock), sessions, clock=clock)


@pytest.fixture
def accounts(users: MemoryUsers, passwords: Passwords, issuer: TokenIssuer, clock: Clock) -> Accounts:
    return accounts_of(users, passwords, issuer, clock)


async def outcome(accounts: Accounts, email: str, password: str) -> str:
    """What a caller learns from one login: ``ok``, ``refused`` or ``locked <seconds>``."""
    try:
        await accounts.login(email, password)
    except InvalidCredentials:
        return "refused"
    except TooManyAttempts as error:
        return f"locked {error.retry_after_header}"
    return "ok"


def principal_of(user: User) -> Principal:
    return Principal(user_id=str(user.id), email=user.email, roles=user.roles)


# --- logins and lockouts ------------------------------------------------------------------


async def test_a_login_issues_a_token_for_the_user(accounts: Accounts, issuer: TokenIssuer) -> None:
    admin = await accounts.create("Root@Example.com", PASSWORD, is_admin=True)

    tokens = await accounts.login(" root@example.COM", PASSWORD)

    verifier = TokenVerifier(issuer.jwks(), issuer="vidmp3-auth", audience="vidmp3")
    principal = verifier.verify(tokens.access_token)
    assert principal == Principal(
        str(admin.id), "root@example.com", frozenset({"admin", "user"}), session_id=principal.session_id
    )
    assert principal.session_id is not None
    assert tokens.expires_in == 900


async def test_guessing_locks_the_account_even_for_the_right_password(accounts: Accounts, clock: Clock) -> None:
    await accounts.create("ada@example.com", PASSWORD)

    seen = [await outcome(accounts, "ada@example.com", guess) for guess in ["a", "b", "c", PASSWORD]]
    clock.now += 29
    seen.append(await outcome(accounts, "ada@example.com", PASSWORD))

    assert seen == ["refused", "refused", "refused", "locked 30", "locked 1"]


async def test_the_lock_ends_and_a_success_forgets_the_failures(accounts: Accounts, clock: Clock) -> None:
    await accounts.create("ada@example.com", PASSWORD)
    for guess in ["a", "b", "c"]:
        await outcome(accounts, "ada@example.com", guess)

    clock.now += 30
    assert await outcome(accounts, "ada@example.com", PASSWORD) == "ok"
    assert [await outcome(accounts, "ada@example.com", guess) for guess in ["d", "e", "f", "g"]] == [
        "refused",
        "refused",
        "refused",
        "locked 30",
    ], "after a success the count starts over"


async def test_failures_after_a_lock_double_it(accounts: Accounts, clock: Clock) -> None:
    for guess in ["a", "b", "c"]:
        await outcome(accounts, "ada@example.com", guess)
    clock.now += 30

    assert await outcome(accounts, "ada@example.com", "d") == "refused"
    assert await outcome(accounts, "ada@example.com", "e") == "locked 60"


async def test_an_unknown_email_locks_exactly_like_an_existing_one(accounts: Accounts, clock: Clock) -> None:
    await accounts.create("ada@example.com", PASSWORD)

    def script(email: str) -> list[tuple[float, str]]:
        return [(0, email), (1, email), (1, email), (1, email), (20, email), (10, email), (0, email), (0, email)]

    async def run(email: str) -> list[str]:
        seen = []
        for step, address in script(email):
            clock.now += step
            seen.append(await outcome(accounts, address, "wrong guess"))
        return seen

    assert await run("ada@example.com") == await run("nobody@example.com")


async def test_the_lockout_is_per_account(accounts: Accounts) -> None:
    await accounts.create("ada@example.com", PASSWORD)
    for guess in ["a", "b", "c"]:
        await outcome(accounts, "nobody@example.com", guess)

    assert await outcome(accounts, "ADA@example.com", PASSWORD) == "ok"


async def test_a_disabled_user_is_refused_and_counted_like_an_unknown_one(
    accounts: Accounts, users: MemoryUsers
) -> None:
    user = await accounts.create("ada@example.com", PASSWORD)
    await accounts.set_active(user.id, active=False)

    seen = [await outcome(accounts, "ada@example.com", PASSWORD) for _ in range(4)]

    assert seen == ["refused", "refused", "refused", "locked 30"]
    assert (await users.by_id(user.id)) == dataclasses.replace(user, is_active=False)


async def test_an_unknown_user_takes_about_as_long_as_a_wrong_password(users: MemoryUsers, clock: Clock) -> None:
    """With the real Argon2 parameters, in CPU time (other processes' load does not count);
    loose bounds: only a missing decoy would be caught."""
    accounts = accounts_of(
        users,
        Passwords(),
        TokenIssuer(Ed25519PrivateKey.generate(), issuer="i", audience="a", ttl_seconds=60),
        clock,
        threshold=1000,
    )
    await accounts.create("ada@example.com", PASSWORD)

    async def duration(email: str) -> float:
        started = time.process_time()
        assert await outcome(accounts, email, "a wrong guess") == "refused"
        return time.process_time() - started

    known, unknown = [], []
    for _ in range(5):  # interleaved, so load from elsewhere hits both alike
        known.append(await duration("ada@example.com"))
        unknown.append(await duration("nobody@example.com"))

    ratio = statistics.median(unknown) / statistics.median(known)
    assert 0.5 < ratio < 2.0, f"unknown/known login time ratio {ratio:.2f} (known {statistics.median(known):.3f} s)"


# --- passwords ----------------------------------------------------------------------------


async def test_a_password_change_needs_the_current_password(accounts: Accounts) -> None:
    user = await accounts.create("ada@example.com", PASSWORD)

    with pytest.raises(WrongPassword):
        await accounts.change_password(principal_of(user), "not it", "a new password")
    await accounts.change_password(principal_of(user), PASSWORD, "a new password")

    assert await outcome(accounts, "ada@example.com", PASSWORD) == "refused"
    assert await outcome(accounts, "ada@example.com", "a new password") == "ok"


async def test_wrong_current_passwords_count_towards_the_lockout(accounts: Accounts) -> None:
    user = await accounts.create("ada@example.com", PASSWORD)
    for guess in ["a", "b", "c"]:
        with pytest.raises(WrongPassword):
            await accounts.change_password(principal_of(user), guess, "a new password")

    with pytest.raises(TooManyAttempts):
        await accounts.change_password(principal_of(user), PASSWORD, "a new password")
    assert await outcome(accounts, "ada@example.com", PASSWORD) == "locked 30"


async def test_a_disabled_user_cannot_change_their_password(accounts: Accounts) -> None:
    user = await accounts.create("ada@example.com", PASSWORD)
    await accounts.set_active(user.id, active=False)

    with pytest.raises(InvalidCredentials):
        await accounts.change_password(principal_of(user), PASSWORD, "a new password")


async def test_a_weak_hash_is_upgraded_at_login(users: MemoryUsers, issuer: TokenIssuer, clock: Clock) -> None:
    accounts = accounts_of(users, Passwords(), issuer, clock)
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
    user = await users.create("ada@example.com", weak)

    assert await outcome(accounts, "ada@example.com", PASSWORD) == "ok"

    stored = await users.by_id(user.id)
    assert stored is not None
    assert stored.password_hash != weak
    assert not Passwords().needs_rehash(stored.password_hash)


# --- admins -------------------------------------------------------------------------------


async def test_only_an_active_admin_per_the_users_table_is_an_admin(accounts: Accounts, users: MemoryUsers) -> None:
    admin = await accounts.create("root@example.com", PASSWORD, is_admin=True)
    user = await accounts.create("ada@example.com", PASSWORD)

    assert await accounts.require_admin(principal_of(admin)) == admin
    with pytest.raises(NotAdmin):
        await accounts.require_admin(principal_of(user))
    with pytest.raises(NotAdmin):
        # a token claiming admin for a user who is not one (say, demoted since it was issued)
        await accounts.require_admin(Principal(str(user.id), user.email, frozenset({"admin", "user"})))
    await accounts.set_active(admin.id, active=False)
    with pytest.raises(NotAdmin):
        await accounts.require_admin(principal_of(admin))
    with pytest.raises(NotAdmin):
        await accounts.require_admin(Principal("not-a-number", "x@example.com", frozenset({"admin"})))
    assert len(users.rows) == 2


async def test_disabling_an_unknown_user_says_so(accounts: Accounts) -> None:
    with pytest.raises(UnknownUser):
        await accounts.set_active(404, active=False)


async def test_an_email_is_taken_once(accounts: Accounts) -> None:
    await accounts.create("ada@example.com", PASSWORD)

    with pytest.raises(UserExists):
        await accounts.create(" ADA@example.com", "another password")
