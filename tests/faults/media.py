"""Long test inputs, made quickly: a conversion that lasts long enough to break into."""

from __future__ import annotations

import math
from array import array
from collections.abc import Sequence
from pathlib import Path

import av

from converter.samples import chapter_list

__all__ = ["write_long_video"]


def write_long_video(
    target: Path, seconds: int, *, sample_rate: int = 44_100, chapters: Sequence[tuple[float, str]] = ()
) -> float:
    """An MP4 with ``seconds`` of a stereo AAC tone and a tiny H.264 picture once a second
    (and ``chapters``, ``(start seconds, title)`` pairs, if given).

    One second of samples is computed once and repeated, so a ten-minute input takes seconds
    to write. Returns the audio's duration.
    """
    second = array("h")
    for n in range(sample_rate):
        second.append(int(9000 * math.sin(2 * math.pi * 440 * n / sample_rate)))
        second.append(int(9000 * math.sin(2 * math.pi * 660 * n / sample_rate)))
    pcm = second.tobytes()
    with av.open(str(target), mode="w", format="mp4") as output:
        if chapters:
            output.set_chapters(chapter_list(chapters, seconds))
        video = output.add_stream("libx264", rate=1)
        video.width, video.height, video.pix_fmt = 16, 16, "yuv420p"
        video.options = {"preset": "ultrafast"}
        audio = output.add_stream("aac", rate=sample_rate, layout="stereo")
        assert isinstance(audio, av.AudioStream)
        for index in range(seconds):
            picture = av.VideoFrame(16, 16, "yuv420p")
            for plane in picture.planes:
                plane.update(bytes([(index * 8) % 256]) * plane.buffer_size)
            picture.pts = index
            output.mux(video.encode(picture))
            sound = av.AudioFrame(format="s16", layout="stereo", samples=sample_rate)
            sound.planes[0].update(pcm)
            sound.sample_rate, sound.pts = sample_rate, index * sample_rate
            output.mux(audio.encode(sound))
        output.mux(video.encode(None))
        output.mux(audio.encode(None))
    return float(seconds)
