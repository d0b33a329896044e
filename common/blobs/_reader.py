"""A seekable, blocking reader over one stored file that fetches each chunk once: for PyAV,
in a worker thread (the converter's conversions, the gateway's media check).

Every chunk is fetched by its computed primary key (``<file>:<n>``), so a read costs the same
however many files the bucket holds. A demuxer seeks (an MP4 with its index at the end, a
skip over a long video run), so this reader:

- fetches chunks in order per contiguous run ("stream"), in a background thread that stays a
  bounded number of chunks ahead (the fetch overlaps with decoding and encoding);
- keeps the last few chunks read from each stream, so short seeks back cost nothing;
- keeps a paused stream open when the reader jumps elsewhere (to an index at the end), so
  reading resumes where that stream stopped, and stops it where the jump landed, so it does
  not fetch those chunks a second time;
- keeps a stream that has reached its end (an index read at the end of the file) beside the
  open ones, with the chunks it keeps: a later jump (to the frame taken for the cover) and
  the run back from the start stop where its chunks begin instead of fetching them again.
"""

from __future__ import annotations

import os
import queue
import threading
from collections import OrderedDict
from typing import Any, Protocol, Self

from common.blobs._layout import CorruptFile, chunk_id
from common.mongo import Document

__all__ = ["ChunkReader", "ChunkSource"]

_STREAMS = 2  # open streams at most: the main run and one jump (an index at the end)
_FINISHED = 2  # streams that reached their end, kept for the chunks they hold (no thread, no queue)
_WAIT = 0.5  # seconds between checks whether a stream was closed while it waits


class ChunkSource(Protocol):
    """What the reader needs of a chunks collection: one lookup by primary key."""

    def find_one(self, filter: Any, /) -> Document | None: ...


class ChunkReader:
    """Read the file ``file_id`` (``length`` bytes in chunks of ``chunk_size``) from ``chunks``.

    Each stream fetches up to ``ahead`` chunks in advance and keeps the last ``keep`` chunks
    read from it: by default as many as a skip forward within a stream can pass over, so the
    chunks skipped are still there when the reader comes back for them. ``bytes_fetched``
    counts chunk bytes received from the server.
    """

    def __init__(
        self,
        chunks: ChunkSource,
        file_id: Any,
        length: int,
        chunk_size: int,
        *,
        ahead: int = 16,
        keep: int | None = None,
    ) -> None:
        self.length = length
        self._chunks = chunks
        self._file_id = file_id
        self._chunk_size = chunk_size
        self._last = max(0, (length - 1) // chunk_size)
        self._ahead = max(1, ahead)
        self._keep = self._ahead + 8 if keep is None else keep
        self._position = 0
        self._streams: list[_Stream] = []
        self._closed_fetched = 0

    @property
    def bytes_fetched(self) -> int:
        return self._closed_fetched + sum(stream.fetched for stream in self._streams)

    def read(self, size: int = -1, /) -> bytes:
        end = self.length if size < 0 else min(self.length, self._position + size)
        pieces = []
        while self._position < end:
            number, offset = divmod(self._position, self._chunk_size)
            piece = self._chunk(number)[offset : offset + end - self._position]
            pieces.append(piece)
            self._position += len(piece)
        return b"".join(pieces)

    def seek(self, offset: int, whence: int = os.SEEK_SET, /) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._position, os.SEEK_END: self.length}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._position = base + offset
        return self._position

    def tell(self) -> int:
        return self._position

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def close(self) -> None:
        while self._streams:
            self._retire(self._streams[0])

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _chunk(self, number: int) -> bytes:
        for stream in self._streams:
            if (data := stream.kept(number)) is not None:
                return data
        stream = self._stream_for(number)
        while True:
            got, data = stream.take()
            self._expect_size(got, data)
            if got == number:
                return data

    def _stream_for(self, number: int) -> _Stream:
        """The stream that reaches ``number`` soon, else a new one starting there.

        A stream only reaches as far as it may have fetched already: its read-ahead. A new
        stream makes the one behind it stop where it starts, and stops where the one ahead
        of it goes on, so no chunk is fetched by two streams.
        """
        for stream in self._streams:
            if stream.next <= number < stream.stop and number <= stream.next + self._ahead:
                self._streams.remove(stream)
                self._streams.append(stream)
                return stream
        finished = [stream for stream in self._streams if stream.finished]
        if len(finished) > _FINISHED:
            self._retire(finished[0])
        open_streams = [stream for stream in self._streams if not stream.finished]
        if len(open_streams) == _STREAMS:
            self._retire(open_streams[0])
        stop = self._last + 1
        for other in self._streams:
            if other.next <= number:
                other.stop_at(number)
            else:  # its chunks from the first it keeps on are there, or coming
                stop = min(stop, other.first_kept)
        stream = _Stream(self._chunks, self._file_id, number, stop, ahead=self._ahead, keep=self._keep)
        self._streams.append(stream)
        return stream

    def _retire(self, stream: _Stream) -> None:
        stream.close()
        self._closed_fetched += stream.fetched
        self._streams.remove(stream)

    def _expect_size(self, number: int, data: bytes) -> None:
        expected = self.length - number * self._chunk_size if number == self._last else self._chunk_size
        if len(data) != expected:
            raise CorruptFile(f"chunk {number} has {len(data)} bytes, expected {expected}")


