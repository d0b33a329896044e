"""How often a converting job reports progress: often enough to watch, never per packet.

The transcoder tells its callback about every second of audio, which for a fast encoder is
many times a second of wall time. A report goes out at most every ``min_interval`` seconds,
and only when the percentage moved by ``min_step`` or more; a source that states no duration
(no percentage to give) reports every ``heartbeat`` seconds, so the watchdog still sees it
alive. The callback runs in the conversion's thread: ``send`` must not block.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from uuid import UUID

from contracts import ConversionProgress

__all__ = ["ProgressThrottle"]


class ProgressThrottle:
    def __init__(
        self,
        job_id: UUID,
        send: Callable[[ConversionProgress], None],
        *,
        min_interval: float = 2.0,
        min_step: float = 1.0,
        heartbeat: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._job_id, self._send, self._clock = job_id, send, clock
        self._min_interval, self._min_step, self._heartbeat = min_interval, min_step, heartbeat
        self._last_at: float | None = None
        self._last_percent = 0.0
        self.sent = 0

    def __call__(self, done_seconds: float, total_seconds: float | None) -> None:
        now = self._clock()
        since = None if self._last_at is None else now - self._last_at
        if since is not None and since < self._min_interval:
            return
        if total_seconds:
            percent = min(100.0, max(0.0, 100.0 * done_seconds / total_seconds))
            moved = percent - self._last_percent >= self._min_step
            if not moved and (since is None or since < self._heartbeat):
                return
        else:
            percent = self._last_percent
            if since is not None and since < self._heartbeat:
                return
        self._last_at, self._last_percent = now, percent
        self.sent += 1
        self._send(
            ConversionProgress(
                job_id=self._job_id,
                percent=round(percent, 1),
                processed_seconds=max(0.0, done_seconds),
                total_seconds=total_seconds,
            )
        )
