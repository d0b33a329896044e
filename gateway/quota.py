"""The stored-bytes quota per user: an upload that would take a user past it is refused.

What a user stores is the sum their job list's head keeps (``JobQueries.oldest_stored``, one
or two lookups by key): a job counts its video until retention removes it (as soon as its
conversion is final) and its MP3 until the job expires or is deleted. The counts follow the
projection by a moment, so uploads sent at the same instant may pass the quota together by
at most what they hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from litestar.exceptions import HTTPException

from common.retention import expiry_of
from gateway.wording import over_quota, quota_held_by_work
from projections.queries import JobQueries

__all__ = ["QUOTA_RETRY_SECONDS", "Quota"]

QUOTA_RETRY_SECONDS = 60
"""Retry-After of a 429: unfinished jobs' videos go as soon as they finish."""


@dataclass(frozen=True)
class Quota:
    queries: JobQueries
    limit: int
    retention: timedelta
    videos_removed_when_final: bool = True

    async def admit(self, owner_id: str, incoming: int = 0) -> None:
        """Refuse an upload of ``incoming`` bytes (0: unknown yet) that would take ``owner_id``
        past the quota: 429 while unfinished jobs hold bytes that will be freed, else 413."""
        totals, oldest = await self.queries.oldest_stored(owner_id)
        if totals.bytes + incoming <= self.limit and totals.bytes < self.limit:
            return
        if totals.in_flight and self.videos_removed_when_final:
            raise HTTPException(
                status_code=429,
                detail=quota_held_by_work(totals.bytes, self.limit, totals.in_flight),
                headers={"Retry-After": str(QUOTA_RETRY_SECONDS)},
            )
        expires = expiry_of(oldest.finished_at, self.retention) if oldest is not None else None
        raise HTTPException(status_code=413, detail=over_quota(totals.bytes, incoming, self.limit, expires))
