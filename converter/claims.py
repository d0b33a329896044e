"""One conversion per job: a claim (a lease) taken before converting, renewed while it runs.

The claim is a single-document insert, atomic on MongoDB and FerretDB alike. A duplicate
``VideoUploaded`` that arrives while the job converts finds a live claim and is retried
later; one that arrives after finds the job done. A claim whose worker died stops being
renewed, goes stale, and the next delivery takes it over.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from uuid import UUID

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from common.mongo import Document

__all__ = ["ClaimOutcome", "ConversionClaims"]


class ClaimOutcome(StrEnum):
    CONVERT = "convert"
    """This worker converts the job now."""
    DONE = "done"
    """A worker converted it already: announce the stored MP3."""
    BUSY = "busy"
    """Another worker is converting it: try again later."""


class ConversionClaims:
    def __init__(self, database: Database[Document], lease: timedelta = timedelta(minutes=2)) -> None:
        self._claims = database["conversion_claims"]
        self.lease = lease

    def claim(self, job_id: UUID, worker: str) -> ClaimOutcome:
        now = datetime.now(UTC)
        try:
            self._claims.insert_one(
                {"_id": str(job_id), "state": "converting", "worker": worker, "renewed_at": now, "attempts": 1}
            )
        except DuplicateKeyError:
            pass
        else:
            return ClaimOutcome.CONVERT
        existing = self._claims.find_one({"_id": str(job_id)})
        if existing is None:  # released in between
            return self.claim(job_id, worker)
        if existing["state"] == "done":
            return ClaimOutcome.DONE
        if existing["renewed_at"] > now - self.lease:
            return ClaimOutcome.BUSY
        self._claims.update_one(
            {"_id": str(job_id)}, {"$set": {"worker": worker, "renewed_at": now}, "$inc": {"attempts": 1}}
        )
        return ClaimOutcome.CONVERT

    def renew(self, job_id: UUID) -> None:
        """Keep the lease while converting (call well within ``lease``)."""
        self._claims.update_one(
            {"_id": str(job_id), "state": "converting"}, {"$set": {"renewed_at": datetime.now(UTC)}}
        )

    def finish(self, job_id: UUID) -> None:
        self._claims.update_one({"_id": str(job_id)}, {"$set": {"state": "done", "finished_at": datetime.now(UTC)}})

    def release(self, job_id: UUID) -> None:
        """Give the claim back after a failed attempt, so the retry can take it at once."""
        self._claims.delete_one({"_id": str(job_id), "state": "converting"})
