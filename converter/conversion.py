"""One stored video to one stored MP3: the blocking part of a job, run in a worker thread.

The worker decides *whether* and *when* a job converts (claims, cancellation, events); this
module only does it: open the video's chunks, transcode, write the MP3's chunks (its head,
ID3 tag and Xing frame, is completed in the first chunk before that is stored). The MP3's
file id is chosen by the caller, so it can be recorded before the first chunk is written and
the chunks of an attempt that died can be found and removed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import PurePath

from bson import ObjectId
from gridfs.errors import CorruptGridFile

from contracts import FailureReason, VideoUploaded
from converter.encoders import Mp3Engine
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
) -> Converted:
    """Convert the job's stored video into the MP3 file ``mp3_file_id``.

    Raises ``ConversionError`` for input that will never convert; anything else (storage
    unreachable, ``progress`` raising) propagates after the MP3's chunks are removed.
    """
    with store.open_video(uploaded.video_file_id) as source:
        method = ""

        def write(sink: Sink) -> float:
            nonlocal method
            result = transcode(
                source,
                sink,
                uploaded.options,
                engine=engine,
                progress=progress,
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
