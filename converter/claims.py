"""One conversion per job, and one outcome, even when workers die or stall.

FerretDB applies a conditional update non-atomically under concurrency (two workers can both
"win" an ``update_one`` with a filter), but a single-document insert under a unique key is
atomic. So every decision that must be taken once is an insert:

- ``conversion_claims`` (``_id``: the job): the job is on record, with its whole
  ``VideoUploaded``. From then on the broker's delivery is no longer needed: it can be acked
  before the conversion ends (RabbitMQ's ``consumer_timeout``), and any converter can run the
  job again from here. Removed once the outcome is announced.
- ``conversion_attempts`` (``_id``: ``<job>:<n>``): whoever inserts attempt ``n`` owns the
  job; the attempt is its lease (``renewed_at``, written by its holder alone) and records the
  id its MP3 will get (``pending_mp3``) before the first chunk is written. A stale attempt is
  taken over by inserting ``n + 1``: of many workers trying at once, one lands.
- ``conversion_results`` (``_id``: the job): the outcome and the event announcing it,
  inserted once. A holder that stalled past its lease may still finish; the insert decides
  whose MP3 is the job's, and the loser removes its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

from bson import ObjectId
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from common.mongo import Document
from contracts import VideoUploaded

__all__ = ["Attempt", "Claim", "ClaimOutcome", "ConversionClaims", "Outcome", "Result"]


class ClaimOutcome(StrEnum):
    CONVERT = "convert"
    """This worker holds the job's newest attempt: convert it now."""
    DONE = "done"
    """The job has its outcome: announce it again (a worker may have died before it did)."""
    BUSY = "busy"
    """Another worker holds a live attempt, or a failed one waits for its retry time."""


class Outcome(StrEnum):
    CONVERTED = "converted"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    event: dict[str, Any] | None
    """The event announcing it (JSON), re-published as is, with the same event id."""
    mp3_file_id: str | None = None


@dataclass(frozen=True)
class Attempt:
    job_id: UUID
    number: int
    worker: str
    pending_mp3: ObjectId
    """The id this attempt's MP3 gets, on record before any of its chunks exists."""
    earlier_mp3s: tuple[ObjectId, ...] = ()
    """What earlier attempts meant to write and nobody has cleaned up yet."""

    @property
    def key(self) -> str:
        return _attempt_id(self.job_id, self.number)


@dataclass(frozen=True)
class Claim:
    outcome: ClaimOutcome
    attempt: Attempt | None = None
    """Set for ``CONVERT``, and for ``DONE`` when the outcome turned up after an attempt was taken."""
    result: Result | None = None
    leftover_mp3s: tuple[ObjectId, ...] = ()
    """For ``DONE``: pending files of earlier attempts that may still need removing."""


def _nobody_gone(_: str) -> bool:
    return False


def _attempt_id(job_id: UUID, number: int) -> str:
    return f"{job_id}:{number}"


