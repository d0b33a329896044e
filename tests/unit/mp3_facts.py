"""What a player would find in an MP3 (and in its source): decoded length, rate, channels,
the header's duration, tags, loudness. Shared by the converter's correctness tests."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import av
import pytest
from mutagen.id3 import ID3
from mutagen.mp3 import MP3


class Seekable(io.BytesIO):
    """A sink that can go back, like a local file or the GridFS writer: the MP3 gets its Xing frame."""


class WriteOnly:
    """A sink with no seek, like a pipe: the MP3 gets no Xing frame."""

    def __init__(self) -> None:
        self.buffer = io.BytesIO()

    def write(self, data: bytes) -> int:
        return self.buffer.write(data)

    def getvalue(self) -> bytes:
        return self.buffer.getvalue()


@dataclass(frozen=True)
class Decoded:
    seconds: float
    sample_rate: int
    channels: int
    samples: list[float]
    """Mono, as -1..1 floats, when asked for."""


def decode(data: bytes | Path, *, keep_samples: bool = False) -> Decoded:
    """Decode all of the first audio stream, as FFmpeg does (it honours the LAME delay/padding)."""
    source = io.BytesIO(data) if isinstance(data, bytes) else data
    with av.open(source) as container:
        stream = container.streams.audio[0]
        count, kept = 0, []
        mono = av.AudioResampler(format="flt", layout="mono") if keep_samples else None
        for frame in container.decode(stream):
            count += frame.samples
            if mono is not None:
                for block in mono.resample(frame):
                    kept.extend(memoryview(bytes(block.planes[0])).cast("f")[: block.samples])
        return Decoded(count / stream.sample_rate, stream.sample_rate, stream.codec_context.channels, kept)


def frame_seconds(sample_rate: int) -> float:
    """One MP3 frame: 1152 samples for MPEG-1 rates, 576 below 32 kHz."""
    return (1152 if sample_rate >= 32_000 else 576) / sample_rate


def header_seconds(data: bytes) -> float:
    """The duration mutagen reads from the Xing/Info frame (with LAME's delay and padding)."""
    return float(MP3(io.BytesIO(data)).info.length)


def tags(data: bytes) -> ID3:
    return ID3(io.BytesIO(data))


def _ffmpeg_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: `apt-get install ffmpeg` (Debian's ffmpeg is what the tests check with)")
    return found


def ffprobe_seconds(path: Path) -> float:
    """The duration ffprobe states without decoding (from the Xing frame, else the bitrate)."""
    output = subprocess.run(
        [_ffmpeg_tool("ffprobe"), "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return float(output)


def integrated_loudness(path: Path) -> float:
    """EBU R128 integrated loudness in LUFS, measured by ffmpeg's ebur128 filter."""
    output = subprocess.run(
        [_ffmpeg_tool("ffmpeg"), "-hide_banner", "-nostats", "-i", str(path), "-af", "ebur128", "-f", "null", "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stderr
    summary = output[output.rindex("Integrated loudness:") :]
    found = re.search(r"I:\s+(-?[\d.]+) LUFS", summary)
    assert found is not None, summary
    return float(found.group(1))


def onset_seconds(decoded: Decoded, threshold: float = 0.1) -> float:
    """When the sound starts: the first sample louder than ``threshold`` (full scale is 1)."""
    for index, value in enumerate(decoded.samples):
        if abs(value) > threshold:
            return index / decoded.sample_rate
    return float("inf")
