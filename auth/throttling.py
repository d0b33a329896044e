"""Limits on password guessing: a lockout per account and a token bucket per client address.

Pure logic: clocks are passed in, storage is someone else's.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from auth.users import normalize_email

__all__ = ["Failures", "LockoutPolicy", "TokenBuckets", "TooManyAttempts", "account_key"]


class TooManyAttempts(Exception):
    """Refused before checking anything: too many attempts; try again in ``retry_after`` seconds."""

    def __init__(self, retry_after: float, reason: str) -> None:
        super().__init__(reason)
        self.retry_after = retry_after
        self.reason = reason

    @property
    def retry_after_header(self) -> str:
        """Whole seconds, never 0 (``Retry-After: 0`` invites an immediate retry that fails again)."""
        return str(max(1, math.ceil(self.retry_after)))


def account_key(email: str) -> bytes:
    """What lockouts are keyed by: the same for an email with or without an account."""
    return hashlib.sha256(normalize_email(email).encode()).digest()


@dataclass(frozen=True)
class Failures:
    """An account's consecutive failed attempts."""

    count: int
    locked_until: float
    """Unix time; attempts before it are refused (0: not locked)."""
    forget_at: float
    """Unix time after which the count starts over."""


@dataclass(frozen=True)
class LockoutPolicy:
    """After ``threshold`` consecutive failures an account locks for ``base_seconds``, doubling with
    each further failure up to ``max_seconds``. Failures are forgotten ``reset_seconds`` after the
    last one (or after the lock ends, if later); a successful login forgets them at once.

    An attempt counts as a failure when it starts, and is forgiven if it succeeds: then attempts
    running at the same time cannot all slip in under the threshold.
    """

    threshold: int = 5
    base_seconds: float = 30.0
    max_seconds: float = 900.0
    reset_seconds: float = 3600.0

    def current(self, failures: Failures | None, now: float) -> Failures | None:
        return None if failures is None or now >= failures.forget_at else failures

    def retry_after(self, failures: Failures | None, now: float) -> float | None:
        """Seconds until the account takes attempts again, or ``None`` if it takes them now."""
        current = self.current(failures, now)
        return current.locked_until - now if current is not None and current.locked_until > now else None

    def after_attempt(self, failures: Failures | None, now: float) -> Failures:
        """The failures once an attempt (not refused by ``retry_after``) counts as one more."""
        current = self.current(failures, now)
        count = (current.count if current else 0) + 1
        locked_until = 0.0
        if count >= self.threshold:
            doublings = min(count - self.threshold, 32)
            locked_until = now + min(self.max_seconds, self.base_seconds * 2**doublings)
        return Failures(count, locked_until, max(now, locked_until) + self.reset_seconds)


class TokenBuckets:
    """One token bucket per key (a client address): ``capacity`` attempts at once, refilled at
    ``per_second``. Kept in this process's memory, for at most ``max_keys`` keys (the least
    recently used go first; a forgotten bucket comes back full)."""

    def __init__(
        self,
        capacity: float,
        per_second: float,
        *,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if capacity < 1 or per_second <= 0:
            raise ValueError("a token bucket needs a capacity of at least 1 and a positive refill rate")
        self._capacity, self._per_second, self._max_keys, self._clock = capacity, per_second, max_keys, clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, key: str) -> float:
        """Take a token: 0.0 if there was one, else the seconds until there is (nothing taken)."""
        now = self._clock()
        tokens, updated = self._buckets.pop(key, (self._capacity, now))
        tokens = min(self._capacity, tokens + (now - updated) * self._per_second)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / self._per_second
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
        return wait
