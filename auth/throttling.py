"""Limits on password guessing, none of which a guesser can turn against an account's owner:

* a lockout per account *and client address*: five failures from one address lock that
  address out of that account (30 s, doubling to 15 minutes), and nobody else;
* a slowdown per account, every address together: after ten failures in a row, attempts from
  addresses that never logged in to the account are spaced (1 s, doubling to a minute). Not a
  lock: the owner from an address they logged in from before is not slowed at all, and anyone
  else waits a minute at most;
* a token bucket per client address, over every account.

Pure logic: clocks are passed in, storage is someone else's.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from auth.emails import normalize_email

__all__ = [
    "Attempt",
    "Failures",
    "GuessingPolicy",
    "LockoutPolicy",
    "TokenBuckets",
    "TooManyAttempts",
    "account_key",
    "address_key",
]


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
    """What an account's slowdown is keyed by: the same for an email with or without an account."""
    return hashlib.sha256(normalize_email(email).encode()).digest()


def address_key(email: str, address: str) -> bytes:
    """What a lockout, and a known address, is keyed by: the account and the client's address
    (its rate-limit key: an IPv6 client's /64). Hashed: no address is stored as it is."""
    return hashlib.sha256(b"address\0" + normalize_email(email).encode() + b"\0" + address.encode()).digest()


@dataclass(frozen=True)
class Attempt:
    """One password check: on which account, from which address (both as keys)."""

    account: bytes
    address: bytes

    @classmethod
    def of(cls, email: str, address: str) -> Attempt:
        return cls(account_key(email), address_key(email, address))


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
    """After ``threshold`` consecutive failures, attempts are refused for ``base_seconds``,
    doubling with each further failure up to ``max_seconds``. Failures are forgotten
    ``reset_seconds`` after the last one (or after the wait ends, if later); the caller decides
    whether a success forgets them at once.

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


ADDRESS_LOCKED = "too many failed attempts for this account from your address"
ACCOUNT_SLOWED = "this account has had many failed sign-ins, so attempts from new places must wait between them"


@dataclass(frozen=True)
class GuessingPolicy:
    """The two limits on guessing one account's password (see the module's docstring)."""

    per_address: LockoutPolicy = LockoutPolicy()
    per_account: LockoutPolicy = LockoutPolicy(threshold=10, base_seconds=1.0, max_seconds=60.0)
    known_address_seconds: float = 90 * 86400.0
    """An address the account logged in from is known (not slowed) this long after."""

    def refusal(
        self, account: Failures | None, address: Failures | None, *, known: bool, now: float
    ) -> TooManyAttempts | None:
        """Why an attempt is refused before its password is checked, if it is."""
        if (wait := self.per_address.retry_after(address, now)) is not None:
            return TooManyAttempts(wait, ADDRESS_LOCKED)
        if not known and (wait := self.per_account.retry_after(account, now)) is not None:
            return TooManyAttempts(wait, ACCOUNT_SLOWED)
        return None
