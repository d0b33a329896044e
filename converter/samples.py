"""Synthetic test videos, encoded with PyAV: for tests, the demo and benchmarks.

A sine tone (a different pitch per channel) under a moving gray ramp, so the audio is easy
to check and the video compresses like real footage does not matter here.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

import av
from av.stream import Disposition

__all__ = ["chapter_list", "write_sample_video"]


def write_sample_video(
    target: str | Path | BinaryIO,
    *,
    seconds: float = 3.0,
    audio_codec: str | None = "aac",
    sample_rate: int = 44_100,
    container_format: str = "mp4",
    width: int = 320,
    height: int = 240,
    fps: int = 25,
    channels: int = 2,
    silent_until: float = 0.0,
    metadata: dict[str, str] | None = None,
    faststart: bool = False,
    cover: tuple[int, int] | None = None,
    chapters: Sequence[tuple[float, str]] = (),
) -> float:
    """Encode an H.264 video with an ``audio_codec`` track (none if ``None``) into ``target``.

    The tone starts at ``silent_until`` seconds (silence before: a mark to find in trimmed
    output); ``metadata`` goes into the container (title, artist …); ``faststart`` puts an
    MP4's index before its data; ``cover`` adds a JPEG cover picture of that width and height
    (an attached picture: MP4 ``covr``, a Matroska attachment); ``chapters`` (start seconds,
    title) become the container's chapter list, each ending where the next starts. Returns
    the duration of the audio written, in seconds.
    """
    options = {"movflags": "+faststart"} if faststart else {}
    with av.open(target, mode="w", format=container_format, options=options) as output:
        output.metadata.update(metadata or {})
        if chapters:
            output.set_chapters(chapter_list(chapters, seconds))
        video = output.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"preset": "ultrafast"}
        layout = "mono" if channels == 1 else "stereo"
        audio = output.add_stream(audio_codec, rate=sample_rate, layout=layout) if audio_codec else None
        assert audio is None or isinstance(audio, av.AudioStream)
        picture = _cover_packets(output, *cover) if cover is not None else []  # every stream before muxing

        frames = round(seconds * fps)
        for index in range(frames):
            frame = av.VideoFrame(width, height, "yuv420p")
            luma = bytes((x + index * 4) % 256 for x in range(width)) * height
            frame.planes[0].update(luma)
            for plane in frame.planes[1:]:
                plane.update(bytes([128]) * plane.buffer_size)
            frame.pts = index
            output.mux(video.encode(frame))
        output.mux(video.encode(None))
        output.mux(picture)

        if audio is None:
            return 0.0
        total = round(seconds * sample_rate)
        onset = round(silent_until * sample_rate)
        chunk = 1024
        for start in range(0, total, chunk):
            count = min(chunk, total - start)
            samples = array("h")
            for n in range(start, start + count):
                loud = 9000 if n >= onset else 0
                samples.append(int(loud * math.sin(2 * math.pi * 440 * n / sample_rate)))
                if channels == 2:
                    samples.append(int(loud * math.sin(2 * math.pi * 660 * n / sample_rate)))
            sound = av.AudioFrame(format="s16", layout=layout, samples=count)
            sound.planes[0].update(samples.tobytes())
            sound.sample_rate, sound.pts = sample_rate, start
            output.mux(audio.encode(sound))
        output.mux(audio.encode(None))
        return total / sample_rate


def chapter_list(chapters: Sequence[tuple[float, str]], seconds: float) -> list[av.container.Chapter]:
    """``(start seconds, title)`` pairs as a container's chapters, each ending where the next
    starts (the last at ``seconds``), for ``OutputContainer.set_chapters``."""
    ends = [start for start, _ in chapters[1:]] + [seconds]
    return [
        {
            "id": number,
            "start": round(start * 1000),
            "end": round(end * 1000),
            "time_base": Fraction(1, 1000),
            "metadata": {"title": title},
        }
        for number, ((start, title), end) in enumerate(zip(chapters, ends, strict=True), start=1)
    ]


def _cover_packets(output: av.container.OutputContainer, width: int, height: int) -> list[av.Packet[av.VideoStream]]:
    """A JPEG of diagonal stripes, for the attached picture of a stream of its own."""
    stream = output.add_stream("mjpeg", rate=1)
    assert isinstance(stream, av.VideoStream)
    stream.width, stream.height, stream.pix_fmt = width, height, "yuvj420p"
    stream.disposition = Disposition.attached_pic
    picture = av.VideoFrame(width, height, "yuvj420p")
    luma = picture.planes[0]
    padding = bytes(luma.line_size - width)
    luma.update(b"".join(bytes((x + y) * 4 % 256 for x in range(width)) + padding for y in range(height)))
    for plane in picture.planes[1:]:
        plane.update(bytes([90]) * plane.buffer_size)
    picture.pts = 0
    return [*stream.encode(picture), *stream.encode(None)]