class ConversionClaims:
    """``lease``: how long an attempt lives without being renewed (its holder renews it well
    within that); a stale one belongs to a worker that died or stalled, and is taken over."""

    def __init__(self, database: Database[Document], lease: timedelta = timedelta(minutes=2)) -> None:
        self.database = database
        self._claims = database["conversion_claims"]
        self._attempts = database["conversion_attempts"]
        self._results = database["conversion_results"]
        self.lease = lease

    # --- the job on record -------------------------------------------------------------

    def record(self, uploaded: VideoUploaded) -> None:
        """Put the job on record (again: a repeat changes nothing)."""
        with suppress(DuplicateKeyError):
            self._claims.insert_one(
                {"_id": str(uploaded.job_id), "uploaded": uploaded.model_dump(mode="json"), "at": datetime.now(UTC)}
            )

    def unfinished(self) -> list[VideoUploaded]:
        """Every job on record without an announced outcome (a handful: those converting)."""
        return [VideoUploaded.model_validate(document["uploaded"]) for document in self._claims.find({})]

    def forget(self, job_id: UUID) -> None:
        """The outcome is announced: the job needs no converter any more."""
        self._claims.delete_one({"_id": str(job_id)})

    # --- attempts ----------------------------------------------------------------------

    def claim(self, job_id: UUID, worker: str, gone: Callable[[str], bool] = _nobody_gone) -> Claim:
        """Take the job's next attempt if nobody holds a live one (an attempt whose holder is
        ``gone`` is not live, whatever its lease says)."""
        if (result := self.result(job_id)) is not None:
            return Claim(ClaimOutcome.DONE, result=result, leftover_mp3s=self._leftovers(self._attempts_of(job_id)))
        attempts = list(self._attempts_of(job_id))
        now = datetime.now(UTC)
        if attempts and _alive(attempts[-1], now, self.lease, gone):
            return Claim(ClaimOutcome.BUSY)
        number = len(attempts) + 1
        attempt = Attempt(job_id, number, worker, ObjectId(), self._leftovers(attempts))
        try:
            self._attempts.insert_one(
                {
                    "_id": attempt.key,
                    "job_id": str(job_id),
                    "worker": worker,
                    "state": "converting",
                    "started_at": now,
                    "renewed_at": now,
                    "pending_mp3": attempt.pending_mp3,
                }
            )
        except DuplicateKeyError:
            return Claim(ClaimOutcome.BUSY)  # another worker took this very attempt
        # an outcome inserted while we looked: the attempt changes nothing then
        if (result := self.result(job_id)) is not None:
            return Claim(
                ClaimOutcome.DONE,
                attempt=attempt,
                result=result,
                leftover_mp3s=(*attempt.earlier_mp3s, attempt.pending_mp3),
            )
        return Claim(ClaimOutcome.CONVERT, attempt=attempt)

    def free_at(self, job_id: UUID, gone: Callable[[str], bool] = _nobody_gone) -> datetime | None:
        """When the job may be claimed (now or earlier: at once; later: its holder's lease or
        its retry time); ``None`` once it has an outcome. Reads only, by id."""
        if self.result(job_id) is not None:
            return None
        attempts = list(self._attempts_of(job_id))
        now = datetime.now(UTC)
        if not attempts or not _alive(attempts[-1], now, self.lease, gone):
            return now
        last = attempts[-1]
        free: datetime = last["retry_at"] if last["state"] == "released" else last["renewed_at"] + self.lease
        return free

    def renew(self, attempt: Attempt) -> bool:
        """Keep the lease; ``False`` once a later attempt has taken the job over."""
        self._attempts.update_one({"_id": attempt.key}, {"$set": {"renewed_at": datetime.now(UTC)}})
        return not self.superseded(attempt)

    def superseded(self, attempt: Attempt) -> bool:
        return self._attempts.find_one({"_id": _attempt_id(attempt.job_id, attempt.number + 1)}, {"_id": 1}) is not None

    def release(self, attempt: Attempt, retry_at: datetime) -> None:
        """The attempt broke (storage away, shutting down): another may start at ``retry_at``."""
        self._attempts.update_one({"_id": attempt.key}, {"$set": {"state": "released", "retry_at": retry_at}})

    def cleaned(self, job_id: UUID, mp3s: tuple[ObjectId, ...]) -> None:
        """The pending files ``mp3s`` are settled (kept as the job's MP3, or removed)."""
        for document in self._attempts_of(job_id):
            if document["pending_mp3"] in mp3s and not document.get("cleaned"):
                self._attempts.update_one({"_id": document["_id"]}, {"$set": {"cleaned": True}})

    def mp3s_of(self, job_id: UUID) -> list[ObjectId | str]:
        """Every MP3 id the job's attempts meant to write, and its outcome's: all it may have."""
        result = self.result(job_id)
        known: list[ObjectId | str] = [result.mp3_file_id] if result is not None and result.mp3_file_id else []
        return known + [document["pending_mp3"] for document in self._attempts_of(job_id)]

    # --- the outcome -------------------------------------------------------------------

    def result(self, job_id: UUID) -> Result | None:
        document = self._results.find_one({"_id": str(job_id)})
        return None if document is None else _result(document)

    def finish(self, job_id: UUID, result: Result) -> Result:
        """Record ``result`` unless the job has one already; returns the one that counts."""
        try:
            self._results.insert_one(
                {
                    "_id": str(job_id),
                    "outcome": result.outcome.value,
                    "event": result.event,
                    "mp3_file_id": result.mp3_file_id,
                    "at": datetime.now(UTC),
                }
            )
        except DuplicateKeyError:
            existing = self.result(job_id)
            assert existing is not None  # results are never removed
            return existing
        return result

    def _attempts_of(self, job_id: UUID) -> Iterator[Document]:
        # by primary key, attempt after attempt: on FerretDB any other query scans the collection
        number = 1
        while (document := self._attempts.find_one({"_id": _attempt_id(job_id, number)})) is not None:
            yield document
            number += 1

    @staticmethod
    def _leftovers(attempts: Iterator[Document] | list[Document]) -> tuple[ObjectId, ...]:
        return tuple(document["pending_mp3"] for document in attempts if not document.get("cleaned"))


def _alive(attempt: Document, now: datetime, lease: timedelta, gone: Callable[[str], bool] = _nobody_gone) -> bool:
    if attempt["state"] == "converting":
        return bool(attempt["renewed_at"] > now - lease) and not gone(attempt["worker"])
    if attempt["state"] == "released":
        return bool(attempt["retry_at"] > now)
    return False


def _result(document: Document) -> Result:
    return Result(Outcome(document["outcome"]), document.get("event"), document.get("mp3_file_id"))
