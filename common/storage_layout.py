"""The store's layout: every collection, its key, who writes it, and what each hot path asks.

The rule (STYLE.md, "Storage rules that keep cost flat"): every hot path is a primary-key
access (a filter that is exactly ``{"_id": value}``) or reads a collection that is small by
design. On FerretDB 1.24 (SQLite) nothing else uses an index: any other filter, a ``$in``, a
range or a sort reads and decodes every document of the collection. This is also the layout
a sharded MongoDB wants (every access routed by its key). Keys are computed, never looked up:
a chunk from its file and number, an event from its job and sequence number.

Collections growing with use, each read and written by ``_id`` only (key; writer; hot paths):

- ``videos.files``: the file's ObjectId; gateway; the media check and the converter get it.
- ``videos.chunks``: ``<file id>:<n:08d>`` (``common.blobs.chunk_id``); gateway; the converter
  and the media check get chunks by id; a removal deletes computed ids (``DeleteOne`` batches).
- ``mp3s.files``: the file's ObjectId; converter; a download gets it (``mp3_file_id``). A job
  split per chapter also has one file per chapter, ``<mp3 id>.<n:03d>`` (``common.blobs.part_id``,
  at most 100), written before the MP3's, whose ``metadata.parts`` counts them; a part's
  download gets it by that id, and every removal of an MP3 (``remove_with_parts``) removes its
  parts by their computed ids first (looking for them in order, until one is missing, when the
  MP3's document is not there to count them: a write or a removal cut short).
- ``mp3s.chunks``: ``<file id>:<n:08d>``; converter; a download gets the range's chunks by id.
- ``gateway_events``: ``<job>:<event type>`` (``request_key``); gateway; status, cancel,
  delete, download and streams fold the job's own upload/cancel/delete over the read model
  (three gets by id), so they show at once.
- ``completed_uploads``: the upload's (= job's) id; gateway; tus HEAD/PATCH of a finished upload.
- ``events``: ``<job>:<seq:08d>`` (``event_key``); projection; an append inserts at the job's
  next number (kept in memory, else found by probing ids), ``for_job`` gets 1, 2, ... by id.
- ``event_ids``: the event's id; projection; an append asks whether it was stored before.
- ``job_status``: the job's id; projection; status, list and streams get it by id. A job split
  per chapter keeps its parts (at most 100: title, start, duration, size, file id) in its own
  document, read only by its id (the job view, a part's download, a part's signed link).
- ``job_index``: ``<owner>:head`` and ``<owner>:<page:08d>`` (``*`` for everyone's);
  projection; a list reads the head, then a page or two (``projections.job_index``), whose
  entries hold finished jobs' statuses (without their parts per chapter, only their count and
  bytes: a page stays small); only jobs in flight are then got from ``job_status``.
- ``conversion_attempts``: ``<job>:<n>``; converter; claim, renew and takeover by id.
- ``conversion_results``: the job's id; converter; the outcome, inserted once, got by id.
- ``cancelled_jobs``: the job's id; converter; looked up every second while converting.
- ``in_flight_slots``: ``<owner>:<n>``, one per unit of work a user has queued or converting
  (``common.in_flight``); gateway (taken by an insert, atomic), projection (freed when the job
  ends); an upload tries the first ``limit`` ids, a release deletes the ids its ticket names.
  Holds at most ``limit`` per user (more only for tus uploads completed past it).
- ``in_flight_jobs``: the job's id, naming the slots it holds; gateway; removed on release.
- ``notifications``, ``notification_takeovers``: a claim per job and kind of email, the
  job's id (the ready email) or ``<job>:failed``, and ``<claim>@<stale claim time>``; notifier;
  a claim inserts by id, then gets it by id; a release gets it and deletes it by id (not by id
  and state: two keys would read every claim).
- ``notifier_contacts``: the job's id; notifier; the owner's address and the video's name,
  recorded from ``VideoUploaded`` and got by id for a failure email, deleted by id once the
  job's email is out.
- ``upload_slots``: ``<owner>:<n>`` (``n`` below ``max_pending_uploads``); gateway; a tus
  creation inserts the first free one (the unique ``_id`` makes it atomic), a completion or
  removal gets and deletes it by id. It holds at most ``max_pending_uploads`` per user, so it
  grows with users, not with uploads; a user out of slots gets each of theirs by id to free
  the stale ones.

- ``idempotency_keys``: ``<owner>:<Idempotency-Key>``; gateway; a keyed ``POST /v1/jobs`` or
  tus creation inserts it (claiming the key), gets it by id (a retry), replaces it by id with
  the first answer; a takeover of a dead request's claim inserts ``<owner>@<its start>:<key>``.
  Records expire after 24 h (``expires_at``): one found expired is replaced (removal on read);
  on MongoDB a TTL index on ``expires_at`` removes the rest (the server's own background
  removal, no query of ours); on FerretDB, which pays for a secondary index on every insert
  and never reads by one, keys never sent again stay, a few hundred bytes each, only ever
  accessed by id (``gateway.idempotency``).

Signed download links (``common.links``) store nothing: ``GET /v1/downloads/{token}`` gets
the job's status and gateway events by id (a deleted job's links stop at once) and reads the
MP3 (or the part it names, one of the status's parts) as a job's download does (``mp3s.files``
and its chunks by computed ids).

Collections small by design (``SMALL_COLLECTIONS``; any query allowed, they are read whole):

- ``outbox``: the gateway's events not yet confirmed by the broker (``_id`` the event id);
  removed on confirmation, so it holds seconds of events (more while RabbitMQ is down). The
  relay reads all of it.
- ``active_jobs``: jobs not yet finished (``_id`` the job), with their state and last sign
  of life; written by the projection, removed when a job ends. The watchdog reads all of it.
- ``conversion_claims``: jobs a converter has on record and not yet announced (``_id`` the
  job); every converter's reclaimer reads all of it.
- ``uploads``: unfinished tus uploads (``_id`` the upload); a completed one moves to
  ``completed_uploads``, an abandoned one is swept after ``upload_idle_hours``.
- ``file_removals``: deleted jobs whose files are not removed yet (``_id`` the job, with its
  files' ids); each gateway's remover removes them in the background and reads all of it to
  finish cut-short ones.
- ``unsettled_uploads``: multipart uploads being written (``_id`` the file id, with the job's
  id and when chunks were last stored); removed once the upload is a job or refused. Each
  gateway's sweep reads all of it and removes the chunks of records gone stale (the gateway
  died mid-upload), by computed ids (``gateway.unsettled``).
- ``store_meta``: the layout's version.

Limits and retention: an owner's totals (jobs, bytes stored, jobs in flight) are the sum of
their list's head (``JobQueries.totals``: one lookup); the stored-bytes quota reads it, and the
owner's oldest page holding bytes for the words of a refusal (``JobQueries.oldest_stored``).
A job's bytes (its video, its MP3 and the MP3's parts per chapter) leave the totals when the
projection folds ``SourceRemoved`` (its video) and ``JobExpired`` (everything), so the quota's
counter is that head, kept by primary key.
Retention keeps no schedule in the store: a finished job's final event waits in RabbitMQ for
the retention period (``contracts.topology.expiry_wait_queue``), then its files are removed by
computed ids (``projections.retention``); nothing is ever searched for. Each gateway's status
watcher counts each user's open streams (``StatusWatcher.streams_of``, capped by
``max_streams_per_user``); a user's jobs in flight are their held ``in_flight_slots``.

Offline commands may scan (``python -m projections rebuild``, ``... migrate``): they run
rarely, beside the services, never on a request's path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from common.mongo import Document

__all__ = [
    "LAYOUT_VERSION",
    "SMALL_COLLECTIONS",
    "OldLayout",
    "event_key",
    "is_primary_key_filter",
    "request_key",
    "require_current_layout",
    "require_current_layout_blocking",
]

LAYOUT_VERSION = 2
"""1: what the code before this layout wrote (chunk ids of MP3s were ObjectIds, events were
keyed by their id and numbered by a query, the outbox kept every entry); 2: this layout."""

SMALL_COLLECTIONS = frozenset(
    {"outbox", "active_jobs", "conversion_claims", "uploads", "file_removals", "unsettled_uploads", "store_meta"}
)


def event_key(job_id: UUID | str, seq: int) -> str:
    """The ``_id`` of event number ``seq`` (1, 2, ...) of a job in the event store."""
    return f"{job_id}:{seq:08d}"


def request_key(job_id: UUID | str, event_type: str) -> str:
    """The ``_id`` of the event of ``event_type`` the gateway stored for a job (at most one each:
    the upload, the cancellation, the deletion)."""
    return f"{job_id}:{event_type}"


def is_primary_key_filter(query: Mapping[str, Any] | None) -> bool:
    """Whether ``query`` is exactly ``{"_id": <a value>}``: the one filter FerretDB answers from
    an index (an operator such as ``{"$in": ...}`` is not a value)."""
    if query is None or list(query) != ["_id"]:
        return False
    value = query["_id"]
    return not (isinstance(value, Mapping) and any(str(key).startswith("$") for key in value))


class OldLayout(RuntimeError):
    """The store holds what older code wrote: it must be migrated before the services use it."""


MIGRATE_COMMAND = "python -m projections migrate"  # ./run migrate
_LAYOUT = {"_id": "layout"}
_OLD_SIGNS: dict[str, Callable[[Document], bool]] = {
    "events": lambda document: ":" not in str(document["_id"]),  # keyed by the event's id
    "outbox": lambda document: "published_at" in document,  # confirmed entries were kept
    "job_status": lambda document: "created_sort" in document,  # no lists beside it
    "mp3s.chunks": lambda document: not isinstance(document["_id"], str),  # ObjectId chunk ids
}
"""What a collection's first document looks like when older code wrote it."""


