"""Who is calling: bearer tokens verified locally against the auth service's JWKS, and refused
once their session has ended (``gateway.revocations``)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import jwt
from litestar import Request
from litestar.di import NamedDependency
from litestar.exceptions import NotAuthorizedException, ServiceUnavailableException

from auth.tokens import InvalidToken, Principal, TokenVerifier
from gateway.revocations import RevocationFeed, RevocationsUnknown, SessionEnded
from gateway.wording import NEED_LOGIN, SESSION_ENDED, SESSION_EXPIRED, SESSIONS_UNCHECKED, TOKEN_INVALID

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
        revocations: RevocationFeed | None = None,
    ) -> None:
        self._http, self._jwks_url = http, jwks_url
        self._issuer, self._audience, self._refresh_seconds = issuer, audience, refresh_seconds
        self._leeway, self._revocations = leeway_seconds, revocations
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
        principal = self._verifier.verify(token)
        if self._revocations is not None:
            self._revocations.check(principal)
        return principal


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
        words = SESSION_ENDED if isinstance(error, SessionEnded) else SESSION_EXPIRED if expired else TOKEN_INVALID
        raise NotAuthorizedException(
            words,
            headers=_CHALLENGE,
            extra={"errors": [{"field": "Authorization", "message": str(error), "source": "header"}]},
        ) from None
    except RevocationsUnknown:
        raise ServiceUnavailableException(SESSIONS_UNCHECKED, headers={"Retry-After": "5"}) from None
