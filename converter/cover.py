"""The cover picture of an MP3, found in its source: the source's own, else one video frame.

The source's own cover is a picture FFmpeg shows as an attached picture stream: an MP4's
``covr``, a Matroska image attachment, an MP3's APIC. Its packet is read when the file is
opened, so finding it costs no read. Without one, the cover is the video frame at about a
tenth of the length: the demuxer seeks to the keyframe at or before it and one frame is
decoded (a keyframe decodes alone; a decoder that holds frames back for reordering gets a
few more packets), so a 1 GB video costs one frame's bytes and memory, not its length.

Covers are JPEGs of at most ``MAX_SIDE`` pixels a side and ``MAX_BYTES`` bytes, so the MP3's
head (ID3 tag and Xing frame) stays within its first stored chunk: a source's JPEG within
those bounds is kept as it is, anything else is decoded, scaled and encoded again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

import av
from av.stream import Discard, Disposition

__all__ = ["MAX_BYTES", "MAX_SIDE", "Cover", "find_cover"]

log = logging.getLogger(__name__)

MAX_SIDE = 600
MAX_BYTES = 160 * 1024
_AT_SHARE = 0.10  # where in the video the frame is taken
_MAX_PACKETS = 64  # packets fed to the video decoder before giving up on a frame
# JPEG quantizer scales (lower is better) and sides tried in turn until the picture fits MAX_BYTES
_QUALITIES = (3, 8, 20)
_SIDES = (MAX_SIDE, 400, 240)
_FF_QP2LAMBDA = 118


@dataclass(frozen=True)
class Cover:
    jpeg: bytes
    width: int
    height: int
    origin: str
    """``attached`` (the source's own picture) or ``frame`` (a frame of its video)."""


def find_cover(container: av.container.InputContainer, *, can_seek: bool) -> Cover | None:
    """The source's cover, or a frame of its video (only if ``can_seek``), or ``None``.

    Leaves every stream but the audio discarded, as it found them. After a frame was taken
    (``origin`` is ``frame``) the demuxer is where the frame was: the caller seeks back to
    where the audio starts. A picture that does not decode is no cover, never an error.
    """
    attached = next((s for s in container.streams.video if s.disposition & Disposition.attached_pic), None)
    video = next((s for s in container.streams.video if not s.disposition & Disposition.attached_pic), None)
    try:
        if attached is not None:
            return _attached(container, attached)
        if video is None or not can_seek:
            return None
        return _frame(container, video)
    except (av.FFmpegError, ValueError, StopIteration) as error:
        log.info("no cover: %s", error)
        return None


def _attached(container: av.container.InputContainer, stream: av.VideoStream) -> Cover | None:
    stream.discard = Discard.default
    try:
        packet = next(container.demux(stream))  # queued when the file was opened: nothing is read
    finally:
        stream.discard = Discard.all
    data = bytes(packet)
    decoded = _decode_one(stream, [packet]) if data else None
    if decoded is None:
        return None
    fits = max(decoded.width, decoded.height) <= MAX_SIDE and len(data) <= MAX_BYTES
    if stream.codec_context.name == "mjpeg" and fits:
        return Cover(data, decoded.width, decoded.height, "attached")
    return Cover(*_jpeg(decoded), "attached")


def _frame(container: av.container.InputContainer, video: av.VideoStream) -> Cover | None:
    seconds = _duration(container, video)
    if seconds is None or video.time_base is None:
        return None
    start = video.start_time or 0
    video.discard = Discard.default
    try:
        container.seek(start + int(seconds * _AT_SHARE / video.time_base), stream=video, backward=True)
        decoder = video.codec_context
        decoder.thread_type = "NONE"  # frame threads hold frames back until they are all busy
        packets = (packet for _, packet in zip(range(_MAX_PACKETS), container.demux(video), strict=False))
        decoded = _decode_one(video, packets)
    finally:
        video.discard = Discard.all
    if decoded is None:
        return None
    return Cover(*_jpeg(decoded), "frame")


def _duration(container: av.container.InputContainer, video: av.VideoStream) -> float | None:
    if video.duration is not None and video.time_base is not None:
        return float(video.duration * video.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


def _decode_one(stream: av.VideoStream, packets: Iterable[av.Packet[av.VideoStream]]) -> av.VideoFrame | None:
    decoder = stream.codec_context
    for packet in packets:
        for frame in decoder.decode(packet):
            return frame
    for frame in decoder.decode(None):
        return frame
    return None


def _jpeg(frame: av.VideoFrame) -> tuple[bytes, int, int]:
    """``frame`` scaled to at most ``MAX_SIDE`` a side, as a JPEG of at most ``MAX_BYTES``; its size.

    Most pictures fit at the best quality; a detailed one is compressed harder, then made smaller.
    """
    for side in _SIDES:
        scale = min(1.0, side / max(frame.width, frame.height))
        width, height = max(2, round(frame.width * scale / 2) * 2), max(2, round(frame.height * scale / 2) * 2)
        small = frame.reformat(width=width, height=height, format="yuvj420p", interpolation="AREA")
        for quality in _QUALITIES:
            data = _encode_jpeg(small, quality)
            if len(data) <= MAX_BYTES:
                return data, width, height
    return data, width, height


def _encode_jpeg(frame: av.VideoFrame, quality: int) -> bytes:
    encoder = av.CodecContext.create("mjpeg", "w")
    assert isinstance(encoder, av.VideoCodecContext)
    encoder.width, encoder.height, encoder.pix_fmt = frame.width, frame.height, "yuvj420p"
    encoder.time_base = Fraction(1, 25)
    encoder.qscale = True
    encoder.global_quality = quality * _FF_QP2LAMBDA
    return b"".join(bytes(packet) for packet in [*encoder.encode(frame), *encoder.encode(None)])