def _verdict(marker: Document | None, firsts: Mapping[str, Document | None]) -> bool:
    """Whether the layout is current and unmarked (``True``: mark it); ``OldLayout`` if older."""
    if marker is not None:
        if marker.get("version") != LAYOUT_VERSION:
            raise OldLayout(f"the store's layout is version {marker.get('version')}, this code needs {LAYOUT_VERSION}")
        return False
    old = [name for name, first in firsts.items() if first is not None and _OLD_SIGNS[name](first)]
    if old:
        raise OldLayout(
            f"the store was written by an older version ({', '.join(old)}): stop the services and run "
            f"`{MIGRATE_COMMAND}` (`./run migrate`) once, then start them again"
        )
    return True


def _marker() -> Document:
    return {**_LAYOUT, "version": LAYOUT_VERSION, "since": datetime.now(UTC)}


async def require_current_layout(database: AsyncDatabase[Document]) -> None:
    """Refuse (``OldLayout``) a store an older version wrote and nobody migrated; mark a new
    store as this layout. Reads one document of a few collections (no query scans)."""
    meta = database["store_meta"]
    firsts = {name: await database[name].find_one({}) for name in _OLD_SIGNS}
    if _verdict(await meta.find_one(_LAYOUT), firsts):
        with suppress(DuplicateKeyError):
            await meta.insert_one(_marker())


def require_current_layout_blocking(database: Database[Document]) -> None:
    meta = database["store_meta"]
    firsts = {name: database[name].find_one({}) for name in _OLD_SIGNS}
    if _verdict(meta.find_one(_LAYOUT), firsts):
        with suppress(DuplicateKeyError):
            meta.insert_one(_marker())
