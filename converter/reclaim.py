"""Every converter sweeps for jobs to take over that no message covers: those whose worker
died mid-conversion after their delivery was acked (the lease lapsed) and those whose failed
attempt's retry is due while the worker that set it is gone. The record in
``conversion_claims`` is all that is needed to run them again. The first round comes
shortly after a start, so a restart does not put it off."""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress

from converter.worker import Converter

__all__ = ["Reclaimer"]

log = logging.getLogger(__name__)


class Reclaimer:
    def __init__(self, converter: Converter, interval_seconds: float) -> None:
        self._converter = converter
        self._interval = interval_seconds
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        await asyncio.sleep(min(1.0, self._interval))  # once the broker is started too
        while True:
            try:
                if started := await self._converter.reclaim():
                    log.info("took over %d job(s)", started)
            except Exception:  # storage away: the next round tries again
                log.exception("reclaim round failed")
            await asyncio.sleep(self._interval)
