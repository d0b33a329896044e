"""Each user's work in flight (jobs queued or converting), counted in units, by primary key.

A plain job takes one unit; an expensive one (``normalize``: two passes over the audio) takes
``normalize_units``. A user holds at most ``limit`` units at once; the gateway takes a job's
units before publishing it, and the projection gives them back when the job leaves
``IN_FLIGHT_STATES``, whichever way (converted, failed, cancelled, deleted).

Counted without a counter: FerretDB applies a conditional update non-atomically under
concurrency, but a single insert under a unique key is atomic. So each unit is a numbered
slot document, ``in_flight_slots`` ``<owner>:<n>`` (n < limit), taken by inserting it; the
job's ticket, ``in_flight_jobs`` ``<job>``, names the slots it holds so they are given back
by id. Every access is by ``_id``: a take tries at most ``limit`` inserts (the first free
ones), a release reads one ticket and deletes its slots.

A slot outlives its job only if a gateway died between taking it and publishing the job, or
the projection's release was lost: a user who finds no free slot has the held ones checked
(their jobs' status, by id) and those of jobs that ended, or never came to be, are freed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from common.mongo import Document
from contracts import ConversionOptions

__all__ = ["FORCED_OVERFLOW", "IN_FLIGHT_STATES", "InFlightLimit", "JobsInFlight", "TooManyJobs", "job_units"]

IN_FLIGHT_STATES = frozenset({"queued", "converting"})
"""A job's states while it holds its units: once converted (or failed, cancelled, deleted) the
converter's work for it is over, whether or not the email went out yet."""

FORCED_OVERFLOW = 64
"""Slots beyond the limit a forced take may use (an upload whose bytes are all in)."""

_SETTLING = timedelta(minutes=1)
"""A slot taken this recently may belong to a job being created right now: never freed."""

JobEnded = Callable[[str], Awaitable[bool]]
"""Whether a job has ended (or never came to be): its slots may be freed."""


@dataclass(frozen=True)
class InFlightLimit:
    limit: int = 8
    """Units a user may have in flight at once."""
    normalize_units: int = 4
    """Units a job with ``normalize`` takes (at most ``limit``)."""
    retry_after_seconds: int = 30
    """What a refusal's ``Retry-After`` says: about when a slot may have freed up."""


def job_units(options: ConversionOptions, limit: InFlightLimit) -> int:
    """The units a job with ``options`` takes."""
    return min(limit.limit, limit.normalize_units) if options.normalize else 1


class TooManyJobs(Exception):
    """The user has as much work in flight as allowed."""

    def __init__(self, limit: InFlightLimit) -> None:
        super().__init__(
            f"You have as many conversions queued or running as allowed at once ({limit.limit} units: a job "
            f"counts 1, or {min(limit.limit, limit.normalize_units)} with loudness normalization). Wait until "
            "one finishes, or cancel one, then upload again."
        )
        self.limit = limit
        self.retry_after = limit.retry_after_seconds


class JobsInFlight:
    """``ended``: tells whether a job ended, so a slot it kept can be freed (the gateway's;
    without it, as in the projection, which only releases, held slots are never checked)."""

    def __init__(
        self,
        database: AsyncDatabase[Document],
        limit: InFlightLimit | None = None,
        ended: JobEnded | None = None,
        *,
        settling: timedelta = _SETTLING,
    ) -> None:
        self._slots = database["in_flight_slots"]
        self._jobs = database["in_flight_jobs"]
        self.limit = limit or InFlightLimit()
        self._ended = ended
        self._settling = settling

    def _slot_ids(self, owner_id: str, count: int) -> list[str]:
        return [f"{owner_id}:{n}" for n in range(count)]

    async def has_room(self, owner_id: str, units: int = 1) -> bool:
        """Whether ``units`` slots are free now (a check before reading an upload; the take
        that follows decides)."""
        free = 0
        for slot in self._slot_ids(owner_id, self.limit.limit):
            if await self._slots.find_one({"_id": slot}, {"_id": 1}) is None:
                free += 1
                if free >= units:
                    return True
        if await self._free_ended(owner_id):
            return await self.has_room(owner_id, units)
        return False

    async def take(self, owner_id: str, job_id: str, units: int, *, force: bool = False) -> None:
        """Hold ``units`` slots of ``owner_id``'s for ``job_id``; ``TooManyJobs`` if they are not
        free. ``force``: never refuse (the upload's bytes are all in), use slots past the limit."""
        if await self._jobs.find_one({"_id": job_id}, {"_id": 1}) is not None:
            return  # taken already (a retried completion)
        count = self.limit.limit + (FORCED_OVERFLOW if force else 0)
        held: list[str] = []
        for looked_for_ended in (False, True):
            for slot in self._slot_ids(owner_id, count):
                if len(held) == units:
                    break
                with suppress(DuplicateKeyError):
                    await self._slots.insert_one({"_id": slot, "job_id": job_id, "taken_at": datetime.now(UTC)})
                    held.append(slot)
            if len(held) == units or looked_for_ended or not await self._free_ended(owner_id):
                break
        if len(held) < units and not force:
            await self._give_back(job_id, held)
            raise TooManyJobs(self.limit)
        await self._jobs.insert_one({"_id": job_id, "owner_id": owner_id, "slots": held, "at": datetime.now(UTC)})

    async def release(self, job_id: str) -> None:
        """The job ended (or never came to be): free its slots. Repeats change nothing."""
        ticket = await self._jobs.find_one({"_id": job_id})
        if ticket is None:
            return
        await self._give_back(job_id, ticket["slots"])
        await self._jobs.delete_one({"_id": job_id})

    async def held(self, owner_id: str) -> int:
        """Units ``owner_id`` holds within the limit (by id: ``limit`` lookups)."""
        return sum(
            [
                await self._slots.find_one({"_id": slot}, {"_id": 1}) is not None
                for slot in self._slot_ids(owner_id, self.limit.limit)
            ]
        )

    async def _give_back(self, job_id: str, slots: list[str]) -> None:
        for slot in slots:
            held = await self._slots.find_one({"_id": slot}, {"job_id": 1})
            if held is not None and held["job_id"] == job_id:
                await self._slots.delete_one({"_id": slot})

    async def _free_ended(self, owner_id: str) -> bool:
        """Free the slots of jobs that ended without giving them back; whether any was."""
        ended = self._ended
        if ended is None:
            return False
        settled = datetime.now(UTC) - self._settling
        verdicts: dict[str, bool] = {}
        for slot in self._slot_ids(owner_id, self.limit.limit):
            held = await self._slots.find_one({"_id": slot})
            if held is None or _aware(held["taken_at"]) > settled:
                continue
            job_id = held["job_id"]
            if job_id not in verdicts:
                verdicts[job_id] = await ended(job_id)
            if verdicts[job_id]:
                await self._give_back(job_id, [slot])  # a job without a ticket: slot by slot
        for job_id, over in verdicts.items():
            if over:
                await self.release(job_id)
        return any(verdicts.values())


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
