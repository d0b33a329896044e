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
import threading
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

        # one budget for the MP3 and its parts: the limit is on what the job stores
        budget = _Budget(limits.max_output_bytes)
        parts = store.parts(
            mp3_file_id,
            PurePath(mp3_name(uploaded.filename)).stem,
            {"job_id": str(uploaded.job_id), "owner_id": uploaded.owner_id},
            wrap=lambda writer: _bounded(writer, budget),
        )

        def write(sink: Sink) -> float:
            nonlocal method
            result = transcode(
                source,
                _bounded(sink, budget),
                uploaded.options,
                engine=engine,
                progress=within_limit,
                title=title_from_filename(uploaded.filename),
                parts=parts,
            )
            method = result.method
            return result.duration_seconds

        try:
            stored = store.store_mp3(
                uploaded.job_id,
                uploaded.owner_id,
                mp3_name(uploaded.filename),
                write,
                mp3_file_id,
                parts=lambda: tuple(parts.stored),
            )
        except BaseException as error:
            parts.abort()
            if isinstance(error, CorruptGridFile):
                raise ConversionError(
                    FailureReason.SOURCE_MISSING, f"the stored video is incomplete: {error}"
                ) from error
            raise
        if uploaded.options.split_chapters and not stored.parts:
            log.info("job %s: split per chapter asked for, but the source has fewer than two chapters", uploaded.job_id)
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


class _Budget:
    """Bytes the job may still store, shared by the MP3 and its parts (written from two threads)."""

    def __init__(self, limit: int) -> None:
        self.limit, self._written, self._lock = limit, 0, threading.Lock()

    def spend(self, size: int) -> None:
        with self._lock:
            self._written += size
            over = self._written > self.limit
        if over:
            raise ConversionError(
                FailureReason.OUTPUT_TOO_LARGE,
                f"The MP3 would be larger than the limit of {self.limit / 1024**2:.0f} MiB "
                "(its parts per chapter included): ask for a lower bitrate, a shorter part, mono or no split.",
            )


class _BoundedSink:
    """Passes bytes on to ``sink`` until the budget is spent: ``output_too_large``."""

    def __init__(self, sink: Sink, budget: _Budget) -> None:
        self._sink, self._budget = sink, budget

    def write(self, data: bytes, /) -> object:
        self._budget.spend(len(data))
        return self._sink.write(data)


class _BoundedRewritable(_BoundedSink):
    def __init__(self, sink: Rewritable, budget: _Budget) -> None:
        super().__init__(sink, budget)
        self._rewritable = sink

    def rewrite(self, offset: int, data: bytes, /) -> None:
        self._rewritable.rewrite(offset, data)


def _bounded(sink: Sink, budget: _Budget) -> Sink:
    """``sink`` within the budget, still able to rewrite its head (the Xing frame) if it was."""
    return _BoundedRewritable(sink, budget) if isinstance(sink, Rewritable) else _BoundedSink(sink, budget)
