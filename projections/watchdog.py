"""No job stays unfinished forever: jobs with no sign of life for too long are failed.

A job queued past ``queued_timeout`` (no converter took it) or converting past
``converting_timeout`` without a progress report (its worker hung or died with the message
lost) gets a ``ConversionFailed`` with reason ``timed_out``. The event id is derived from the
job, so several watchdogs (one per projection process) announce the same fact once. A round
reads only the unfinished jobs (``active_jobs``, small by design), never the statuses.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from contracts import ConversionFailed, Event, FailureReason
from projections.job_status import JobState
from projections.store import ActiveJobs

__all__ = ["Watchdog"]

log = logging.getLogger(__name__)


class Watchdog:
    def __init__(
        self,
        active: ActiveJobs,
        publish: Callable[[Event], Awaitable[None]],
        *,
        queued_timeout: timedelta,
        converting_timeout: timedelta,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._active, self._publish, self._clock = active, publish, clock
        self._timeouts = {JobState.QUEUED: queued_timeout, JobState.CONVERTING: converting_timeout}

    async def sweep(self) -> int:
        """Fail every job idle past its state's timeout; returns how many."""
        failed = 0
        for state, timeout in self._timeouts.items():
            for job_id in await self._active.idle(state, self._clock() - timeout):
                await self._publish(
                    ConversionFailed(
                        event_id=uuid.uuid5(job_id, FailureReason.TIMED_OUT),
                        job_id=job_id,
                        reason=FailureReason.TIMED_OUT,
                        message=f"no sign of life for {timeout.total_seconds():.0f} s while {state}",
                    )
                )
                log.warning("timed out while %s", state, extra={"job_id": str(job_id)})
                failed += 1
        return failed

    async def run(self, interval_seconds: float) -> None:
        while True:
            await asyncio.sleep(interval_seconds)
            try:
                await self.sweep()
            except Exception:  # store or broker away: the next round tries again
                log.exception("watchdog round failed")
