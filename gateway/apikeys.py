"""API keys at the gateway: who a key speaks for (auth's answer, kept a few seconds), and how
often it may be used.

A key (``vmk_<id>_<secret>``, see ``auth.apikeys``) is checked by auth's ``POST /v1/keys/verify``;
the answer, a holder or a refusal, is kept ``cache_seconds`` for at most ``cache_size`` keys, so
a busy program costs auth one call per key every few seconds. Revoking a key also lists
``key:<id>`` in the revocation log this gateway follows every second (``gateway.revocations``),
so a revoked key stops within about a second whatever is kept here. Kept entries are found by
the key's SHA-256; the key itself is never kept, nor logged (logs name the key's id).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from auth.apikeys import KEY_PREFIX, parse_key
from auth.schemas import KeyHolderView, KeyVerdict
from auth.throttling import TokenBuckets
from auth.tokens import InvalidToken, Principal

__all__ = ["KeyLimiter", "KeyRefused", "KeyVerifier", "KeysUnchecked", "is_api_key", "key_id_of"]

log = logging.getLogger(__name__)


def is_api_key(credential: str) -> bool:
    """Whether a bearer credential is an API key rather than an access token (a JWT)."""
    return credential.startswith(f"{KEY_PREFIX}_")


def key_id_of(credential: str) -> str | None:
    """The id of a key-shaped credential: what logs may name."""
    parsed = parse_key(credential)
    return parsed[0] if parsed else None


class KeyRefused(InvalidToken):
    """The key is not taken; ``reason`` is auth's (``unknown``, ``revoked``, ``expired``, ``disabled``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"API key refused: {reason}")
        self.reason = reason


class KeysUnchecked(Exception):
    """Auth cannot be asked about a key and nothing recent is known of it."""


@dataclass(frozen=True)
class _Kept:
    verdict: KeyVerdict
    until: float


def principal_of(holder: KeyHolderView) -> Principal:
    """A key's caller: its user, never an admin, limited to its scopes."""
    return Principal(
        user_id=holder.user_id,
        email=holder.email,
        roles=frozenset({"user"}),
        key_id=holder.key_id,
        scopes=frozenset(holder.scopes),
    )


class KeyVerifier:
    def __init__(
        self,
        http: httpx.AsyncClient,
        url: str,
        *,
        cache_seconds: float = 5.0,
        cache_size: int = 10_000,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http, self._url = http, url
        self._cache_seconds, self._cache_size = cache_seconds, cache_size
        self._clock, self._monotonic = clock, monotonic
        self._kept: OrderedDict[bytes, _Kept] = OrderedDict()

    async def _ask(self, key: str) -> KeyVerdict:
        try:
            response = await self._http.post(self._url, json={"key": key})
            response.raise_for_status()
            return KeyVerdict.model_validate_json(response.content)
        except (httpx.HTTPError, ValueError) as error:
            log.warning("cannot check API key %s at %s: %s", key_id_of(key), self._url, error)
            raise KeysUnchecked from error

    async def principal(self, key: str) -> Principal:
        """Who ``key`` speaks for; ``KeyRefused`` if auth refuses it (or it expired since),
        ``KeysUnchecked`` if auth cannot be asked."""
        digest = hashlib.sha256(key.encode()).digest()
        now = self._monotonic()
        kept = self._kept.get(digest)
        if kept is None or kept.until <= now:
            verdict = await self._ask(key) if parse_key(key) else KeyVerdict(refused="unknown")
            kept = _Kept(verdict, now + self._cache_seconds)
            self._kept[digest] = kept
            while len(self._kept) > self._cache_size:
                self._kept.popitem(last=False)
            if verdict.holder is not None:
                log.info(
                    "API key %s of user %s checked",
                    verdict.holder.key_id,
                    verdict.holder.user_id,
                    extra={"key_id": verdict.holder.key_id},
                )
        self._kept.move_to_end(digest)
        holder = kept.verdict.holder
        if holder is None:
            reason = kept.verdict.refused or "unknown"
            log.info("API key %s refused: %s", key_id_of(key), reason, extra={"key_id": key_id_of(key)})
            raise KeyRefused(reason)
        if holder.expires_at is not None and holder.expires_at <= self._clock():
            raise KeyRefused("expired")
        return principal_of(holder)


class KeyLimiter:
    """A token bucket per key id: ``burst`` requests at once, refilled at ``per_minute``."""

    def __init__(self, burst: int, per_minute: float, *, max_keys: int = 100_000) -> None:
        self._buckets = TokenBuckets(burst, per_minute / 60, max_keys=max_keys)

    def wait(self, key_id: str) -> float:
        """0.0 if the key may go on now, else the seconds until it may."""
        return self._buckets.take(key_id)
