"""Accounts: log in for a token, create, change the password of, disable and enable users.

Every password check goes through the account's lockout first; the per-address limits are the
HTTP layer's (it knows the addresses).
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from auth.passwords import Passwords
from auth.throttling import TooManyAttempts, account_key
from auth.tokens import Principal, TokenIssuer
from auth.users import User

__all__ = [
    "Accounts",
    "InvalidCredentials",
    "LockoutStore",
    "NotAdmin",
    "UnknownUser",
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


class LockoutStore(Protocol):
    async def begin_attempt(self, account: bytes) -> float | None: ...
    async def forgive(self, account: bytes) -> None: ...


def _user_id(principal: Principal) -> int | None:
    try:
        return int(principal.user_id)
    except ValueError:
        return None


class Accounts:
    def __init__(self, users: UserStore, passwords: Passwords, issuer: TokenIssuer, lockouts: LockoutStore) -> None:
        self._users, self._passwords, self._issuer, self._lockouts = users, passwords, issuer, lockouts

    async def _hash(self, password: str) -> str:
        # Argon2 is deliberately slow: keep it off the event loop
        return await asyncio.to_thread(self._passwords.hash, password)

    async def _check_password(self, email: str, user: User | None, password: str) -> bool:
        """Whether ``password`` is ``user``'s, counted against the account named ``email``.

        The same work whether or not the user exists, so neither the answer nor its timing
        tells which emails have accounts.
        """
        account = account_key(email)
        if (retry_after := await self._lockouts.begin_attempt(account)) is not None:
            raise TooManyAttempts(retry_after, "too many failed attempts for this account")
        stored_hash = user.password_hash if user is not None else None
        if not await asyncio.to_thread(self._passwords.verify, stored_hash, password):
            return False
        assert user is not None  # the decoy hash never verifies
        await self._lockouts.forgive(account)
        if self._passwords.needs_rehash(user.password_hash):
            await self._users.set_password_hash(user.id, await self._hash(password))
        return True

    async def login(self, email: str, password: str) -> str:
        user = await self._users.by_email(email)
        # a disabled account is checked like an unknown one: against the decoy, so it always fails
        usable = user if user is not None and user.is_active else None
        if not await self._check_password(email, usable, password) or usable is None:
            raise InvalidCredentials
        return self._issuer.issue(Principal(user_id=str(usable.id), email=usable.email, roles=usable.roles))

    async def change_password(self, principal: Principal, current_password: str, new_password: str) -> None:
        """Needs the current password as well as the token: a stolen token alone must not do."""
        user = await self._active_user(principal)
        if user is None:
            raise InvalidCredentials
        if not await self._check_password(user.email, user, current_password):
            raise WrongPassword
        await self._users.set_password_hash(user.id, await self._hash(new_password))

    async def create(self, email: str, password: str, *, is_admin: bool = False) -> User:
        return await self._users.create(email, await self._hash(password), is_admin=is_admin)

    async def set_active(self, user_id: int, *, active: bool) -> User:
        if not await self._users.set_active(user_id, active=active):
            raise UnknownUser
        user = await self._users.by_id(user_id)
        if user is None:
            raise UnknownUser
        return user

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
