"""The per-owner job lists over an in-memory store: newest first across pages, whatever order
jobs arrive in; pages split and disappear; totals add up; a writer cut short heals."""

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest

from projections.job_index import Entry, Head, JobIndex, Position, Totals


class MemoryStore:
    """Heads and pages in dicts, counting the documents read (each is one lookup by key)."""

    def __init__(self) -> None:
        self.heads: dict[str, Head] = {}
        self.pages: dict[tuple[str, int], list[Entry]] = {}
        self.reads = 0
        self.fail_before_head = False

    async def head(self, owner: str) -> Head:
        self.reads += 1
        head = self.heads.get(owner)
        return Head(list(head.pages), head.next_page) if head else Head()

    async def page(self, owner: str, page: int) -> list[Entry] | None:
        self.reads += 1
        entries = self.pages.get((owner, page))
        return None if entries is None else list(entries)

    async def put_head(self, owner: str, head: Head) -> None:
        if self.fail_before_head:
            raise ConnectionError("the store went away")
        self.heads[owner] = Head(list(head.pages), head.next_page)

    async def put_page(self, owner: str, page: int, entries: Sequence[Entry]) -> None:
        self.pages[(owner, page)] = list(entries)

    async def drop_page(self, owner: str, page: int) -> None:
        self.pages.pop((owner, page), None)


def entry(ms: int, job: int, size: int = 1, in_flight: bool = False) -> Entry:
    return Entry(Position(ms, f"job-{job:04d}"), size, in_flight)


async def listed(index: JobIndex, owner: str, page_size: int) -> list[Position]:
    """The whole list, read page after page as the API pages it."""
    found: list[Position] = []
    after = None
    while page := [entry.position for entry in await index.newest(owner, page_size, after)]:
        found += page
        after = page[-1]
    return found


@pytest.mark.parametrize("order", ["ascending", "descending", "shuffled"])
async def test_the_list_is_newest_first_whatever_order_jobs_arrive_in(order: str) -> None:
    store = MemoryStore()
    index = JobIndex(store, page_size=4)
    entries = [entry(ms // 3, job) for job, ms in enumerate(range(60))]  # three jobs per millisecond
    arriving = {"ascending": entries, "descending": entries[::-1], "shuffled": random.sample(entries, len(entries))}
    for item in arriving[order]:
        assert await index.put("ada", item)

    expected = sorted((e.position for e in entries), reverse=True)
    for page_size in (1, 3, 7, 100):
        assert await listed(index, "ada", page_size) == expected
    head = store.heads["ada"]
    assert all(len(store.pages[("ada", s.page)]) <= 4 for s in head.pages)
    assert [s.low for s in head.pages] == sorted(s.low for s in head.pages)


async def test_jobs_arriving_in_order_fill_whole_pages() -> None:
    store = MemoryStore()
    index = JobIndex(store, page_size=5)
    for job in range(23):
        await index.put("ada", entry(job, job))

    assert [len(store.pages[("ada", s.page)]) for s in store.heads["ada"].pages] == [5, 5, 5, 5, 3]


async def test_a_page_of_the_newest_costs_a_head_and_a_page_or_two() -> None:
    store = MemoryStore()
    index = JobIndex(store, page_size=50)
    for job in range(1000):
        await index.put("ada", entry(job, job))
    store.reads = 0

    newest = [e.position for e in await index.newest("ada", 20)]
    after_cursor = [e.position for e in await index.newest("ada", 20, after=Position(510, "job-0510"))]

    assert newest == [Position(ms, f"job-{ms:04d}") for ms in range(999, 979, -1)]
    assert after_cursor[0] == Position(509, "job-0509")
    assert store.reads <= 5


async def test_changing_and_removing_jobs_keeps_the_totals() -> None:
    store = MemoryStore()
    index = JobIndex(store, page_size=3)
    for job in range(10):
        await index.put("ada", entry(job, job, size=100, in_flight=True))
    assert await index.totals("ada") == Totals(jobs=10, bytes=1000, in_flight=10)

    assert await index.put("ada", entry(4, 4, size=150, in_flight=False))  # converted and notified
    assert not await index.put("ada", entry(4, 4, size=150, in_flight=False))  # as it is: nothing to do
    for job in (0, 1, 2, 9):
        assert await index.remove("ada", Position(job, f"job-{job:04d}"))
    assert not await index.remove("ada", Position(0, "job-0000"))

    assert await index.totals("ada") == Totals(jobs=6, bytes=650, in_flight=5)
    assert await listed(index, "ada", 4) == [Position(ms, f"job-{ms:04d}") for ms in (8, 7, 6, 5, 4, 3)]
    assert ("ada", 0) not in store.pages  # an emptied page goes


async def test_owners_do_not_see_each_others_jobs() -> None:
    index = JobIndex(MemoryStore(), page_size=3)
    await index.put("ada", entry(1, 1))
    await index.put("bob", entry(2, 2))

    assert [e.position for e in await index.newest("ada", 10)] == [Position(1, "job-0001")]
    assert await index.newest("nobody", 10) == []
    assert await index.totals("nobody") == Totals()


async def test_a_writer_cut_short_before_the_head_leaves_the_list_readable_and_heals() -> None:
    store = MemoryStore()
    index = JobIndex(store, page_size=4)
    for job in range(8):
        await index.put("ada", entry(job, job))
    before = await listed(index, "ada", 3)

    store.fail_before_head = True  # a split writes its new pages, then dies before the head
    with pytest.raises(ConnectionError):
        await index.put("ada", entry(2, 100))
    assert await listed(index, "ada", 3) == before  # the head still lists the old pages

    store.fail_before_head = False
    assert await index.put("ada", entry(2, 100))
    assert len(await listed(index, "ada", 3)) == 9


async def test_loading_a_list_at_once_replaces_it() -> None:
    store = MemoryStore()
    index = JobIndex(store, page_size=4)
    for job in range(5):
        await index.put("ada", entry(job, job))

    await index.load("ada", [entry(ms, ms) for ms in random.sample(range(100), 30)])

    assert len(await listed(index, "ada", 7)) == 30
    assert len(store.pages) == 8  # the old pages are gone
    assert await index.totals("ada") == Totals(jobs=30, bytes=30)
