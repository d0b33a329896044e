"""The blocking blob reader over an in-memory chunks collection: reads, seeks, fetches each chunk once,
every fetch a lookup by primary key."""

from __future__ import annotations

import os
import threading
from collections import Counter
from typing import Any

import pytest
from gridfs.errors import CorruptGridFile

from common.blobs import ChunkReader, chunk_id

CHUNK = 10


class Chunks:
    """A ``videos.chunks`` collection holding one file, answering lookups by primary key and
    counting, per chunk, how often it was served and which streams (threads) asked."""

    def __init__(self, data: bytes, *, drop: int | None = None) -> None:
        count = -(-len(data) // CHUNK)
        self.documents = {
            chunk_id("f", n): {"files_id": "f", "n": n, "data": data[n * CHUNK : (n + 1) * CHUNK]}
            for n in range(count)
            if n != drop
        }
        self.served: Counter[int] = Counter()
        self.streams: list[int] = []
        self._lock = threading.Lock()

    def find_one(self, query: dict[str, Any]) -> dict[str, Any] | None:
        assert list(query) == ["_id"], f"not a primary-key lookup: {query}"
        document = self.documents.get(query["_id"])
        start = int(threading.current_thread().name.rsplit("-", 1)[1])
        with self._lock:
            if start not in self.streams:
                self.streams.append(start)
            if document is not None:
                self.served[document["n"]] += 1
        return document


DATA = bytes(range(256)) * 2  # 512 bytes: 51 full chunks and a short one


def reader(chunks: Chunks, data: bytes = DATA, **kwargs: int) -> ChunkReader:
    return ChunkReader(chunks, "f", len(data), CHUNK, **kwargs)  # type: ignore[arg-type]


def test_reading_through_fetches_each_chunk_once_in_one_stream() -> None:
    chunks = Chunks(DATA)
    with reader(chunks) as file:
        pieces = []
        while piece := file.read(7):
            pieces.append(piece)

    assert b"".join(pieces) == DATA
    assert set(chunks.served.values()) == {1}
    assert chunks.streams == [0]


def test_an_index_at_the_end_costs_one_more_stream_and_no_refetch() -> None:
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
    assert chunks.streams == [0, 48]


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
    assert chunks.streams == [0]


def test_a_missing_chunk_is_a_corrupt_file() -> None:
    with reader(Chunks(DATA, drop=5)) as file, pytest.raises(CorruptGridFile, match="chunk 5"):
        file.read()


def test_a_chunk_of_the_wrong_size_is_a_corrupt_file() -> None:
    chunks = Chunks(DATA)
    chunks.documents[chunk_id("f", 3)]["data"] = b"short"
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
    assert chunks.streams == []


def test_a_jump_back_past_what_is_kept_refetches_only_up_to_what_the_stream_still_holds() -> None:
    chunks = Chunks(DATA)
    with reader(chunks, keep=2, ahead=4) as file:
        file.read(300)
        file.seek(50)
        assert file.read() == DATA[50:]
    assert chunks.streams == [0, 5]
    assert {n for n, count in chunks.served.items() if count == 2} == set(range(5, 28))  # 28 and 29 are kept
    assert max(chunks.served.values()) == 2


def test_a_jump_after_the_index_at_the_end_fetches_no_chunk_twice() -> None:
    # the cover's frame: the head, the index at the end, a frame further on (past the read-ahead),
    # then the audio from the start
    chunks = Chunks(DATA)
    with reader(chunks, ahead=4, keep=4) as file:
        head = file.read(8)
        file.seek(-30, os.SEEK_END)
        tail = file.read()
        file.seek(200)
        frame = file.read(20)
        file.seek(8)
        rest = file.read()

        assert (head + rest, tail, frame) == (DATA, DATA[-30:], DATA[200:220])
        assert file.bytes_fetched == len(DATA)
    assert set(chunks.served.values()) == {1}
    assert chunks.streams == [0, 48, 20]


def test_a_read_after_a_missing_chunk_fails_again_instead_of_waiting() -> None:
    """PyAV drops an error its read callback raises while it demuxes, and reads again: the
    source removed under a running conversion (its job deleted) once left that read waiting
    for a chunk no thread would fetch, and the conversion's slot held for good."""
    outcomes: list[str] = []

    def read_twice() -> None:
        with reader(Chunks(DATA, drop=5)) as file:
            for _ in range(2):
                file.seek(50)
                try:
                    file.read(10)
                except CorruptGridFile as error:
                    outcomes.append(str(error))

    reading = threading.Thread(target=read_twice, daemon=True)
    reading.start()
    reading.join(timeout=60)

    assert not reading.is_alive(), "the second read waited for a chunk nobody fetches"
    assert len(outcomes) == 2
    assert all("chunk 5" in outcome for outcome in outcomes)
