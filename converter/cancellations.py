"""Jobs cancelled or deleted, on record for every converter. Blocking (worker threads).

``JobCancelled`` and ``JobDeleted`` are consumed by whichever converter the broker picks, not
necessarily the one converting the job, and may arrive before the job's ``VideoUploaded`` is
handled at all. So the consumer records them (an insert, kept forever like the job's
events), and converters look here before starting a job and, while converting, every second.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from common.mongo import Document
from contracts import JobCancelled, JobDeleted

__all__ = ["Cancellation", "Cancellations"]


@dataclass(frozen=True)
class Cancellation:
    deleted: bool
    """The job was deleted, not only cancelled: its MP3 must not stay either."""


class Cancellations:
    def __init__(self, database: Database[Document]) -> None:
        self._jobs = database["cancelled_jobs"]

    def record(self, event: JobCancelled | JobDeleted) -> None:
        deleted = isinstance(event, JobDeleted)
        try:
            self._jobs.insert_one({"_id": str(event.job_id), "deleted": deleted, "at": datetime.now(UTC)})
        except DuplicateKeyError:
            if deleted:  # only ever set to true, so concurrent writers cannot undo each other
                self._jobs.update_one({"_id": str(event.job_id)}, {"$set": {"deleted": True}})

    def find(self, job_id: UUID) -> Cancellation | None:
        document = self._jobs.find_one({"_id": str(job_id)})
        return None if document is None else Cancellation(deleted=bool(document["deleted"]))
