"""Accounts over in-memory users, lockouts and sessions: who may log in, when guessing is
stopped (and that it cannot be turned against the owner), who is admin."""

from __future__ import annotations

import asyncio
import dataclasses
import statistics
import threading
import time
from typing import Any

import pytest
from argon2 import PasswordHasher
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from auth.hashing import HashingBusy, HashingSlots
from auth.passwords import Passwords
from auth.refresh import RefreshPolicy
from auth.service import Accounts, InvalidCredentials, NotAdmin, UnknownUser, WrongPassword
from auth.throttling import ACCOUNT_SLOWED, ADDRESS_LOCKED, GuessingPolicy, LockoutPolicy, TooManyAttempts
from auth.tokens import Principal, TokenIssuer, TokenVerifier
from auth.users import User, UserExists
from tests.unit.auth_fakes import Clock, MemoryLockouts, MemorySessions, MemoryUsers

PASSWORD = "correct horse battery staple"
POLICY = GuessingPolicy(
    per_address=LockoutPolicy(threshold=3, base_seconds=30, max_seconds=600, reset_seconds=3600),
    per_account=LockoutPolicy(threshold=6, base_seconds=1, max_seconds=8, reset_seconds=3600),
)
HOME = "198.51.100.10"
"""The owner's usual address."""
GUESSER = "203.0.113.66"


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
    users: MemoryUsers, passwords: Passwords, issuer: TokenIssuer, clock: Clock, **per_address: Any
) -> Accounts:
    policy = dataclasses.replace(POLICY, per_address=dataclasses.replace(POLICY.per_address, **per_address))
    sessions = MemorySessions(users, RefreshPolicy(), clock)
    return Accounts(users, passwords, issuer, MemoryLockouts(policy, clock), sessions, clock=clock)


@pytest.fixture
def accounts(users: MemoryUsers, passwords: Passwords, issuer: TokenIssuer, clock: Clock) -> Accounts:
    return accounts_of(users, passwords, issuer, clock)


async def outcome(accounts: Accounts, email: str, password: str, address: str = GUESSER) -> str:
    """What a caller learns from one login: ``ok``, ``refused``, ``locked <seconds>`` (this
    address is locked out of the account) or ``slowed <seconds>`` (the account is)."""
    try:
        await accounts.login(email, password, address)
    except InvalidCredentials:
        return "refused"
    except TooManyAttempts as error:
        kind = {ADDRESS_LOCKED: "locked", ACCOUNT_SLOWED: "slowed"}[error.reason]
        return f"{kind} {error.retry_after_header}"
    return "ok"


def principal_of(user: User) -> Principal:
    return Principal(user_id=str(user.id), email=user.email, roles=user.roles)


# --- logins -------------------------------------------------------------------------------


async def test_a_login_issues_a_token_for_the_user(accounts: Accounts, issuer: TokenIssuer) -> None:
    admin = await accounts.create("Root@Example.com", PASSWORD, is_admin=True)

    tokens = await accounts.login(" root@example.COM", PASSWORD, HOME)

    verifier = TokenVerifier(issuer.jwks(), issuer="vidmp3-auth", audience="vidmp3")
    principal = verifier.verify(tokens.access_token)
    assert principal == Principal(
        str(admin.id), "root@example.com", frozenset({"admin", "user"}), session_id=principal.session_id
    )
    assert principal.session_id is not None
    assert tokens.expires_in == 900


# --- guessing from one address ------------------------------------------------------------


async def test_guessing_locks_the_guessers_address_out_even_for_the_right_password(
    accounts: Accounts, clock: Clock
) -> None:
    await accounts.create("ada@example.com", PASSWORD)

    seen = [await outcome(accounts, "ada@example.com", guess) for guess in ["a", "b", "c", PASSWORD]]
    clock.now += 29
    seen.append(await outcome(accounts, "ada@example.com", PASSWORD))

    assert seen == ["refused", "refused", "refused", "locked 30", "locked 1"]


async def test_the_owner_at_their_usual_address_gets_in_while_a_guesser_is_locked_out(
    accounts: Accounts, clock: Clock
) -> None:
    """Issue 12, finding 3: five wrong passwords gave the real owner 429 for up to 15 minutes."""
    await accounts.create("carol@example.com", PASSWORD)
    assert await outcome(accounts, "carol@example.com", PASSWORD, HOME) == "ok"
    guesses = [await outcome(accounts, " CAROL@EXAMPLE.COM ", f"guess {n}") for n in range(40)]
    clock.now += 1

    assert await outcome(accounts, "carol@example.com", PASSWORD, HOME) == "ok"
    assert guesses[:3] == ["refused"] * 3
    assert set(guesses[3:]) == {"locked 30"}


async def test_the_lock_ends_and_a_success_forgets_the_addresses_failures(accounts: Accounts, clock: Clock) -> None:
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


# --- guessing from many addresses ---------------------------------------------------------


