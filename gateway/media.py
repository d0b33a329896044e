"""The quick media check before a job is created: does the stored file hold audio FFmpeg
decodes, within the job's duration limit (``common.limits``, from the duration the file
states; the converter enforces it again as it converts, since a file can state less)?

Only the container's header and the first audio packets are read (GridFS files are
seekable, so an MP4 with its index at the end costs one seek, not a full read).
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
from collections.abc import Callable
from typing import BinaryIO, NamedTuple

import av
from bson import ObjectId
from pymongo.database import Database

from common.blobs import VIDEOS, Bucket
from common.limits import MediaLimits
from common.mongo import Document
from contracts import ConversionOptions

__all__ = ["NO_AUDIO", "AudioProblem", "MediaProbe", "audio_problem", "stated_seconds"]

# FFmpeg reads any text as ANSI art ("tty"); the converter refuses it too
_TEXT_DEMUXERS = frozenset({"tty"})
_MAX_PACKETS = 500
"""Packets read (of every stream, interleaved) before giving up on a first audio frame."""


class AudioProblem(NamedTuple):
    """Why a file cannot become a job."""

    detail: str
    """For people: what is wrong and what to try."""
    reason: str
    """For integrators: what the check found (FFmpeg's own words included)."""


NO_AUDIO = AudioProblem(
    "This video has no audio track, so there is no sound to make an MP3 of.", "the file has no audio stream"
)
_UNREADABLE = (
    "This file is not a video or audio file that can be read; it may be damaged or cut short. "
    "Check that it plays, or try the original file."
)


def stated_seconds(container: av.container.InputContainer, audio: av.AudioStream) -> float | None:
    """The audio's duration as the file states it (the stream's, else the container's), as
    the converter reads it."""
    if audio.duration is not None and audio.time_base is not None:
        return float(audio.duration * audio.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


def _to_convert(stated: float, options: ConversionOptions) -> float:
    end = stated if options.end_seconds is None else min(stated, options.end_seconds)
    return max(0.0, end - options.start_seconds)


def _too_long(
    container: av.container.InputContainer, audio: av.AudioStream, limits: MediaLimits, options: ConversionOptions
) -> AudioProblem | None:
    stated = stated_seconds(container, audio)
    if stated is None:
        return None  # the converter enforces the limit as the audio comes out
    seconds = _to_convert(stated, options)
    if (detail := limits.duration_problem(seconds, options)) is None:
        return None
    return AudioProblem(
        detail, f"states {seconds:.1f} s of audio to convert, over {limits.max_seconds_for(options):g} s"
    )


def audio_problem(
    source: BinaryIO,
    max_packets: int = _MAX_PACKETS,
    *,
    limits: MediaLimits | None = None,
    options: ConversionOptions | None = None,
) -> AudioProblem | None:
    """``None`` if ``source``'s first audio stream (the one the converter uses) decodes to at
    least one frame within its first ``max_packets`` packets and, given ``limits``, states no
    more audio to convert than a job with ``options`` may; otherwise what is wrong."""
    try:
        # FFmpeg's default probe size and duration, as the converter opens files with
        with av.open(source, mode="r") as container:
            if container.format.name in _TEXT_DEMUXERS:
                return AudioProblem(
                    "This file is text, not a video or audio file: choose the video itself.",
                    "not a video or audio file (FFmpeg reads it as text)",
                )
            if not container.streams.audio:
                return NO_AUDIO
            audio = container.streams.audio[0]
            if limits is not None and (too_long := _too_long(container, audio, limits, options or ConversionOptions())):
                return too_long
            for count, packet in enumerate(container.demux(audio)):
                if any(True for _ in packet.decode()):
                    return None
                if count >= max_packets:
                    break
            return AudioProblem(
                "The audio in this file could not be decoded; it may be damaged. Try the original file.",
                "the file's audio stream holds no decodable audio",
            )
    except av.FFmpegError as error:
        return AudioProblem(_UNREADABLE, f"not a video or audio file FFmpeg can read ({error.strerror or error})")


def _load_trim() -> Callable[[int], int] | None:
    try:
        trim: Callable[[int], int] = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    return trim


_malloc_trim = _load_trim()


def _give_back_memory() -> None:
    """Return the memory FFmpeg freed to the system: glibc keeps a worker thread's freed heap
    (an MP4's index alone takes ~10 MB per hour of video), and the gateway's memory would
    stay at its high-water mark after every large upload."""
    if _malloc_trim is not None:
        _malloc_trim(0)


class MediaProbe:
    """Runs ``audio_problem`` on a stored video, in a worker thread, over a blocking client,
    fetching the chunks FFmpeg reads (and one ahead), each once."""

    def __init__(
        self, database: Database[Document], bucket_name: str = VIDEOS, limits: MediaLimits | None = None
    ) -> None:
        self._videos = Bucket(database, bucket_name)
        self._limits = limits or MediaLimits()

    def _check(self, file_id: ObjectId, options: ConversionOptions | None = None) -> AudioProblem | None:
        try:
            return self._probe(file_id, options or ConversionOptions())
        finally:
            _give_back_memory()

    def _probe(self, file_id: ObjectId, options: ConversionOptions) -> AudioProblem | None:
        stored = self._videos.find(file_id)
        if stored is None:
            return AudioProblem("The upload was lost before it could be checked: upload it again.", "the file is gone")
        with self._videos.open(stored, ahead=1) as source:
            # a seekable file is all PyAV needs
            return audio_problem(source, limits=self._limits, options=options)  # type: ignore[arg-type]

    async def audio_problem(self, file_id: str, options: ConversionOptions | None = None) -> AudioProblem | None:
        """What keeps the stored video from becoming a job with ``options`` (``None``: nothing)."""
        return await asyncio.to_thread(self._check, ObjectId(file_id), options)
