"""Synthetic test videos, encoded with PyAV: for tests, the demo and benchmarks.

A sine tone (a different pitch per channel) under a moving gray ramp, so the audio is easy
to check and the video compresses like real footage does not matter here.
"""

from __future__ import annotations

import math
from array import array
from pathlib import Path
from typing import BinaryIO

import av

__all__ = ["write_sample_video"]


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
) -> float:
    """Encode an H.264 video with an ``audio_codec`` track (none if ``None``) into ``target``.

    The tone starts at ``silent_until`` seconds (silence before: a mark to find in trimmed
    output); ``metadata`` goes into the container (title, artist …); ``faststart`` puts an
    MP4's index before its data. Returns the duration of the audio written, in seconds.
    """
    options = {"movflags": "+faststart"} if faststart else {}
    with av.open(target, mode="w", format=container_format, options=options) as output:
        output.metadata.update(metadata or {})
        video = output.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"preset": "ultrafast"}
        layout = "mono" if channels == 1 else "stereo"
        audio = output.add_stream(audio_codec, rate=sample_rate, layout=layout) if audio_codec else None
        assert audio is None or isinstance(audio, av.AudioStream)

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
