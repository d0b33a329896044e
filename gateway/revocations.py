"""Which sessions have ended: the auth service's revocation log, followed by this gateway.

Access tokens are verified here alone, against auth's published keys; ending a session (logout,
a new password, a disabled or deleted user, a reused refresh token) is recorded in auth's log.
The gateway reads the whole log at start and then what follows its last number every
``poll_seconds``: one request per interval whatever the traffic, never one per API call. A
token of an ended session is refused from the next poll on. While the log cannot be read for
longer than ``max_stale_seconds`` (or was never read since this process started), tokens are
answered with 503 rather than taken unchecked.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable

import httpx

from auth.schemas import RevocationEntry, RevocationPage
from auth.tokens import InvalidToken, Principal
from gateway.apikeys import KeyRefused

__all__ = ["RevocationFeed", "RevocationList", "RevocationsUnknown", "SessionEnded"]

log = logging.getLogger(__name__)

_FORGET_EVERY_SECONDS = 60.0


class RevocationsUnknown(Exception):
    """The revocation log has not been read recently enough to vouch for any token."""


class SessionEnded(InvalidToken):
    """The token's session has ended (signed out, password changed, user disabled or deleted)."""


class RevocationList:
    """Revoked subjects (``session:<sid>``, ``key:<id>``) until they expire, and the last number seen."""

    def __init__(self) -> None:
        self._until: dict[str, float] = {}
        self.last_seq = 0

    def __len__(self) -> int:
        return len(self._until)

    def apply(self, entries: Iterable[RevocationEntry], now: float) -> None:
        for entry in entries:
            if entry.expires_at > now:
                self._until[entry.subject] = max(entry.expires_at, self._until.get(entry.subject, 0.0))
            self.last_seq = max(self.last_seq, entry.seq)

    def revoked(self, subject: str, now: float) -> bool:
        until = self._until.get(subject)
        return until is not None and now < until

    def forget_expired(self, now: float) -> int:
        expired = [subject for subject, until in self._until.items() if until <= now]
        for subject in expired:
            del self._until[subject]
        return len(expired)


class RevocationFeed:
    """Follows ``url`` (auth's ``GET /v1/revocations``) into a ``RevocationList``."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        url: str,
        *,
        poll_seconds: float = 1.0,
        max_stale_seconds: float = 60.0,
        page_size: int = 1000,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http, self._url = http, url
        self._poll_seconds, self._max_stale, self._page_size = poll_seconds, max_stale_seconds, page_size
        self._clock, self._monotonic = clock, monotonic
        self._list = RevocationList()
        self._fresh_at: float | None = None
        self._forgot_at = -float("inf")
        self._lock = asyncio.Lock()

    @property
    def revoked_count(self) -> int:
        return len(self._list)

    async def catch_up(self) -> None:
        """Read every revocation numbered after the last one seen; raises what the call raised."""
        async with self._lock:
            started = self._monotonic()
            while True:
                response = await self._http.get(
                    self._url, params={"after": self._list.last_seq, "limit": self._page_size}
                )
                response.raise_for_status()
                page = RevocationPage.model_validate_json(response.content)
                self._list.apply(page.revocations, self._clock())
                if not page.more:
                    break
            # what was read is as new as the moment the first request went out
            self._fresh_at = started
            if started - self._forgot_at >= _FORGET_EVERY_SECONDS:
                self._list.forget_expired(self._clock())
                self._forgot_at = started

    async def follow(self) -> None:
        """Catch up every ``poll_seconds``, for ever; failures are logged and retried."""
        failing = False
        while True:
            try:
                await self.catch_up()
                if failing:
                    log.info("reading the revocation log again (%d revoked sessions)", self.revoked_count)
                failing = False
            except (httpx.HTTPError, ValueError) as error:
                if not failing:  # once per outage, not once a second
                    log.warning("cannot read the revocation log at %s: %s", self._url, error)
                failing = True
            await asyncio.sleep(self._poll_seconds)

    def check(self, principal: Principal) -> None:
        """Raise ``InvalidToken`` for a token of an ended session (``KeyRefused`` for a revoked API
        key), ``RevocationsUnknown`` when the log is too old to tell."""
        if self._fresh_at is None or self._monotonic() - self._fresh_at > self._max_stale:
            raise RevocationsUnknown
        if principal.session_id is not None and self._list.revoked(f"session:{principal.session_id}", self._clock()):
            raise SessionEnded(f"session {principal.session_id} has ended")
        if principal.key_id is not None and self._list.revoked(f"key:{principal.key_id}", self._clock()):
            raise KeyRefused("revoked")

    async def ready(self) -> None:
        """For ``/ready``: the log was read at least once since this process started."""
        if self._fresh_at is None:
            raise ConnectionError("the revocation log has not been read yet")
