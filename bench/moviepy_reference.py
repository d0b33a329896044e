"""The reference design's conversion, for comparison; run with a Python that has MoviePy.

As the tutorial-grade converters do it: the whole video read into memory, written to a
temporary file, MoviePy's ``VideoFileClip(...).audio.write_audiofile`` (here at 192 kbit/s).

    python bench/moviepy_reference.py INPUT OUTPUT.mp3
"""

from __future__ import annotations

import sys
import tempfile
from typing import Any


def _video_file_clip(path: str) -> Any:
    try:
        from moviepy import VideoFileClip  # MoviePy 2
    except ImportError:
        from moviepy.editor import VideoFileClip  # MoviePy 1
    return VideoFileClip(path)


def main(source: str, target: str) -> None:
    with tempfile.NamedTemporaryFile(suffix=".mp4") as temporary:
        with open(source, "rb") as stored:  # whole, as the reference reads its GridFS file
            temporary.write(stored.read())
        temporary.flush()
        clip = _video_file_clip(temporary.name)
        clip.audio.write_audiofile(target, bitrate="192k", logger=None)
        clip.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
