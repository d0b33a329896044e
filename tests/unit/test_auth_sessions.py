"""Sessions through ``Accounts`` over in-memory users and sessions: rotation, reuse detection,
expiry, and everything that ends a session."""

from __future__ import annotations

import dataclasses

import pytest
from argon2 import PasswordHasher
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from auth.passwords import Passwords
from auth.refresh import RefreshPolicy, SessionEnded, SessionState, TokenState, Verdict, WhyEnded, judge
from auth.service import Accounts, InvalidCredentials, Tokens
from auth.throttling import GuessingPolicy
from auth.tokens import Principal, TokenIssuer, TokenVerifier
from tests.unit.auth_fakes import Clock, MemoryLockouts, MemorySessions, MemoryUsers

PASSWORD = "correct horse battery staple"
ADDRESS = "198.51.100.7"
POLICY = RefreshPolicy(token_seconds=3600, session_seconds=4 * 3600, reuse_grace_seconds=10, per_user=3)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def users() -> MemoryUsers:
    return MemoryUsers()


@pytest.fixture
def sessions(users: MemoryUsers, clock: Clock) -> MemorySessions:
    return MemorySessions(users, POLICY, clock)


@pytest.fixture
def issuer() -> TokenIssuer:
    """On the real clock: the verifier checks expiry against it."""
    return TokenIssuer(Ed25519PrivateKey.generate(), issuer="vidmp3-auth", audience="vidmp3", ttl_seconds=900)


@pytest.fixture
def accounts(users: MemoryUsers, sessions: MemorySessions, issuer: TokenIssuer, clock: Clock) -> Accounts:
    passwords = Passwords(PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))
    return Accounts(users, passwords, issuer, MemoryLockouts(GuessingPolicy(), clock), sessions, clock=clock)


def principal(issuer: TokenIssuer, tokens: Tokens) -> Principal:
    return TokenVerifier(issuer.jwks(), issuer="vidmp3-auth", audience="vidmp3", leeway_seconds=0).verify(
        tokens.access_token
    )


async def ended(accounts: Accounts, refresh_token: str) -> WhyEnded:
    with pytest.raises(SessionEnded) as raised:
        await accounts.refresh(refresh_token)
    return raised.value.why


async def test_a_refresh_gives_new_tokens_of_the_same_session_and_uses_up_the_old_one(
    accounts: Accounts, issuer: TokenIssuer, clock: Clock
) -> None:
    await accounts.create("ada@example.com", PASSWORD)
    login = await accounts.login("ada@example.com", PASSWORD, ADDRESS)
    clock.now += 600

    refreshed = await accounts.refresh(login.refresh_token)

    assert refreshed.refresh_token != login.refresh_token
    assert (refreshed.expires_in, refreshed.refresh_expires_in) == (900, 3600)
    assert principal(issuer, refreshed).session_id == principal(issuer, login).session_id
    assert principal(issuer, refreshed).email == "ada@example.com"
    assert (await accounts.refresh(refreshed.refresh_token)).refresh_token != refreshed.refresh_token


async def test_a_used_token_sent_again_ends_its_whole_session(accounts: Accounts, clock: Clock) -> None:
    await accounts.create("ada@example.com", PASSWORD)
    login = await accounts.login("ada@example.com", PASSWORD, ADDRESS)
    first = await accounts.refresh(login.refresh_token)
    second = await accounts.refresh(first.refresh_token)
    clock.now += 11

    assert await ended(accounts, login.refresh_token) == WhyEnded.REUSE
    assert await ended(accounts, second.refresh_token) == WhyEnded.REUSE, "the newest token of the session too"


