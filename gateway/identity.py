"""Who is calling: bearer tokens verified locally against the auth service's JWKS."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import jwt
from litestar import Request
from litestar.di import NamedDependency
from litestar.exceptions import NotAuthorizedException

from auth.tokens import InvalidToken, Principal, TokenVerifier
from gateway.wording import NEED_LOGIN, SESSION_EXPIRED, TOKEN_INVALID

__all__ = ["Authenticator", "current_principal"]

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="vidmp3"'}


class Authenticator:
    """Verifies tokens with keys fetched from the JWKS URL, refetched when an unknown key
    appears (key rotation), at most once per ``refresh_seconds``."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        jwks_url: str,
        *,
        issuer: str,
        audience: str,
        refresh_seconds: float = 30.0,
        leeway_seconds: float = 5.0,
    ) -> None:
        self._http, self._jwks_url = http, jwks_url
        self._issuer, self._audience, self._refresh_seconds = issuer, audience, refresh_seconds
        self._leeway = leeway_seconds
        self._verifier: TokenVerifier | None = None
        self._fetched_at = -float("inf")
        self._lock = asyncio.Lock()

    async def _refresh(self) -> None:
        async with self._lock:
            if time.monotonic() - self._fetched_at < self._refresh_seconds and self._verifier is not None:
                return
            response = await self._http.get(self._jwks_url)
            response.raise_for_status()
            self._verifier = TokenVerifier(
                response.json(), issuer=self._issuer, audience=self._audience, leeway_seconds=self._leeway
            )
            self._fetched_at = time.monotonic()

    async def authenticate(self, token: str) -> Principal:
        if self._verifier is None or not self._verifier.knows(token):
            try:
                await self._refresh()
            except httpx.HTTPError as error:
                if self._verifier is None:
                    raise InvalidToken("the token keys are unavailable") from error
        assert self._verifier is not None
        return self._verifier.verify(token)


async def current_principal(
    request: Request[Any, Any, Any], authenticator: NamedDependency[Authenticator]
) -> Principal:
    """The caller named by the ``Authorization: Bearer`` token; 401 without a valid one."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthorizedException(
            NEED_LOGIN,
            headers=_CHALLENGE,
        )
    try:
        return await authenticator.authenticate(token.strip())
    except InvalidToken as error:
        expired = isinstance(error.__cause__, jwt.ExpiredSignatureError)
        raise NotAuthorizedException(
            SESSION_EXPIRED if expired else TOKEN_INVALID,
            headers=_CHALLENGE,
            extra={"errors": [{"field": "Authorization", "message": str(error), "source": "header"}]},
        ) from None
