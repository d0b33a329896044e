"""The GridFS chunk reader over an in-memory chunks collection: reads, seeks, fetches each chunk once."""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from gridfs.errors import CorruptGridFile

from converter.chunk_reader import ChunkReader

CHUNK = 10


class Cursor:
    """Hands out documents one by one, counting each as served when it does."""

    def __init__(self, documents: list[dict[str, Any]], served: Counter[int]) -> None:
        self._documents = iter(documents)
        self._served = served

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return self

    def __next__(self) -> dict[str, Any]:
        document = next(self._documents)
        self._served[document["n"]] += 1
        return document

    def __enter__(self) -> Cursor:
        return self

    def __exit__(self, *_: object) -> None:
        pass


class Chunks:
    """A ``videos.chunks`` collection holding one file, handing out chunks lazily and counting them."""

    def __init__(self, data: bytes, *, order: list[int] | None = None, drop: int | None = None) -> None:
        count = -(-len(data) // CHUNK)
        self.documents = [
            {"files_id": "f", "n": n, "data": data[n * CHUNK : (n + 1) * CHUNK]}
            for n in (order if order is not None else range(count))
            if n != drop
        ]
        self.served: Counter[int] = Counter()
        self.queries: list[tuple[int, bool]] = []

    def find(self, query: dict[str, Any], sort: list[tuple[str, int]] | None = None, batch_size: int = 0) -> Cursor:
        start = query["n"]["$gte"]
        self.queries.append((start, sort is not None))
        documents = [d for d in self.documents if d["files_id"] == query["files_id"] and d["n"] >= start]
        if sort is not None:
            documents.sort(key=lambda d: d["n"])
        return Cursor(documents, self.served)


DATA = bytes(range(256)) * 2  # 512 bytes: 51 full chunks and a short one


def reader(chunks: Chunks, data: bytes = DATA, **kwargs: int) -> ChunkReader:
    return ChunkReader(chunks, "f", len(data), CHUNK, **kwargs)  # type: ignore[arg-type]


def test_reading_through_fetches_each_chunk_once_with_one_query() -> None:
    chunks = Chunks(DATA)
    with reader(chunks) as file:
        pieces = []
        while piece := file.read(7):
            pieces.append(piece)

    assert b"".join(pieces) == DATA
    assert set(chunks.served.values()) == {1}
    assert chunks.queries == [(0, False)]


def test_an_index_at_the_end_costs_one_more_query_and_no_refetch() -> None:
    chunks = Chunks(DATA)
    with reader(chunks, ahead=4, keep=4) as file:
        head = file.read(8)
        file.seek(-30, os.SEEK_END)
        tail = file.read()
        file.seek(8)
        rest = file.read()

        assert head + rest == DATA
        assert tail == DATA[-30:]
        assert file.bytes_fetched == len(DATA)
    assert set(chunks.served.values()) == {1}
    assert [start for start, _ in chunks.queries] == [0, 48]


def test_short_seeks_back_are_served_from_memory() -> None:
    chunks = Chunks(DATA)
    with reader(chunks, keep=3) as file:
        file.read(35)
        file.seek(-25, os.SEEK_CUR)
        assert file.read(5) == DATA[10:15]
        assert file.tell() == 15
    assert max(chunks.served.values()) == 1


def test_a_skip_within_the_read_ahead_keeps_the_stream() -> None:
    chunks = Chunks(DATA)
    with reader(chunks, ahead=8) as file:
        file.read(5)
        file.seek(60)
        assert file.read(5) == DATA[60:65]
    assert chunks.queries == [(0, False)]


def test_chunks_out_of_order_are_asked_for_again_sorted() -> None:
    count = -(-len(DATA) // CHUNK)
    chunks = Chunks(DATA, order=[0, 1, 3, 2, *range(4, count)])
    with reader(chunks) as file:
        assert file.read() == DATA
    assert chunks.queries == [(0, False), (2, True)]


def test_a_missing_chunk_is_a_corrupt_file() -> None:
    with reader(Chunks(DATA, drop=5)) as file, pytest.raises(CorruptGridFile, match="chunk 5"):
        file.read()


def test_a_chunk_of_the_wrong_size_is_a_corrupt_file() -> None:
    chunks = Chunks(DATA)
    chunks.documents[3]["data"] = b"short"
    with reader(chunks) as file, pytest.raises(CorruptGridFile, match="chunk 3"):
        file.read()


def test_closing_stops_the_fetching_threads() -> None:
    before = threading.active_count()
    file = reader(Chunks(DATA), ahead=2)
    file.read(1)
    file.seek(-1, os.SEEK_END)
    file.read(1)

    file.close()

    assert threading.active_count() == before


def test_an_empty_file_reads_as_empty() -> None:
    chunks = Chunks(b"")
    with reader(chunks, b"") as file:
        assert file.read() == b""
    assert chunks.queries == []


def test_a_jump_back_past_what_is_kept_refetches_only_up_to_where_the_stream_goes_on() -> None:
    chunks = Chunks(DATA)
    with reader(chunks, keep=2, ahead=4) as file:
        file.read(300)
        file.seek(50)
        assert file.read() == DATA[50:]
    assert chunks.queries == [(0, False), (5, False)]
    assert {n for n, count in chunks.served.items() if count == 2} == set(range(5, 30))
    assert max(chunks.served.values()) == 2
