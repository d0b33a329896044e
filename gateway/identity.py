"""Who is calling: bearer tokens verified locally against the auth service's JWKS, and refused
once their session has ended (``gateway.revocations``); or API keys (``gateway.apikeys``), each
limited to its scopes and its rate.

A route says which scope a key needs in its ``opt`` (``{"scope": "jobs:write"}``); by default
reading methods (GET, HEAD) need ``jobs:read`` and the others ``jobs:write``. Routes with
``{"api_keys": False}`` take a person's token only."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from typing import Any

import httpx
import jwt
from litestar import Request
from litestar.di import NamedDependency
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    PermissionDeniedException,
    ServiceUnavailableException,
)

from auth.tokens import InvalidToken, Principal, TokenVerifier
from gateway.apikeys import KeyLimiter, KeyRefused, KeysUnchecked, KeyVerifier, is_api_key
from gateway.revocations import RevocationFeed, RevocationsUnknown, SessionEnded
from gateway.wording import (
    KEY_REFUSED,
    KEYS_NEED_PERSON,
    KEYS_UNCHECKED,
    NEED_LOGIN,
    SESSION_ENDED,
    SESSION_EXPIRED,
    SESSIONS_UNCHECKED,
    TOKEN_INVALID,
    key_lacks_scope,
    key_too_busy,
)

__all__ = ["Authenticator", "current_principal", "required_scope"]

log = logging.getLogger(__name__)

_READING = frozenset({"GET", "HEAD"})

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
        keys: KeyVerifier | None = None,
        key_limiter: KeyLimiter | None = None,
    ) -> None:
        self._http, self._jwks_url = http, jwks_url
        self._issuer, self._audience, self._refresh_seconds = issuer, audience, refresh_seconds
        self._leeway, self._revocations = leeway_seconds, revocations
        self._keys, self._key_limiter = keys, key_limiter
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
        """Who ``token`` (an access token or an API key) speaks for; ``InvalidToken`` if nobody."""
        if is_api_key(token):
            if self._keys is None:
                raise KeyRefused("unknown")
            principal = await self._keys.principal(token)
        else:
            principal = await self._token_principal(token)
        if self._revocations is not None:
            self._revocations.check(principal)
        return principal

    def key_wait(self, key_id: str) -> float:
        """Seconds the key must wait before its next request (0.0: go on)."""
        return self._key_limiter.wait(key_id) if self._key_limiter is not None else 0.0

    async def _token_principal(self, token: str) -> Principal:
        if self._verifier is None or not self._verifier.knows(token):
            try:
                await self._refresh()
            except httpx.HTTPError as error:
                if self._verifier is None:
                    raise InvalidToken("the token keys are unavailable") from error
        assert self._verifier is not None
        return self._verifier.verify(token)


def required_scope(request: Request[Any, Any, Any]) -> str | None:
    """The scope an API key needs for this request's route; ``None``: keys are not taken here."""
    opt = request.route_handler.opt
    if opt.get("api_keys") is False:
        return None
    scope = opt.get("scope")
    if isinstance(scope, str):
        return scope
    return "jobs:read" if request.method in _READING else "jobs:write"


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
        principal = await authenticator.authenticate(token.strip())
    except KeyRefused as error:
        raise NotAuthorizedException(
            KEY_REFUSED.get(error.reason, KEY_REFUSED["unknown"]),
            headers=_CHALLENGE,
            extra={"errors": [{"field": "Authorization", "message": str(error), "source": "header"}]},
        ) from None
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
    except KeysUnchecked:
        raise ServiceUnavailableException(KEYS_UNCHECKED, headers={"Retry-After": "5"}) from None
    if principal.key_id is not None:
        _admit_key(request, authenticator, principal, principal.key_id)
    return principal


def _admit_key(
    request: Request[Any, Any, Any], authenticator: Authenticator, principal: Principal, key_id: str
) -> None:
    """A key's request goes on if its route takes keys, the key has the scope and its rate allows."""
    scope = required_scope(request)
    if scope is None:
        raise PermissionDeniedException(KEYS_NEED_PERSON)
    if not principal.allows(scope):
        log.info(
            "API key %s lacks %s for %s %s", key_id, scope, request.method, request.url.path, extra={"key_id": key_id}
        )
        raise PermissionDeniedException(key_lacks_scope(scope))
    if wait := authenticator.key_wait(key_id):
        retry_after = str(max(1, math.ceil(wait)))
        log.info("API key %s over its rate: %s %s", key_id, request.method, request.url.path, extra={"key_id": key_id})
        raise HTTPException(status_code=429, detail=key_too_busy(retry_after), headers={"Retry-After": retry_after})
    log.info(
        "%s %s by API key %s",
        request.method,
        request.url.path,
        key_id,
        extra={"key_id": key_id, "user_id": principal.user_id},
    )