async def test_a_used_token_sent_again_within_seconds_gets_tokens_of_the_same_session(
    accounts: Accounts, issuer: TokenIssuer, clock: Clock
) -> None:
    """Two tabs refreshing with the same cookie at once: neither is signed out."""
    await accounts.create("ada@example.com", PASSWORD)
    login = await accounts.login("ada@example.com", PASSWORD, ADDRESS)
    tab_one = await accounts.refresh(login.refresh_token)
    clock.now += 10

    tab_two = await accounts.refresh(login.refresh_token)

    assert principal(issuer, tab_two).session_id == principal(issuer, tab_one).session_id
    assert await accounts.refresh(tab_one.refresh_token)
    assert await accounts.refresh(tab_two.refresh_token)


async def test_another_sessions_token_is_untouched_by_a_reuse(accounts: Accounts, clock: Clock) -> None:
    await accounts.create("ada@example.com", PASSWORD)
    laptop = await accounts.login("ada@example.com", PASSWORD, ADDRESS)
    phone = await accounts.login("ada@example.com", PASSWORD, ADDRESS)
    await accounts.refresh(laptop.refresh_token)
    clock.now += 60

    assert await ended(accounts, laptop.refresh_token) == WhyEnded.REUSE
    assert await accounts.refresh(phone.refresh_token)


async def test_refresh_tokens_expire_and_sessions_end_however_often_refreshed(accounts: Accounts, clock: Clock) -> None:
    await accounts.create("ada@example.com", PASSWORD)
    idle = await accounts.login("ada@example.com", PASSWORD, ADDRESS)
    busy = await accounts.login("ada@example.com", PASSWORD, ADDRESS)
    token = busy.refresh_token
    for _ in range(4):
        clock.now += 3000  # within the token's hour each time
        token = (await accounts.refresh(token)).refresh_token

    assert await ended(accounts, idle.refresh_token) == WhyEnded.EXPIRED
    clock.now += 2500  # within the hour of the last refresh, but 4 hours and more since the login
    assert await ended(accounts, token) == WhyEnded.EXPIRED


async def test_the_last_refresh_token_lasts_until_the_session_ends(accounts: Accounts, clock: Clock) -> None:
    await accounts.create("ada@example.com", PASSWORD)
    token = (await accounts.login("ada@example.com", PASSWORD, ADDRESS)).refresh_token
    for step in (3000, 3000, 3000, 3000, 600):  # 3.5 hours in
        clock.now += step
        refreshed = await accounts.refresh(token)
        token = refreshed.refresh_token

    assert refreshed.refresh_expires_in == 1800, "the session's end, not a full hour"


async def test_a_logout_ends_the_session_whichever_of_its_tokens_is_sent(accounts: Accounts) -> None:
    await accounts.create("ada@example.com", PASSWORD)
    login = await accounts.login("ada@example.com", PASSWORD, ADDRESS)
    other = await accounts.login("ada@example.com", PASSWORD, ADDRESS)
    latest = await accounts.refresh(login.refresh_token)

    await accounts.logout(login.refresh_token)
    await accounts.logout("not a token at all")

    assert await ended(accounts, latest.refresh_token) == WhyEnded.LOGOUT
    assert await accounts.refresh(other.refresh_token), "other sessions go on"


async def test_a_new_password_ends_every_session(accounts: Accounts, users: MemoryUsers) -> None:
    user = await accounts.create("ada@example.com", PASSWORD)
    login = await accounts.login("ada@example.com", PASSWORD, ADDRESS)
    other = await accounts.login("ada@example.com", PASSWORD, ADDRESS)

    await accounts.change_password(Principal(str(user.id), user.email, user.roles), PASSWORD, "a new password", ADDRESS)

    assert await ended(accounts, login.refresh_token) == WhyEnded.PASSWORD
    assert await ended(accounts, other.refresh_token) == WhyEnded.PASSWORD
    assert await accounts.login("ada@example.com", "a new password", ADDRESS)