async def test_failures_from_many_addresses_slow_new_addresses_but_not_the_owners(
    accounts: Accounts, clock: Clock
) -> None:
    await accounts.create("ada@example.com", PASSWORD)
    assert await outcome(accounts, "ada@example.com", PASSWORD, HOME) == "ok"
    botnet = [f"192.0.2.{n}" for n in range(1, 40)]

    first = [await outcome(accounts, "ada@example.com", "guess", address) for address in botnet[:6]]
    refused_at_once = await outcome(accounts, "ada@example.com", "guess", botnet[6])

    assert first == ["refused"] * 6
    assert refused_at_once == "slowed 1"
    assert await outcome(accounts, "ada@example.com", PASSWORD, "192.0.2.200") == "slowed 1"
    clock.now += 1
    assert await outcome(accounts, "ada@example.com", PASSWORD, "192.0.2.200") == "ok", "a wait, not a lock"
    for address in botnet[7:14]:
        await outcome(accounts, "ada@example.com", "guess", address)
    assert await outcome(accounts, "ada@example.com", PASSWORD, HOME) == "ok", "the owner is not slowed"


async def test_the_slowdown_doubles_up_to_its_bound_and_never_locks(accounts: Accounts, clock: Clock) -> None:
    await accounts.create("ada@example.com", PASSWORD)
    waits = []
    for n in range(40):
        answer = await outcome(accounts, "ada@example.com", "guess", f"192.0.2.{n + 1}")
        if answer.startswith("slowed"):
            waits.append(int(answer.split()[1]))
            clock.now += waits[-1]

    assert waits[:4] == [1, 2, 4, 8]
    assert max(waits) == 8, "bounded: whoever waits that long gets a turn"


async def test_an_unknown_email_locks_exactly_like_an_existing_one(accounts: Accounts, clock: Clock) -> None:
    await accounts.create("ada@example.com", PASSWORD)

    def script(email: str) -> list[tuple[float, str, str]]:
        steps = [(0, GUESSER), (1, GUESSER), (1, GUESSER), (1, GUESSER), (20, GUESSER), (10, GUESSER)]
        return [(step, email, address) for step, address in steps] + [(0, email, f"192.0.2.{n}") for n in range(10)]

    async def run(email: str) -> list[str]:
        seen = []
        for step, address, client in script(email):
            clock.now += step
            seen.append(await outcome(accounts, address, "wrong guess", client))
        return seen

    assert await run("ada@example.com") == await run("nobody@example.com")


async def test_the_limits_are_per_account(accounts: Accounts) -> None:
    await accounts.create("ada@example.com", PASSWORD)
    for n in range(12):
        await outcome(accounts, "nobody@example.com", f"guess {n}", f"192.0.2.{n}")

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
        assert await outcome(accounts, email, "a wrong guess", HOME) == "refused"
        return time.process_time() - started

    known, unknown = [], []
    for _ in range(5):  # interleaved, so load from elsewhere hits both alike
        known.append(await duration("ada@example.com"))
        unknown.append(await duration("nobody@example.com"))

    ratio = statistics.median(unknown) / statistics.median(known)
    assert 0.5 < ratio < 2.0, f"unknown/known login time ratio {ratio:.2f} (known {statistics.median(known):.3f} s)"


# --- bounded hashing ----------------------------------------------------------------------


async def test_no_more_than_the_bound_hash_at_once_and_no_more_than_the_queue_wait() -> None:
    slots = HashingSlots(concurrency=2, queue=3)
    running, most = 0, 0
    lock, release = threading.Lock(), threading.Event()

    def work() -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        release.wait(10)
        with lock:
            running -= 1

    admitted = [asyncio.ensure_future(slots.run(work)) for _ in range(5)]
    await asyncio.sleep(0.2)
    with pytest.raises(HashingBusy):
        await slots.run(work)
    release.set()
    await asyncio.gather(*admitted)

    assert most == 2
    assert slots.admitted == 0
    await slots.run(work), "room again once they are done"
    slots.close()


# --- passwords ----------------------------------------------------------------------------


async def test_a_password_change_needs_the_current_password(accounts: Accounts) -> None:
    user = await accounts.create("ada@example.com", PASSWORD)

    with pytest.raises(WrongPassword):
        await accounts.change_password(principal_of(user), "not it", "a new password", HOME)
    await accounts.change_password(principal_of(user), PASSWORD, "a new password", HOME)

    assert await outcome(accounts, "ada@example.com", PASSWORD) == "refused"
    assert await outcome(accounts, "ada@example.com", "a new password") == "ok"


async def test_wrong_current_passwords_count_towards_the_lockout(accounts: Accounts) -> None:
    user = await accounts.create("ada@example.com", PASSWORD)
    for guess in ["a", "b", "c"]:
        with pytest.raises(WrongPassword):
            await accounts.change_password(principal_of(user), guess, "a new password", GUESSER)

    with pytest.raises(TooManyAttempts):
        await accounts.change_password(principal_of(user), PASSWORD, "a new password", GUESSER)
    assert await outcome(accounts, "ada@example.com", PASSWORD, GUESSER) == "locked 30"
    assert await outcome(accounts, "ada@example.com", PASSWORD, HOME) == "ok"


async def test_a_disabled_user_cannot_change_their_password(accounts: Accounts) -> None:
    user = await accounts.create("ada@example.com", PASSWORD)
    await accounts.set_active(user.id, active=False)

    with pytest.raises(InvalidCredentials):
        await accounts.change_password(principal_of(user), PASSWORD, "a new password", HOME)


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
