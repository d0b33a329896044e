"""One stored video to one stored MP3: the blocking part of a job, run in a worker thread.

The worker decides *whether* and *when* a job converts (claims, cancellation, events); this
module only does it: open the video's chunks, transcode, write the MP3's chunks (its head,
ID3 tag and Xing frame, is completed in the first chunk before that is stored). The MP3's
file id is chosen by the caller, so it can be recorded before the first chunk is written and
the chunks of an attempt that died can be found and removed.

The job's limits (``common.limits``) are enforced as the audio comes out, whatever the file
stated at upload: past the duration limit of its options, or past the MP3 size limit, the
conversion stops there (``ConversionError``: ``too_long``, ``output_too_large``), at the cost
of converting no more than the limit allows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import PurePath

from bson import ObjectId
from gridfs.errors import CorruptGridFile

from common.limits import MediaLimits
from contracts import FailureReason, VideoUploaded
from converter.encoders import Mp3Engine
from converter.output import Rewritable
from converter.storage import MediaStore, StoredMp3
from converter.tags import title_from_filename
from converter.transcode import ConversionError, Progress, Sink, transcode

__all__ = ["Converted", "convert_stored", "mp3_name"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Converted:
    mp3: StoredMp3
    method: str
    """``copy``, or the encoder that made the MP3."""
    bytes_read: int
    """Bytes of the stored video fetched from storage."""


def convert_stored(
    store: MediaStore,
    uploaded: VideoUploaded,
    mp3_file_id: ObjectId,
    *,
    engine: Mp3Engine = "auto",
    progress: Progress | None = None,
    limits: MediaLimits | None = None,
) -> Converted:
    """Convert the job's stored video into the MP3 file ``mp3_file_id``, within ``limits``.

    Raises ``ConversionError`` for input that will never convert (over the limits included);
    anything else (storage unreachable, ``progress`` raising) propagates after the MP3's
    chunks are removed.
    """
    limits = limits or MediaLimits()
    max_seconds = limits.max_seconds_for(uploaded.options)
    with store.open_video(uploaded.video_file_id) as source:
        method = ""

        def within_limit(done_seconds: float, total_seconds: float | None) -> None:
            # told after every block of about a second: the overrun is at most that
            if done_seconds > max_seconds:
                raise ConversionError(FailureReason.TOO_LONG, limits.overrun_problem(uploaded.options, total_seconds))
            if progress is not None:
                progress(done_seconds, total_seconds)

        def write(sink: Sink) -> float:
            nonlocal method
            result = transcode(
                source,
                _bounded(sink, limits.max_output_bytes),
                uploaded.options,
                engine=engine,
                progress=within_limit,
                title=title_from_filename(uploaded.filename),
            )
            method = result.method
            return result.duration_seconds

        try:
            stored = store.store_mp3(
                uploaded.job_id, uploaded.owner_id, mp3_name(uploaded.filename), write, mp3_file_id
            )
        except CorruptGridFile as error:
            raise ConversionError(FailureReason.SOURCE_MISSING, f"the stored video is incomplete: {error}") from error
        log.info(
            "job %s: %.1f s of audio by %s, %d of %d stored bytes fetched",
            uploaded.job_id,
            stored.duration_seconds,
            method,
            source.bytes_fetched,
            source.length,
            extra={"job_id": str(uploaded.job_id)},
        )
        return Converted(stored, method, source.bytes_fetched)


def mp3_name(filename: str) -> str:
    """``holiday.mp4`` becomes ``holiday.mp3``."""
    return f"{PurePath(filename).stem or 'audio'}.mp3"


class _BoundedSink:
    """Passes bytes on to ``sink`` until more than ``limit`` in all: ``output_too_large``."""

    def __init__(self, sink: Sink, limit: int) -> None:
        self._sink, self._limit, self._written = sink, limit, 0

    def write(self, data: bytes, /) -> object:
        self._written += len(data)
        if self._written > self._limit:
            raise ConversionError(
                FailureReason.OUTPUT_TOO_LARGE,
                f"The MP3 would be larger than the limit of {self._limit / 1024**2:.0f} MiB: "
                "ask for a lower bitrate, a shorter part or mono.",
            )
        return self._sink.write(data)


class _BoundedRewritable(_BoundedSink):
    def __init__(self, sink: Rewritable, limit: int) -> None:
        super().__init__(sink, limit)
        self._rewritable = sink

    def rewrite(self, offset: int, data: bytes, /) -> None:
        self._rewritable.rewrite(offset, data)


def _bounded(sink: Sink, limit: int) -> Sink:
    """``sink`` with a size limit, still able to rewrite its head (the Xing frame) if it was."""
    return _BoundedRewritable(sink, limit) if isinstance(sink, Rewritable) else _BoundedSink(sink, limit)
