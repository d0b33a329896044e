"""Logins: check the credentials, issue a token."""

from __future__ import annotations

import asyncio

from auth.passwords import Passwords
from auth.tokens import Principal, TokenIssuer
from auth.users import Users

__all__ = ["InvalidCredentials", "LoginService"]


class InvalidCredentials(Exception):
    """Unknown user, wrong password or disabled account: deliberately indistinguishable."""


class LoginService:
    def __init__(self, users: Users, passwords: Passwords, issuer: TokenIssuer) -> None:
        self._users, self._passwords, self._issuer = users, passwords, issuer

    async def login(self, email: str, password: str) -> str:
        user = await self._users.by_email(email)
        # Argon2 is deliberately slow: keep it off the event loop
        matches = await asyncio.to_thread(self._passwords.verify, user.password_hash if user else None, password)
        if user is None or not matches or not user.is_active:
            raise InvalidCredentials
        if self._passwords.needs_rehash(user.password_hash):
            await self._users.set_password_hash(user.id, await asyncio.to_thread(self._passwords.hash, password))
        roles = frozenset({"admin", "user"} if user.is_admin else {"user"})
        return self._issuer.issue(Principal(user_id=str(user.id), email=user.email, roles=roles))
