"""The PyAV transcoder on local files: durations, failures classified, video never needed."""

from __future__ import annotations

import io
from pathlib import Path

import av
import pytest

from contracts import ConversionOptions, FailureReason
from converter.samples import write_sample_video
from converter.transcode import ConversionError, transcode


class WriteOnly:
    """A sink with no seek, like a GridFS upload stream."""

    def __init__(self) -> None:
        self.buffer = io.BytesIO()

    def write(self, data: bytes) -> int:
        return self.buffer.write(data)


def decoded_seconds(mp3: bytes) -> tuple[float, int, int]:
    with av.open(io.BytesIO(mp3)) as container:
        stream = container.streams.audio[0]
        assert container.format.name == "mp3"
        samples = sum(frame.samples for frame in container.decode(stream))
        return samples / stream.sample_rate, stream.sample_rate, stream.codec_context.bit_rate or 0


@pytest.mark.parametrize(("rate", "expected_rate"), [(44_100, 44_100), (48_000, 48_000), (96_000, 48_000)])
def test_audio_comes_out_as_mp3_of_the_same_length(tmp_path: Path, rate: int, expected_rate: int) -> None:
    source = tmp_path / "in.mp4"
    seconds = write_sample_video(source, seconds=2.0, sample_rate=rate)
    sink = WriteOnly()

    with source.open("rb") as reader:
        result = transcode(reader, sink, ConversionOptions(bitrate_kbps=128))  # type: ignore[arg-type]

    duration, out_rate, bit_rate = decoded_seconds(sink.buffer.getvalue())
    assert abs(duration - seconds) < 0.1
    assert abs(result.duration_seconds - seconds) < 0.1
    assert out_rate == expected_rate
    assert bit_rate == 128_000


def test_mp3_audio_in_mp4_converts(tmp_path: Path) -> None:
    source = tmp_path / "mp3.mp4"
    seconds = write_sample_video(source, seconds=2.0, audio_codec="libmp3lame")
    sink = WriteOnly()

    with source.open("rb") as reader:
        transcode(reader, sink, ConversionOptions())  # type: ignore[arg-type]

    assert abs(decoded_seconds(sink.buffer.getvalue())[0] - seconds) < 0.1


def test_a_video_without_audio_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "silent.mp4"
    write_sample_video(source, seconds=1.0, audio_codec=None)

    with source.open("rb") as reader, pytest.raises(ConversionError) as raised:
        transcode(reader, WriteOnly(), ConversionOptions())  # type: ignore[arg-type]
    assert raised.value.reason is FailureReason.NO_AUDIO_STREAM


@pytest.mark.parametrize("data", [b"", b"plain text, not a video\n" * 50, bytes(range(256)) * 64])
def test_non_media_is_undecodable(data: bytes) -> None:
    with pytest.raises(ConversionError) as raised:
        transcode(io.BytesIO(data), WriteOnly(), ConversionOptions())  # type: ignore[arg-type]
    assert raised.value.reason is FailureReason.UNDECODABLE_INPUT
