"""HTTP plumbing of the auth API: per-address limits, bearer tokens, domain errors as problems."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from litestar import Request
from litestar.exceptions import (
    ClientException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    ServiceUnavailableException,
    TooManyRequestsException,
)
from litestar.status_codes import HTTP_409_CONFLICT

from auth.addresses import IPNetwork, client_address, rate_limit_key
from auth.apikeys import TooManyKeys, UnknownKey
from auth.hashing import HashingBusy
from auth.refresh import SessionEnded
from auth.service import InvalidCredentials, NotAdmin, UnknownUser, WrongPassword
from auth.throttling import TokenBuckets, TooManyAttempts
from auth.tokens import InvalidToken, Principal, TokenIssuer, TokenVerifier
from auth.users import UserExists

__all__ = ["CHALLENGE", "BearerTokens", "Throttle", "problems"]

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="vidmp3"'}


@contextmanager
def problems() -> Iterator[None]:
    """Domain errors as HTTP problems (``application/problem+json``), mapped here and only here."""
    try:
        yield
    except InvalidCredentials:
        raise NotAuthorizedException("invalid email or password") from None
    except SessionEnded as error:
        raise NotAuthorizedException(error.why.detail) from None
    except TooManyAttempts as error:
        raise TooManyRequestsException(error.reason, headers={"Retry-After": error.retry_after_header}) from None
    except HashingBusy:
        raise ServiceUnavailableException(
            "too many sign-ins are being checked right now; try again in a few seconds", headers={"Retry-After": "2"}
        ) from None
    except WrongPassword:
        raise PermissionDeniedException("the current password is wrong") from None
    except NotAdmin:
        raise PermissionDeniedException("only an admin may do this") from None
    except UnknownUser:
        raise NotFoundException("no such user") from None
    except TooManyKeys as error:
        raise ClientException(str(error), status_code=HTTP_409_CONFLICT) from None
    except UnknownKey:
        raise NotFoundException("you have no API key with this id (it may have been revoked already)") from None
    except UserExists:
        raise ClientException("a user with this email already exists", status_code=HTTP_409_CONFLICT) from None


class Throttle:
    """A token bucket per client address; the address from ``X-Forwarded-For`` only when the
    peer is a trusted proxy."""

    def __init__(self, buckets: TokenBuckets, trusted_proxies: Sequence[IPNetwork], reason: str) -> None:
        self._buckets, self._trusted_proxies, self._reason = buckets, trusted_proxies, reason

    def address(self, request: Request[Any, Any, Any]) -> str:
        peer = request.client.host if request.client else None
        return client_address(peer, request.headers.getall("x-forwarded-for", []), self._trusted_proxies)

    def check(self, request: Request[Any, Any, Any]) -> None:
        """Take a token for the caller's address, or raise ``TooManyAttempts``."""
        if wait := self._buckets.take(rate_limit_key(self.address(request))):
            raise TooManyAttempts(wait, self._reason)


class BearerTokens:
    """Verifies ``Authorization: Bearer`` tokens as every other service does: against this
    service's JWKS, with the issuer and audience pinned."""

    def __init__(self, issuer: TokenIssuer, *, issuer_name: str, audience: str) -> None:
        self._issuer, self._issuer_name, self._audience = issuer, issuer_name, audience
        self._verifier: TokenVerifier | None = None
        self._kids: list[str] = []

    def _current_verifier(self) -> TokenVerifier:
        jwks = self._issuer.jwks()
        kids = [str(key["kid"]) for key in jwks["keys"]]
        if self._verifier is None or kids != self._kids:  # the keys rotated
            self._verifier = TokenVerifier(jwks, issuer=self._issuer_name, audience=self._audience)
            self._kids = kids
        return self._verifier

    def principal(self, request: Request[Any, Any, Any]) -> Principal:
        """Who the bearer token speaks for; 401 without a valid one."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthorizedException("a bearer token is required", headers=CHALLENGE)
        try:
            return self._current_verifier().verify(token.strip())
        except InvalidToken as error:
            raise NotAuthorizedException(f"invalid token: {error}", headers=CHALLENGE) from None
