"""Per-owner job lists, newest first, read without a query: pages of job ids keyed by owner.

Each owner's jobs (and everyone's, under ``EVERYONE``) are sorted by (creation time in ms,
job id) and cut into pages of at most ``PAGE_SIZE`` entries. Pages never overlap: every entry
of a page sorts before every entry of the next. A finished job's entry holds its status,
which changes no more, so a list needs a lookup only for the few jobs still in flight. A
head document lists the pages in order,
each with its lowest entry and what its entries add up to (jobs, bytes stored, jobs in
flight), so an owner's totals are the sum over the head alone.

    <owner>:head     the pages in order: for each its number, lowest entry and totals
    <owner>:<page>   its entries in ascending order: creation time (ms), job id, bytes, in flight,
                     the status once finished

Listing reads the head, then pages from the cursor's down, until the page is full: two or
three lookups by primary key, however many jobs exist, and one per job still in flight.
Writing an entry reads the head and the page it belongs in (the last page whose lowest entry
is not above it), and writes both.
A page that outgrows ``PAGE_SIZE`` is split into pages with new ids, written before the head
that lists them and the old page removed after, so the head is the commit point: a writer cut
short leaves at most a page nobody lists, or a head summary that the next write to that page
recomputes. An entry appended past the newest page's last one starts a new page instead, so
pages fill up when jobs arrive in order.

One writer per list at a time: the projection (a single active consumer), with a lock per
owner in the process, as FerretDB does not apply a conditional update atomically.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from common.locks import KeyedLocks

__all__ = ["EVERYONE", "PAGE_SIZE", "Entry", "Head", "IndexStore", "JobIndex", "PageSummary", "Position", "Totals"]

EVERYONE = "*"
"""The list of every job (for admins); owner ids never are ``*``."""
PAGE_SIZE = 100


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, order=True)
class Position:
    """Where a job sorts: its creation time (ms since the epoch), then its id."""

    ms: int
    job_id: str

    @classmethod
    def at(cls, moment: datetime, job_id: str) -> Position:
        """``moment`` to the millisecond (BSON's precision), counted exactly, not by floats."""
        return cls((moment - _EPOCH) // timedelta(milliseconds=1), job_id)

    @property
    def moment(self) -> datetime:
        return _EPOCH + timedelta(milliseconds=self.ms)


@dataclass(frozen=True)
class Entry:
    position: Position
    bytes: int = 0
    """What the job stores: its video and its MP3."""
    in_flight: bool = False
    """Not finished yet (queued, converting or converted)."""
    snapshot: Mapping[str, Any] | None = None
    """The finished job's status (it changes no more): a list shows it without a lookup."""


@dataclass(frozen=True)
class Totals:
    jobs: int = 0
    bytes: int = 0
    in_flight: int = 0

    def __add__(self, other: Totals) -> Totals:
        return Totals(self.jobs + other.jobs, self.bytes + other.bytes, self.in_flight + other.in_flight)

    @classmethod
    def of(cls, entries: Iterable[Entry]) -> Totals:
        listed = list(entries)
        return cls(len(listed), sum(e.bytes for e in listed), sum(e.in_flight for e in listed))


@dataclass(frozen=True)
class PageSummary:
    page: int
    low: Position
    totals: Totals

    @classmethod
    def of(cls, page: int, entries: Sequence[Entry]) -> PageSummary:
        return cls(page, entries[0].position, Totals.of(entries))


@dataclass
class Head:
    pages: list[PageSummary] = field(default_factory=list)
    next_page: int = 0

    @property
    def totals(self) -> Totals:
        return sum((summary.totals for summary in self.pages), Totals())

    def home(self, position: Position) -> int:
        """Index (in ``pages``) of the page ``position`` belongs in: the last one whose lowest
        entry is not above it, or the first."""
        lows = [summary.low for summary in self.pages]
        return max(0, bisect.bisect_right(lows, position) - 1)

    def before(self, position: Position | None) -> int:
        """Index of the last page that may hold entries below ``position`` (all, for ``None``)."""
        if position is None:
            return len(self.pages) - 1
        lows = [summary.low for summary in self.pages]
        return bisect.bisect_left(lows, position) - 1

    def allocate(self) -> int:
        self.next_page += 1
        return self.next_page - 1


class IndexStore(Protocol):
    """Where heads and pages are kept: documents by key (MongoDB, or a dict in tests)."""

    async def head(self, owner: str) -> Head: ...

    async def page(self, owner: str, page: int) -> list[Entry] | None: ...

    async def put_head(self, owner: str, head: Head) -> None: ...

    async def put_page(self, owner: str, page: int, entries: Sequence[Entry]) -> None: ...

    async def drop_page(self, owner: str, page: int) -> None: ...


class JobIndex:
    def __init__(self, store: IndexStore, page_size: int = PAGE_SIZE) -> None:
        self._store = store
        self._page_size = page_size
        self._lock = KeyedLocks()

    # --- reading -------------------------------------------------------------------------

    async def newest(self, owner: str, limit: int, after: Position | None = None) -> list[Entry]:
        """Up to ``limit`` jobs of ``owner`` below ``after`` (all, for ``None``), newest first."""
        head = await self._store.head(owner)
        found: list[Entry] = []
        index = head.before(after)
        while index >= 0 and len(found) < limit:
            entries = await self._store.page(owner, head.pages[index].page) or []
            below = [e for e in entries if after is None or e.position < after]
            found.extend(sorted(below, key=lambda e: e.position, reverse=True)[: limit - len(found)])
            index -= 1
        return found

    async def totals(self, owner: str) -> Totals:
        """What ``owner``'s jobs add up to: how many, the bytes they store, how many are in flight."""
        return (await self._store.head(owner)).totals

    async def oldest_stored(self, owner: str, pages: int = 3) -> tuple[Totals, Entry | None]:
        """``owner``'s totals, and their oldest finished job still storing bytes (roughly what
        expires first): the head, then the oldest pages holding one, at most ``pages`` of them."""
        head = await self._store.head(owner)
        candidates = [s for s in head.pages if s.totals.bytes > 0 and s.totals.jobs > s.totals.in_flight]
        for summary in candidates[:pages]:
            entries = sorted(await self._store.page(owner, summary.page) or [], key=lambda e: e.position)
            found = next((e for e in entries if e.bytes > 0 and not e.in_flight), None)
            if found is not None:
                return head.totals, found
        return head.totals, None

    # --- writing (one writer) ------------------------------------------------------------

    async def put(self, owner: str, entry: Entry) -> bool:
        """Add ``entry``, or change the job's entry to it; ``False`` if it was there as it is."""
        async with self._lock(owner):
            head = await self._store.head(owner)
            if not head.pages:
                page = head.allocate()
                await self._store.put_page(owner, page, [entry])
                head.pages.append(PageSummary.of(page, [entry]))
                await self._store.put_head(owner, head)
                return True
            index = head.home(entry.position)
            summary = head.pages[index]
            entries = await self._store.page(owner, summary.page) or []
            at = bisect.bisect_left([e.position for e in entries], entry.position)
            if at < len(entries) and entries[at].position == entry.position:
                if entries[at] == entry:
                    return await self._heal(owner, head, index, entries)
                entries[at] = entry
            elif at == len(entries) == self._page_size and index == len(head.pages) - 1:
                await self._add_page(owner, head, [entry])  # appending to a full newest page
                return True
            else:
                entries.insert(at, entry)
            await self._write(owner, head, index, entries)
            return True

    async def remove(self, owner: str, position: Position) -> bool:
        """Remove the job at ``position``; ``False`` if it was not listed."""
        async with self._lock(owner):
            head = await self._store.head(owner)
            if not head.pages:
                return False
            index = head.home(position)
            entries = await self._store.page(owner, head.pages[index].page) or []
            kept = [e for e in entries if e.position != position]
            if len(kept) == len(entries):
                return False
            await self._write(owner, head, index, kept)
            return True

    async def load(self, owner: str, entries: Iterable[Entry]) -> None:
        """Replace ``owner``'s list with ``entries`` at once (rebuilds and migrations)."""
        ordered = sorted(entries, key=lambda e: e.position)
        async with self._lock(owner):
            old = await self._store.head(owner)
            head = Head(next_page=old.next_page)
            for start in range(0, len(ordered), self._page_size):
                await self._add_page(owner, head, ordered[start : start + self._page_size], write_head=False)
            await self._store.put_head(owner, head)
            for summary in old.pages:
                await self._store.drop_page(owner, summary.page)

    async def _write(self, owner: str, head: Head, index: int, entries: list[Entry]) -> None:
        """Store page ``index`` holding ``entries``: in place, or split, or dropped if empty."""
        old = head.pages[index].page
        if not entries:
            del head.pages[index]
            await self._store.put_head(owner, head)
            await self._store.drop_page(owner, old)
        elif len(entries) <= self._page_size:
            await self._store.put_page(owner, old, entries)
            head.pages[index] = PageSummary.of(old, entries)
            await self._store.put_head(owner, head)
        else:  # split into new pages, listed by the head once written
            half = len(entries) // 2
            parts = [entries[:half], entries[half:]]
            summaries = []
            for part in parts:
                page = head.allocate()
                await self._store.put_page(owner, page, part)
                summaries.append(PageSummary.of(page, part))
            head.pages[index : index + 1] = summaries
            await self._store.put_head(owner, head)
            await self._store.drop_page(owner, old)

    async def _add_page(self, owner: str, head: Head, entries: list[Entry], *, write_head: bool = True) -> None:
        page = head.allocate()
        await self._store.put_page(owner, page, entries)
        head.pages.append(PageSummary.of(page, entries))
        if write_head:
            await self._store.put_head(owner, head)

    async def _heal(self, owner: str, head: Head, index: int, entries: list[Entry]) -> bool:
        """Nothing changed: rewrite the head only if its summary of the page went stale (a
        writer cut short between the page and the head)."""
        if head.pages[index] != PageSummary.of(head.pages[index].page, entries):
            head.pages[index] = PageSummary.of(head.pages[index].page, entries)
            await self._store.put_head(owner, head)
        return False
