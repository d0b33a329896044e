"""How the read model is stored: the documents the projection writes and the queries read.

- ``job_status``: ``_id`` the job, the ``JobStatus`` as JSON.
- ``active_jobs`` (small by design): ``_id`` the job, while it is not finished: its state and
  last sign of life, all the watchdog reads.
- ``job_index``: the per-owner lists (``projections.job_index``), ``<owner>:head`` and
  ``<owner>:<page>``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from pymongo.asynchronous.collection import AsyncCollection

from common.mongo import Document
from projections.job_index import EVERYONE, Entry, Head, PageSummary, Position, Totals
from projections.job_status import JobStatus

__all__ = [
    "EVERYONE",
    "MongoIndexStore",
    "active_document",
    "index_entry",
    "position_of",
    "status_document",
    "status_of",
]


def status_document(status: JobStatus) -> Document:
    return status.model_dump(mode="json") | {"_id": str(status.job_id)}


def status_of(document: Document) -> JobStatus:
    return JobStatus.model_validate({key: value for key, value in document.items() if key != "_id"})


def last_sign_of_life(status: JobStatus) -> datetime | None:
    """A state change or a progress report, whichever came last."""
    return max((t for t in (status.updated_at, status.progress_at) if t is not None), default=None)


def active_document(status: JobStatus) -> Document | None:
    """The job's entry among unfinished jobs; ``None`` once it is finished or deleted."""
    if status.finished or status.deleted_at is not None:
        return None
    return {"_id": str(status.job_id), "state": status.state.value, "active_at": last_sign_of_life(status)}


def position_of(status: JobStatus) -> Position | None:
    """Where the job sorts in its owner's list; ``None`` before its upload is folded in."""
    if status.created_at is None:
        return None
    return Position.at(status.created_at, str(status.job_id))


def index_entry(status: JobStatus) -> tuple[str, Entry] | None:
    """The owner and the job's entry in the lists; ``None`` if it is not listed (deleted, or
    its upload not folded in yet)."""
    position = position_of(status)
    if position is None or status.owner_id is None or status.deleted_at is not None:
        return None
    # the parts stay in the job's own document: a page holds 100 jobs, each up to 100 parts
    snapshot = status.model_dump(mode="json", exclude={"mp3_parts"}) if status.finished else None
    return status.owner_id, Entry(position, status.stored_bytes, not status.finished, snapshot)


def _head_key(owner: str) -> str:
    return f"{owner}:head"


def _page_key(owner: str, page: int) -> str:
    return f"{owner}:{page:08d}"


class MongoIndexStore:
    """The lists' heads and pages as documents, each read and written by its key.

    Each holds its content as one JSON string: FerretDB spends its time per value it decodes
    (measured: a page of 100 finished statuses as nested documents took 170-260 ms to read, as
    one string 25-35 ms, on a busy machine), and MongoDB gains nothing from nesting here."""

    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._documents = collection

    async def head(self, owner: str) -> Head:
        document = await self._documents.find_one({"_id": _head_key(owner)})
        if document is None:
            return Head()
        raw = json.loads(document["head"])
        pages = [
            PageSummary(page, Position(ms, job), Totals(jobs, size, flying))
            for page, ms, job, jobs, size, flying in raw["pages"]
        ]
        return Head(pages, raw["next_page"])

    async def page(self, owner: str, page: int) -> list[Entry] | None:
        document = await self._documents.find_one({"_id": _page_key(owner, page)})
        if document is None:
            return None
        return [
            Entry(Position(ms, job), size, flying, status)
            for ms, job, size, flying, status in json.loads(document["entries"])
        ]

    async def put_head(self, owner: str, head: Head) -> None:
        key = _head_key(owner)
        pages = [
            [s.page, s.low.ms, s.low.job_id, s.totals.jobs, s.totals.bytes, s.totals.in_flight] for s in head.pages
        ]
        document = {"_id": key, "head": json.dumps({"pages": pages, "next_page": head.next_page})}
        await self._documents.replace_one({"_id": key}, document, upsert=True)

    async def put_page(self, owner: str, page: int, entries: Sequence[Entry]) -> None:
        key = _page_key(owner, page)
        rows = [[e.position.ms, e.position.job_id, e.bytes, e.in_flight, e.snapshot] for e in entries]
        await self._documents.replace_one({"_id": key}, {"_id": key, "entries": json.dumps(rows)}, upsert=True)

    async def drop_page(self, owner: str, page: int) -> None:
        await self._documents.delete_one({"_id": _page_key(owner, page)})
