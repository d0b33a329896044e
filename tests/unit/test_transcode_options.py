"""Each conversion option, checked on what a player gets: length within one MP3 frame of the
source's audio, the rate and channels asked for, VBR files whose header states their length,
trims that cut at the asked sample, loudness near the target."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from mutagen.mp3 import MP3

from contracts import ConversionOptions
from converter.encoders import EngineName, installed_engines
from converter.samples import write_sample_video
from converter.transcode import Transcoded, transcode
from tests.unit.mp3_facts import (
    Seekable,
    WriteOnly,
    decode,
    ffprobe_seconds,
    frame_seconds,
    header_seconds,
    integrated_loudness,
    onset_seconds,
)

ENGINES = sorted(installed_engines())


@pytest.fixture(scope="module")
def stereo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sources") / "stereo.mp4"
    write_sample_video(path, seconds=4.0, width=64, height=48)
    return path


@pytest.fixture(scope="module")
def late_start(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Silence for 3 s, then a tone until 6 s: VBR frames vary, and the onset marks the time."""
    path = tmp_path_factory.mktemp("sources") / "late.mp4"
    write_sample_video(path, seconds=6.0, silent_until=3.0, width=64, height=48)
    return path


def convert(source: Path, options: ConversionOptions, **kwargs: Any) -> tuple[bytes, Transcoded]:
    sink = Seekable()
    with source.open("rb") as reader:
        result = transcode(reader, sink, options, **kwargs)
    return sink.getvalue(), result


OPTIONS = [
    {},
    {"bitrate_kbps": 64},
    {"vbr_quality": 0},
    {"vbr_quality": 4},
    {"vbr_quality": 9},
    {"sample_rate_hz": 22_050},
    {"sample_rate_hz": 8_000, "vbr_quality": 5},
    {"sample_rate_hz": 48_000},
    {"channels": "mono"},
    {"normalize": True},
]


def option_id(fields: dict[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in fields.items()) or "default"


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("fields", OPTIONS, ids=option_id)
def test_each_option_keeps_the_length_within_one_frame(
    stereo: Path, engine: EngineName, fields: dict[str, Any]
) -> None:
    options = ConversionOptions.model_validate(fields)
    source = decode(stereo)

    mp3, result = convert(stereo, options, engine=engine)

    decoded = decode(mp3)
    rate = options.sample_rate_hz or 44_100
    assert (decoded.sample_rate, decoded.channels) == (rate, 1 if options.channels == "mono" else 2)
    assert abs(decoded.seconds - source.seconds) <= frame_seconds(rate)
    assert abs(header_seconds(mp3) - source.seconds) <= frame_seconds(rate)
    assert abs(result.duration_seconds - source.seconds) <= frame_seconds(rate)
    assert result.xing


def test_a_low_rate_source_at_the_default_bitrate_gets_the_highest_its_rate_allows(tmp_path: Path) -> None:
    source = tmp_path / "low.mp4"
    write_sample_video(source, seconds=1.0, sample_rate=16_000, width=64, height=48)

    mp3, _ = convert(source, ConversionOptions())

    assert decode(mp3).sample_rate == 16_000
    assert MP3(io.BytesIO(mp3)).info.bitrate == 160_000


def test_mono_can_become_stereo(tmp_path: Path) -> None:
    source = tmp_path / "mono.mp4"
    write_sample_video(source, seconds=1.0, channels=1, width=64, height=48)

    assert decode(convert(source, ConversionOptions())[0]).channels == 1
    assert decode(convert(source, ConversionOptions(channels="stereo"))[0]).channels == 2


@pytest.mark.parametrize("engine", ENGINES)
def test_a_vbr_file_states_its_length_in_its_header(tmp_path: Path, late_start: Path, engine: EngineName) -> None:
    options = ConversionOptions(vbr_quality=2)
    source = decode(late_start)
    with_header, without_header = tmp_path / "header.mp3", tmp_path / "none.mp3"
    with_header.write_bytes(convert(late_start, options, engine=engine)[0])
    pipe = WriteOnly()
    with late_start.open("rb") as reader:
        transcode(reader, pipe, options, engine=engine)
    without_header.write_bytes(pipe.getvalue())

    # ffprobe counts the header's frames (LAME's delay and padding included: up to two frames more)
    assert abs(ffprobe_seconds(with_header) - source.seconds) <= 2 * frame_seconds(44_100)
    assert abs(header_seconds(with_header.read_bytes()) - source.seconds) <= frame_seconds(44_100)
    # without it a player guesses from the first (silent, small) frames: far off
    assert abs(ffprobe_seconds(without_header) - source.seconds) > 5 * frame_seconds(44_100)


@pytest.mark.parametrize("container_format", ["mp4", "matroska", "wav"])
def test_a_trim_cuts_at_the_asked_time(tmp_path: Path, container_format: str) -> None:
    source = tmp_path / f"late.{container_format}"
    if container_format == "wav":
        write_wav(source, seconds=6.0, silent_until=3.0)
    else:
        write_sample_video(
            source, seconds=6.0, silent_until=3.0, container_format=container_format, width=64, height=48
        )

    mp3, result = convert(source, ConversionOptions(start_seconds=2.0, end_seconds=4.5))

    decoded = decode(mp3, keep_samples=True)
    frame = frame_seconds(44_100)
    assert abs(decoded.seconds - 2.5) <= frame
    assert abs(result.duration_seconds - 2.5) <= frame
    assert abs(onset_seconds(decoded) - 1.0) <= frame  # the tone starts 1 s into the cut, as at 3 s in the source


def test_a_trim_to_the_end_and_from_a_pipe(late_start: Path) -> None:
    pipe = Seekable(late_start.read_bytes())  # read only: a non-seeking source is the trim without seek

    sink = Seekable()
    transcode(NoSeek(pipe), sink, ConversionOptions(start_seconds=2.5))

    decoded = decode(sink.getvalue(), keep_samples=True)
    assert abs(decoded.seconds - (decode(late_start).seconds - 2.5)) <= frame_seconds(44_100)
    assert abs(onset_seconds(decoded) - 0.5) <= frame_seconds(44_100)


class NoSeek:
    def __init__(self, inner: Seekable) -> None:
        self._inner = inner

    def read(self, size: int = -1) -> bytes:
        return self._inner.read(size)


def test_normalization_lands_near_minus_16_lufs(tmp_path: Path, stereo: Path) -> None:
    plain, normalized = tmp_path / "plain.mp3", tmp_path / "normalized.mp3"
    plain.write_bytes(convert(stereo, ConversionOptions())[0])
    normalized.write_bytes(convert(stereo, ConversionOptions(normalize=True))[0])

    assert abs(integrated_loudness(plain) - (-16.0)) > 3  # the sample is louder: the option changes it
    assert abs(integrated_loudness(normalized) - (-16.0)) <= 1.5


def write_wav(path: Path, *, seconds: float, silent_until: float) -> None:
    import av

    write_sample_video(path.with_suffix(".mkv"), seconds=seconds, silent_until=silent_until, width=16, height=16)
    with av.open(path.with_suffix(".mkv")) as source, av.open(path, mode="w") as target:
        out = target.add_stream("pcm_s16le", rate=44_100, layout="stereo")
        for frame in source.decode(source.streams.audio[0]):
            frame.pts = None
            for packet in out.encode(frame):
                target.mux(packet)
        target.mux(out.encode(None))
