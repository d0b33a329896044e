"""Accounts: log in for tokens, refresh and end sessions, create, change the password of,
disable and enable users.

Every password check goes through the account's lockout first; the per-address limits are the
HTTP layer's (it knows the addresses). A login starts a session; whatever takes a user's
rights away (a new password, disabling) ends all their sessions.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from auth.hashing import HashingSlots
from auth.passwords import Passwords
from auth.refresh import IssuedRefresh, SessionEnded, WhyEnded
from auth.throttling import Attempt, TooManyAttempts
from auth.tokens import Principal, TokenIssuer
from auth.users import User

__all__ = [
    "Accounts",
    "InvalidCredentials",
    "LockoutStore",
    "NotAdmin",
    "SessionStore",
    "Tokens",
    "UnknownUser",
    "UserChanges",
    "UserStore",
    "WrongPassword",
]


class InvalidCredentials(Exception):
    """Unknown user, wrong password or disabled account: deliberately indistinguishable."""


class WrongPassword(Exception):
    """A signed-in user gave a wrong current password."""


class UnknownUser(Exception):
    """No user has that id."""


class NotAdmin(Exception):
    """The caller is not (or no longer) an active admin."""


class UserStore(Protocol):
    async def create(self, email: str, password_hash: str, *, is_admin: bool = False) -> User: ...
    async def by_email(self, email: str) -> User | None: ...
    async def by_id(self, user_id: int) -> User | None: ...
    async def set_password_hash(self, user_id: int, password_hash: str) -> None: ...
    async def set_active(self, user_id: int, *, active: bool) -> bool: ...
    async def set_admin(self, user_id: int, *, admin: bool) -> bool: ...
    async def delete(self, user_id: int) -> bool: ...


class LockoutStore(Protocol):
    async def begin_attempt(self, attempt: Attempt) -> TooManyAttempts | None: ...
    async def succeeded(self, attempt: Attempt) -> None: ...


class SessionStore(Protocol):
    async def start(self, user: User) -> IssuedRefresh | None: ...
    async def rotate(self, token: str) -> IssuedRefresh: ...
    async def end(self, session_id: uuid.UUID, why: WhyEnded) -> None: ...
    async def end_by_token(self, token: str, why: WhyEnded = WhyEnded.LOGOUT) -> uuid.UUID | None: ...
    async def end_all(self, user_id: int, why: WhyEnded) -> int: ...
    async def going(self, session_id: uuid.UUID) -> bool: ...


class UserChanges:
    """Changes to a user that take rights away, each ending the user's sessions after it is
    stored (a login racing it then cannot start a session: see ``SessionStore.start``). The
    API and the command line both go through here."""

    def __init__(self, users: UserStore, sessions: SessionStore) -> None:
        self._users, self._sessions = users, sessions

    async def set_password_hash(self, user_id: int, password_hash: str) -> None:
        await self._users.set_password_hash(user_id, password_hash)
        await self._sessions.end_all(user_id, WhyEnded.PASSWORD)

    async def set_active(self, user_id: int, *, active: bool) -> bool:
        """``False`` when there is no such user."""
        if not await self._users.set_active(user_id, active=active):
            return False
        if not active:
            await self._sessions.end_all(user_id, WhyEnded.DISABLED)
        return True

    async def set_admin(self, user_id: int, *, admin: bool) -> bool:
        """``False`` when there is no such user. Taking the role away ends the user's sessions:
        their tokens claim it until they expire."""
        if not await self._users.set_admin(user_id, admin=admin):
            return False
        if not admin:
            await self._sessions.end_all(user_id, WhyEnded.RIGHTS)
        return True

    async def delete(self, user_id: int) -> bool:
        """``False`` when there is no such user."""
        if not await self._users.delete(user_id):
            return False
        await self._sessions.end_all(user_id, WhyEnded.DELETED)
        return True


@dataclass(frozen=True)
class Tokens:
    """What a login or a refresh gives: a short access token and the refresh token for the next."""

    access_token: str
    expires_in: int
    refresh_token: str
    refresh_expires_in: int


def _user_id(principal: Principal) -> int | None:
    try:
        return int(principal.user_id)
    except ValueError:
        return None


class Accounts:
    def __init__(
        self,
        users: UserStore,
        passwords: Passwords,
        issuer: TokenIssuer,
        lockouts: LockoutStore,
        sessions: SessionStore,
        *,
        hashing: HashingSlots | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._users, self._passwords, self._issuer, self._lockouts = users, passwords, issuer, lockouts
        self._sessions, self._clock = sessions, clock
        self._hashing = hashing or HashingSlots()
        self._changes = UserChanges(users, sessions)

    async def _hash(self, password: str) -> str:
        # Argon2 is deliberately slow and large: off the event loop, a bounded number at once
        return await self._hashing.run(self._passwords.hash, password)

    async def _check_password(self, email: str, user: User | None, password: str, address: str) -> bool:
        """Whether ``password`` is ``user``'s, counted against the account named ``email`` and
        the client's ``address``.

        The same work whether or not the user exists, so neither the answer nor its timing
        tells which emails have accounts.
        """
        attempt = Attempt.of(email, address)
        if (refusal := await self._lockouts.begin_attempt(attempt)) is not None:
            raise refusal
        stored_hash = user.password_hash if user is not None else None
        if not await self._hashing.run(self._passwords.verify, stored_hash, password):
            return False
        assert user is not None  # the decoy hash never verifies
        await self._lockouts.succeeded(attempt)
        return True

    async def _rehash_if_weak(self, user: User, password: str) -> None:
        if self._passwords.needs_rehash(user.password_hash):
            await self._users.set_password_hash(user.id, await self._hash(password))

    async def login(self, email: str, password: str, address: str) -> Tokens:
        """A new session for the account, if ``password`` is its own; ``address``: the client's."""
        user = await self._users.by_email(email)
        # a disabled account is checked like an unknown one: against the decoy, so it always fails
        usable = user if user is not None and user.is_active else None
        if not await self._check_password(email, usable, password, address) or usable is None:
            raise InvalidCredentials
        # started against the hash just verified: a password change racing this login wins
        refresh = await self._sessions.start(usable)
        if refresh is None:
            raise InvalidCredentials
        await self._rehash_if_weak(usable, password)
        return self._tokens(usable, refresh)

    async def refresh(self, refresh_token: str) -> Tokens:
        """New tokens for the session of ``refresh_token`` (which is used up); ``SessionEnded``
        if it gives none. The user is read again: roles come from the account as it is now."""
        refresh = await self._sessions.rotate(refresh_token)
        user = await self._users.by_id(refresh.user_id)
        if user is None or not user.is_active:
            why = WhyEnded.DELETED if user is None else WhyEnded.DISABLED
            await self._sessions.end(refresh.session_id, why)
            raise SessionEnded(why)
        return self._tokens(user, refresh)

    async def logout(self, refresh_token: str) -> None:
        """End the session of ``refresh_token``, whichever of its tokens it is; nothing if unknown."""
        await self._sessions.end_by_token(refresh_token, WhyEnded.LOGOUT)

    def _tokens(self, user: User, refresh: IssuedRefresh) -> Tokens:
        principal = Principal(
            user_id=str(user.id), email=user.email, roles=user.roles, session_id=str(refresh.session_id)
        )
        return Tokens(
            access_token=self._issuer.issue(principal),
            expires_in=self._issuer.ttl_seconds,
            refresh_token=refresh.token,
            refresh_expires_in=max(0, round(refresh.expires_at - self._clock())),
        )

    async def change_password(
        self, principal: Principal, current_password: str, new_password: str, address: str
    ) -> None:
        """Needs the current password as well as the token: a stolen token alone must not do."""
        user = await self._active_user(principal)
        if user is None:
            raise InvalidCredentials
        if not await self._check_password(user.email, user, current_password, address):
            raise WrongPassword
        await self._changes.set_password_hash(user.id, await self._hash(new_password))

    async def create(self, email: str, password: str, *, is_admin: bool = False) -> User:
        return await self._users.create(email, await self._hash(password), is_admin=is_admin)

    async def set_active(self, user_id: int, *, active: bool) -> User:
        if not await self._changes.set_active(user_id, active=active):
            raise UnknownUser
        user = await self._users.by_id(user_id)
        if user is None:
            raise UnknownUser
        return user

    async def delete(self, user_id: int) -> None:
        if not await self._changes.delete(user_id):
            raise UnknownUser

    async def signed_in(self, principal: Principal) -> bool:
        """Whether the session of ``principal``'s token goes on (tokens without one: yes)."""
        if principal.session_id is None:
            return True
        try:
            session_id = uuid.UUID(principal.session_id)
        except ValueError:
            return False
        return await self._sessions.going(session_id)

    async def require_admin(self, principal: Principal) -> User:
        """The admin the token speaks for, checked against the users table as it is now: a
        demoted or disabled admin's token must not act as admin for the rest of its lifetime."""
        user = await self._active_user(principal) if principal.is_admin else None
        if user is None or not user.is_admin:
            raise NotAdmin
        return user

    async def _active_user(self, principal: Principal) -> User | None:
        user_id = _user_id(principal)
        user = await self._users.by_id(user_id) if user_id is not None else None
        return user if user is not None and user.is_active else None