async def test_disabling_or_deleting_a_user_ends_their_sessions(accounts: Accounts, sessions: MemorySessions) -> None:
    ada = await accounts.create("ada@example.com", PASSWORD)
    bob = await accounts.create("bob@example.com", PASSWORD)
    ada_login = await accounts.login("ada@example.com", PASSWORD, ADDRESS)
    bob_login = await accounts.login("bob@example.com", PASSWORD, ADDRESS)

    await accounts.set_active(ada.id, active=False)
    await accounts.set_active(ada.id, active=True)
    await accounts.delete(bob.id)

    assert await ended(accounts, ada_login.refresh_token) == WhyEnded.DISABLED, "enabling again revives none"
    assert await ended(accounts, bob_login.refresh_token) == WhyEnded.DELETED
    assert sessions.count(ada.id) == sessions.count(bob.id) == 0


async def test_a_refresh_for_a_user_disabled_behind_its_back_ends_the_session(
    accounts: Accounts, users: MemoryUsers
) -> None:
    """Disabled in the table alone (not through ``Accounts``): the refresh still finds out."""
    user = await accounts.create("ada@example.com", PASSWORD)
    login = await accounts.login("ada@example.com", PASSWORD, ADDRESS)
    await users.set_active(user.id, active=False)

    assert await ended(accounts, login.refresh_token) == WhyEnded.DISABLED
    await users.set_active(user.id, active=True)
    assert await ended(accounts, login.refresh_token) == WhyEnded.DISABLED


async def test_a_refresh_carries_the_roles_the_user_has_now(
    accounts: Accounts, users: MemoryUsers, issuer: TokenIssuer
) -> None:
    admin = await accounts.create("root@example.com", PASSWORD, is_admin=True)
    login = await accounts.login("root@example.com", PASSWORD, ADDRESS)
    users.rows[admin.id] = dataclasses.replace(admin, is_admin=False)

    assert principal(issuer, login).is_admin
    assert not principal(issuer, await accounts.refresh(login.refresh_token)).is_admin


async def test_a_login_beyond_the_limit_ends_the_oldest_session(accounts: Accounts, clock: Clock) -> None:
    await accounts.create("ada@example.com", PASSWORD)
    logins = []
    for _ in range(4):
        clock.now += 1
        logins.append(await accounts.login("ada@example.com", PASSWORD, ADDRESS))

    assert await ended(accounts, logins[0].refresh_token) == WhyEnded.CROWDED
    for login in logins[1:]:
        assert await accounts.refresh(login.refresh_token)


async def test_a_login_that_loses_a_race_with_a_password_change_starts_no_session(
    accounts: Accounts, users: MemoryUsers, sessions: MemorySessions
) -> None:
    user = await accounts.create("ada@example.com", PASSWORD)
    real_start = sessions.start

    async def password_changed_meanwhile(checked: object) -> object:
        await users.set_password_hash(user.id, "a hash of another password")
        return await real_start(checked)  # type: ignore[arg-type]

    sessions.start = password_changed_meanwhile  # type: ignore[assignment, method-assign]

    with pytest.raises(InvalidCredentials):
        await accounts.login("ada@example.com", PASSWORD, ADDRESS)
    assert sessions.count(user.id) == 0


@pytest.mark.parametrize(
    ("session", "token", "verdict"),
    [
        (SessionState(1, 2000, None, None), TokenState(1500, None), Verdict.ROTATE),
        (SessionState(1, 2000, None, None), TokenState(1500, 990), Verdict.SIBLING),
        (SessionState(1, 2000, None, None), TokenState(1500, 989), Verdict.REUSED),
        (SessionState(1, 2000, 900, WhyEnded.LOGOUT), TokenState(1500, None), Verdict.ENDED),
        (SessionState(1, 2000, None, None), TokenState(1000, None), Verdict.EXPIRED),
        (SessionState(1, 1000, None, None), TokenState(1500, None), Verdict.EXPIRED),
        (SessionState(1, 2000, 900, WhyEnded.REUSE), TokenState(1500, 500), Verdict.ENDED),
    ],
)
def test_what_a_presented_token_earns(session: SessionState, token: TokenState, verdict: Verdict) -> None:
    assert judge(session, token, 1000, POLICY) == verdict
