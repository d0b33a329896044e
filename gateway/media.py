"""The quick media check before a job is created: does the stored file hold audio FFmpeg decodes?

Only the container's header and the first audio packets are read (GridFS files are
seekable, so an MP4 with its index at the end costs one seek, not a full read).
"""

from __future__ import annotations

import asyncio
import io
from typing import BinaryIO

import av
from bson import ObjectId
from pymongo.database import Database

from common.mongo import Document
from gateway.chunks import BlockingChunkReader

__all__ = ["MediaProbe", "audio_problem"]

# FFmpeg reads any text as ANSI art ("tty"); the converter refuses it too
_TEXT_DEMUXERS = frozenset({"tty"})
_MAX_PACKETS = 500
"""Packets read (of every stream, interleaved) before giving up on a first audio frame."""
_PROBE_OPTIONS = {"probesize": str(8 * 1024 * 1024), "analyzeduration": str(10_000_000)}


def audio_problem(source: BinaryIO, max_packets: int = _MAX_PACKETS) -> str | None:
    """``None`` if ``source``'s first audio stream (the one the converter uses) decodes to at
    least one frame within its first ``max_packets`` packets; otherwise what is wrong."""
    try:
        with av.open(source, mode="r", options=_PROBE_OPTIONS) as container:
            if container.format.name in _TEXT_DEMUXERS:
                return "the file is not a video or audio file"
            if not container.streams.audio:
                return "the file has no audio stream"
            audio = container.streams.audio[0]
            for count, packet in enumerate(container.demux(audio)):
                if any(True for _ in packet.decode()):
                    return None
                if count >= max_packets:
                    break
            return "the file's audio stream holds no decodable audio"
    except av.FFmpegError as error:
        return f"the file is not a video or audio file FFmpeg can read ({error.strerror or error})"


class MediaProbe:
    """Runs ``audio_problem`` on a stored video, in a worker thread, over a blocking client,
    fetching only the chunks FFmpeg reads, one at a time."""

    def __init__(self, database: Database[Document], bucket_name: str = "videos") -> None:
        self._files = database[f"{bucket_name}.files"]
        self._chunks = database[f"{bucket_name}.chunks"]

    def _check(self, file_id: ObjectId) -> str | None:
        document = self._files.find_one({"_id": file_id})
        if document is None:
            return "the file is gone"
        reader = BlockingChunkReader(self._chunks, file_id, length=document["length"], chunk_size=document["chunkSize"])
        with io.BufferedReader(reader, buffer_size=64 * 1024) as source:
            return audio_problem(source)

    async def audio_problem(self, file_id: str) -> str | None:
        return await asyncio.to_thread(self._check, ObjectId(file_id))
