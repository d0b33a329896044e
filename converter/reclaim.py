"""Every converter looks for jobs to take over: those whose worker died mid-conversion (the
lease went stale) and those whose failed attempt's retry is due. Their deliveries were acked
long ago; the record in ``conversion_claims`` is all that is needed to run them again."""

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
        while True:
            await asyncio.sleep(self._interval)  # the first round once the broker is started too
            try:
                if started := await self._converter.reclaim():
                    log.info("took over %d job(s)", started)
            except Exception:  # storage away: the next round tries again
                log.exception("reclaim round failed")
