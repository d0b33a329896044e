"""Either MP3 engine, the same MP3 around the audio: length, Xing/Info header, tags.

The system's libmp3lame and the lameenc wheel are two builds of LAME 3.100. Their frames
differ: the system's are joint stereo, as ffmpeg asks, while lameenc has no way to ask and
gets plain stereo. What a player reads is the same: the number of frames, the encoder delay
and padding in the LAME tag, the header's version, rate and bitrate, the tags.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mutagen.mp3 import MP3

from contracts import ConversionOptions
from converter.mp3 import frame_info
from converter.samples import write_sample_video
from converter.transcode import transcode
from converter.xing import ENCODER_DELAY
from tests.unit.mp3_facts import Seekable, decode, frame_seconds, header_seconds, tags


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("engines") / "talk.mp4"
    write_sample_video(
        path, seconds=4.0, width=64, height=48, metadata={"title": "A talk", "artist": "Someone", "date": "2024"}
    )
    return path


@dataclass(frozen=True)
class Head:
    """What a player reads before the audio."""

    id3: bytes
    kind: bytes
    """``Info`` (CBR) or ``Xing`` (VBR)."""
    frames: int
    delay: int
    padding: int
    header: bytes
    """The first audio frame's header bar the padding bit and the stereo mode: version, rate,
    bitrate (CBR), mono or not."""


def head(mp3: bytes) -> Head:
    id3_size = 10 + (mp3[6] << 21 | mp3[7] << 14 | mp3[8] << 7 | mp3[9])
    first = frame_info(mp3, id3_size)
    assert first is not None
    tag_frame = mp3[id3_size : id3_size + first.length]
    kind = b"Info" if b"Info" in tag_frame else b"Xing"
    at = tag_frame.index(kind)
    frames = int.from_bytes(tag_frame[at + 8 : at + 12], "big")
    lame = tag_frame.index(b"LAME3.100")
    delays = int.from_bytes(tag_frame[lame + 21 : lame + 24], "big")
    audio = id3_size + first.length
    mono = mp3[audio + 3] & 0xC0 == 0xC0
    header = bytes([mp3[audio], mp3[audio + 1], mp3[audio + 2] & 0xFD, 0xC0 if mono else 0])
    return Head(mp3[:id3_size], kind, frames, delays >> 12, delays & 0xFFF, header)


def convert(source: Path, options: ConversionOptions, engine: str) -> bytes:
    sink = Seekable()
    with source.open("rb") as reader:
        result = transcode(reader, sink, options, engine=engine)  # type: ignore[arg-type]
    assert (result.method, result.xing) == (engine, True)
    return sink.getvalue()


OPTIONS: list[dict[str, Any]] = [
    {},
    {"bitrate_kbps": 128},
    {"vbr_quality": 2},
    {"sample_rate_hz": 22_050, "channels": "mono"},
    {"sample_rate_hz": 48_000},
    {"start_seconds": 1.0, "end_seconds": 3.5},
    {"normalize": True},
]


def option_id(fields: dict[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in fields.items()) or "default"


@pytest.mark.parametrize("fields", OPTIONS, ids=option_id)
def test_both_engines_make_the_same_mp3_around_the_audio(source: Path, fields: dict[str, Any]) -> None:
    options = ConversionOptions.model_validate(fields)
    expected = (options.end_seconds or decode(source).seconds) - options.start_seconds
    rate = options.sample_rate_hz or 44_100

    system, lameenc = convert(source, options, "system"), convert(source, options, "lameenc")

    assert head(system) == head(lameenc)
    assert head(system).delay == ENCODER_DELAY
    assert head(system).kind == (b"Xing" if options.vbr_quality is not None else b"Info")
    assert tags(system) == tags(lameenc)
    assert str(tags(system)["TIT2"]) == "A talk"
    for mp3 in (system, lameenc):
        assert abs(decode(mp3).seconds - expected) <= frame_seconds(rate)
        assert abs(header_seconds(mp3) - expected) <= frame_seconds(rate)
    assert MP3(io.BytesIO(system)).info.bitrate_mode == MP3(io.BytesIO(lameenc)).info.bitrate_mode


def channel_modes(mp3: bytes) -> set[int]:
    """The channel mode field of every audio frame (0 stereo, 1 joint stereo, 3 mono)."""
    position = len(head(mp3).id3)
    modes = set()
    first = True
    while (info := frame_info(mp3, position)) is not None:
        if not first:
            modes.add(mp3[position + 3] >> 6)
        first = False
        position += info.length
    return modes


def test_the_system_engine_encodes_joint_stereo_as_ffmpeg_does(source: Path) -> None:
    # ffmpeg's libmp3lame asks LAME for joint stereo; lameenc cannot ask, and LAME's own
    # choice at 192 kbit/s is plain stereo: that, not the build, is most of their difference in CPU
    assert channel_modes(convert(source, ConversionOptions(), "system")) == {1}
    assert channel_modes(convert(source, ConversionOptions(), "lameenc")) == {0}
