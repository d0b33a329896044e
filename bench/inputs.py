"""The benchmark's input videos, made once with ffmpeg's lavfi sources and kept in a cache directory.

- ``main.mp4``: 10 minutes of 1280x720 H.264 (~4.5 Mbit/s) + AAC stereo 44.1 kHz, with the
  index (moov) at the end, as ffmpeg writes by default (~350 MB);
- ``faststart.mp4``: the same, remuxed with ``-movflags +faststart`` (index first);
- ``mp3-in-mp4.mp4``: the same video with the audio as CBR MP3 at 192 kbit/s;
- ``large.mp4``: the same 10 minutes at ~13.5 Mbit/s CBR video (~1 GB), for memory.

The audio is a tone under pink noise, so the encoder has real work to do.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import av

__all__ = ["Input", "make_inputs"]

SECONDS = 600
_VIDEO = "testsrc2=size=1280x720:rate=30"
_AUDIO = (
    "sine=frequency=440:sample_rate=44100[tone];"
    "anoisesrc=color=pink:amplitude=0.2:sample_rate=44100[noise];"
    "[tone][noise]amerge=inputs=2"
)


@dataclass(frozen=True)
class Input:
    name: str
    path: Path
    size_bytes: int
    audio_seconds: float
    audio_codec: str


def make_inputs(cache_dir: Path, *, large: bool) -> dict[str, Input]:
    """The inputs, generated where missing (a few minutes the first time)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    main = cache_dir / "main.mp4"
    _make(main, _synthesize(video_kbps=4500, cbr=False))
    _make(cache_dir / "faststart.mp4", ["-i", str(main), "-c", "copy", "-movflags", "+faststart"])
    _make(
        cache_dir / "mp3-in-mp4.mp4",
        ["-i", str(main), "-map", "0:v", "-map", "0:a", "-c:v", "copy", "-c:a", "libmp3lame", "-b:a", "192k"],
    )
    names = ["main", "faststart", "mp3-in-mp4"]
    if large:
        path = cache_dir / "large.mp4"
        _make(path, _synthesize(video_kbps=13_500, cbr=True))
        names.append("large")
    return {name: _describe(name, cache_dir / f"{name}.mp4") for name in names}


def _synthesize(*, video_kbps: int, cbr: bool) -> list[str]:
    rate = f"{video_kbps}k"
    constant = ["-minrate", rate, "-maxrate", rate, "-bufsize", rate, "-x264-params", "nal-hrd=cbr"] if cbr else []
    return [
        *("-f", "lavfi", "-i", _VIDEO, "-f", "lavfi", "-i", _AUDIO, "-t", str(SECONDS)),
        *("-c:v", "libx264", "-preset", "ultrafast", "-b:v", rate, *constant),
        *("-c:a", "aac", "-b:a", "160k", "-ac", "2"),
    ]


def _make(path: Path, arguments: list[str]) -> None:
    if path.exists():
        return
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise RuntimeError("the benchmark needs ffmpeg on PATH (Debian: apt-get install ffmpeg)")
    print(f"making {path} (once) ...", flush=True)
    partial = path.with_name(f".{path.name}.partial.mp4")
    subprocess.run(  # noqa: S603
        [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *arguments, str(partial)], check=True
    )
    partial.replace(path)


def _describe(name: str, path: Path) -> Input:
    with av.open(path) as container:
        stream = container.streams.audio[0]
        seconds = float(stream.duration * stream.time_base) if stream.duration and stream.time_base else 0.0
        codec = stream.codec_context.codec.canonical_name
    return Input(name, path, path.stat().st_size, seconds, codec)
