"""Signed access tokens: EdDSA (Ed25519) JWTs, verified against the issuer's JWKS.

The algorithm is pinned on verification, so ``alg: none`` and HMAC-with-the-public-key
tokens are refused; ``exp``, ``iat``, ``nbf``, ``iss``, ``aud``, ``sub`` and ``jti`` are required.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

from auth.keys import SigningKeys, StaticKeys, generate_key_pem, key_id, load_private_key

__all__ = [
    "ALGORITHM",
    "InvalidToken",
    "Principal",
    "TokenIssuer",
    "TokenVerifier",
    "generate_key_pem",
    "key_id",
    "load_private_key",
]

ALGORITHM = "EdDSA"
_REQUIRED = ["exp", "iat", "nbf", "iss", "aud", "sub", "jti"]


class InvalidToken(Exception):
    """The token is missing, malformed, expired, not yet valid or not signed by a known key."""


@dataclass(frozen=True)
class Principal:
    """Who a valid token speaks for."""

    user_id: str
    email: str
    roles: frozenset[str]
    session_id: str | None = None
    """The session (login) the token was issued for: its ``sid`` claim. Ending the session
    revokes the token."""
    key_id: str | None = None
    """The API key the caller sent instead of a token (``auth.apikeys``); ``None`` for tokens."""
    scopes: frozenset[str] | None = None
    """What an API key may do (``jobs:read``, ``jobs:write``); ``None``: whatever the roles allow."""

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    def allows(self, scope: str) -> bool:
        return self.scopes is None or scope in self.scopes


class TokenIssuer:
    """Signs tokens with the newest key; publishes every key still in use."""

    def __init__(
        self,
        keys: SigningKeys | Ed25519PrivateKey,
        *,
        issuer: str,
        audience: str,
        ttl_seconds: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._keys = StaticKeys(keys) if isinstance(keys, Ed25519PrivateKey) else keys
        self._issuer, self._audience, self._ttl, self._clock = issuer, audience, ttl_seconds, clock

    @property
    def ttl_seconds(self) -> int:
        return self._ttl

    def issue(self, principal: Principal) -> str:
        now = int(self._clock())
        claims = {
            "sub": principal.user_id,
            "email": principal.email,
            "roles": sorted(principal.roles),
            "iss": self._issuer,
            "aud": self._audience,
            "iat": now,
            "nbf": now,
            "exp": now + self._ttl,
            "jti": str(uuid.uuid4()),
        }
        if principal.session_id is not None:
            claims["sid"] = principal.session_id
        key = self._keys.signing_key()
        return jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid})

    def jwks(self) -> dict[str, Any]:
        """The public key set verifiers fetch (RFC 7517): every key whose tokens still verify."""
        return {
            "keys": [
                OKPAlgorithm.to_jwk(key.public_key, as_dict=True) | {"kid": key.kid, "use": "sig", "alg": ALGORITHM}
                for key in self._keys.published()
            ]
        }


class TokenVerifier:
    def __init__(self, jwks: dict[str, Any], *, issuer: str, audience: str, leeway_seconds: float = 5) -> None:
        keys = jwt.PyJWKSet.from_dict(jwks).keys
        self._keys = {key.key_id: key for key in keys if key.algorithm_name == ALGORITHM}
        self._issuer, self._audience, self._leeway = issuer, audience, leeway_seconds

    def knows(self, token: str) -> bool:
        """Whether the token names a key this verifier has (else the JWKS may need a refresh)."""
        try:
            return jwt.get_unverified_header(token).get("kid") in self._keys
        except jwt.PyJWTError:
            return True  # malformed: a refresh would not help

    def verify(self, token: str) -> Principal:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = self._keys.get(kid)
            if key is None:
                raise InvalidToken("token signed by an unknown key")
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": _REQUIRED},
            )
        except jwt.PyJWTError as error:
            raise InvalidToken(str(error)) from error
        roles = claims.get("roles", [])
        email = claims.get("email")
        session_id = claims.get("sid")
        if not isinstance(roles, list) or not isinstance(email, str):
            raise InvalidToken("token lacks the email or roles claims")
        if session_id is not None and not isinstance(session_id, str):
            raise InvalidToken("the token's session is not a string")
        return Principal(
            user_id=str(claims["sub"]), email=email, roles=frozenset(map(str, roles)), session_id=session_id
        )