class _Stream:
    """Chunks ``start`` up to ``stop`` of one file, fetched in order by a daemon thread.

    The consumer takes them in order; the last ``keep`` taken stay available.
    """

    def __init__(self, chunks: ChunkSource, file_id: Any, start: int, stop: int, *, ahead: int, keep: int) -> None:
        self.next = start
        self.stop = stop
        self.fetched = 0
        self._chunks = chunks
        self._file_id = file_id
        self._keep = keep
        self._kept: OrderedDict[int, bytes] = OrderedDict()
        # the thread holds one chunk while it waits for room: ``ahead`` in all
        self._queue: queue.Queue[tuple[int, bytes] | BaseException] = queue.Queue(maxsize=max(1, ahead - 1))
        self._closed = threading.Event()
        self._failed: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(start,), name=f"blob-chunks-{start}", daemon=True)
        self._thread.start()

    @property
    def finished(self) -> bool:
        """Whether every chunk it was to fetch has been taken (its thread has ended)."""
        return self.next >= self.stop

    @property
    def first_kept(self) -> int:
        """The lowest chunk it can still hand out (kept, or next)."""
        return min(self._kept, default=self.next)

    def kept(self, number: int) -> bytes | None:
        data = self._kept.get(number)
        if data is not None:
            self._kept.move_to_end(number)
        return data

    def take(self) -> tuple[int, bytes]:
        """The next chunk, waiting for it; raises what the fetching thread ran into, on this
        call and every later one (PyAV drops an error raised while it demuxes and reads
        again: a thread that has ended must not leave that read waiting for good)."""
        while True:
            if self._failed is not None:
                raise self._failed
            try:
                item = self._queue.get(timeout=_WAIT)
                break
            except queue.Empty:
                if not self._thread.is_alive() and self._queue.empty():
                    self._failed = CorruptFile(f"chunk {self.next} was not fetched")
        if isinstance(item, BaseException):
            self._failed = item
            raise item
        number, data = item
        self.next = number + 1
        self._kept[number] = data
        if len(self._kept) > self._keep:
            self._kept.popitem(last=False)
        return item

    def stop_at(self, number: int) -> None:
        """Fetch nothing from ``number`` on (another stream does)."""
        self.stop = min(self.stop, number)

    def close(self) -> None:
        self._closed.set()
        self._thread.join(timeout=10)

    def _run(self, number: int) -> None:
        try:
            # checking before each fetch keeps the thread from fetching past stop
            while number < self.stop and not self._closed.is_set():
                document = self._chunks.find_one({"_id": chunk_id(self._file_id, number)})
                if document is None:
                    raise CorruptFile(f"chunk {number} is missing")
                data = bytes(document["data"])
                self.fetched += len(data)
                if not self._put((number, data)):
                    return
                number += 1
        except BaseException as error:  # handed to the reading thread, which raises it
            self._put(error)

    def _put(self, item: tuple[int, bytes] | BaseException) -> bool:
        """Queue ``item``, waiting for room; ``False`` if the stream was closed meanwhile."""
        while not self._closed.is_set():
            try:
                self._queue.put(item, timeout=_WAIT)
            except queue.Full:
                continue
            return True
        return False
