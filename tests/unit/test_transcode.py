"""The transcoder on local files: durations, bitrates, stream copy, each encoder, failures classified."""

from __future__ import annotations

import io
from pathlib import Path

import av
import pytest

from contracts import ConversionOptions, FailureReason
from converter.encoders import EngineName, installed_engines
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


def mp3_in_mp4(path: Path, seconds: float, bitrate_kbps: int) -> None:
    """An MP4 whose audio is CBR MP3 at ``bitrate_kbps``, as phones and screen recorders make."""
    with av.open(path, mode="w") as output:
        video = output.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        audio = output.add_stream("libmp3lame", rate=44_100, layout="stereo")
        audio.bit_rate = bitrate_kbps * 1000
        for index in range(round(seconds * 25)):
            frame = av.VideoFrame(64, 48, "yuv420p")
            frame.pts = index
            output.mux(video.encode(frame))
        output.mux(video.encode(None))
        for start in range(0, round(seconds * 44_100), 1152):
            sound = av.AudioFrame(format="s16", layout="stereo", samples=1152)
            sound.planes[0].update(bytes(1152 * 4))
            sound.sample_rate, sound.pts = 44_100, start
            output.mux(audio.encode(sound))
        output.mux(audio.encode(None))


def mp3_packets(path: Path) -> bytes:
    with av.open(path) as container:
        return b"".join(bytes(packet) for packet in container.demux(container.streams.audio[0]) if packet.size)


def test_mp3_audio_at_the_requested_bitrate_is_copied_as_is(tmp_path: Path) -> None:
    source = tmp_path / "mp3.mp4"
    mp3_in_mp4(source, 2.0, 192)
    sink = WriteOnly()

    with source.open("rb") as reader:  # no cover, so no tag: only the frames
        result = transcode(reader, sink, ConversionOptions(bitrate_kbps=192, cover_art=False))  # type: ignore[arg-type]

    assert result.method == "copy"
    assert sink.buffer.getvalue() == mp3_packets(source)
    duration, _, bit_rate = decoded_seconds(sink.buffer.getvalue())
    assert abs(duration - 2.0) < 0.1
    assert abs(result.duration_seconds - 2.0) < 0.1
    assert bit_rate == 192_000


@pytest.mark.parametrize(("bitrate", "stream_copy"), [(128, True), (192, False)])
def test_mp3_audio_is_re_encoded_at_another_bitrate_or_when_copy_is_off(
    tmp_path: Path, bitrate: int, stream_copy: bool
) -> None:
    source = tmp_path / "mp3.mp4"
    mp3_in_mp4(source, 2.0, 192)
    sink = WriteOnly()

    with source.open("rb") as reader:
        result = transcode(
            reader,
            sink,  # type: ignore[arg-type]
            ConversionOptions(bitrate_kbps=bitrate),  # type: ignore[arg-type]
            stream_copy=stream_copy,
        )

    assert result.method != "copy"
    duration, _, bit_rate = decoded_seconds(sink.buffer.getvalue())
    assert abs(duration - 2.0) < 0.1
    assert bit_rate == bitrate * 1000


@pytest.mark.parametrize("engine", sorted(installed_engines()))
def test_each_installed_encoder_makes_the_same_kind_of_mp3(tmp_path: Path, engine: EngineName) -> None:
    source = tmp_path / "in.mp4"
    seconds = write_sample_video(source, seconds=2.0)
    sink = WriteOnly()

    with source.open("rb") as reader:
        result = transcode(reader, sink, ConversionOptions(bitrate_kbps=160), engine=engine)  # type: ignore[arg-type]

    assert result.method == engine
    duration, rate, bit_rate = decoded_seconds(sink.buffer.getvalue())
    assert abs(duration - seconds) < 0.1
    assert (rate, bit_rate) == (44_100, 160_000)


def test_the_system_library_is_the_default(tmp_path: Path) -> None:
    source = tmp_path / "in.mp4"
    write_sample_video(source, seconds=0.5)

    with source.open("rb") as reader:
        result = transcode(reader, WriteOnly(), ConversionOptions())  # type: ignore[arg-type]

    assert result.method == "system"


def test_mono_stays_mono(tmp_path: Path) -> None:
    source = tmp_path / "mono.wav"
    with av.open(source, mode="w") as output:
        stream = output.add_stream("pcm_s16le", rate=22_050, layout="mono")
        sound = av.AudioFrame(format="s16", layout="mono", samples=22_050)
        sound.planes[0].update(bytes(22_050 * 2))
        sound.sample_rate, sound.pts = 22_050, 0
        output.mux(stream.encode(sound))
        output.mux(stream.encode(None))
    sink = WriteOnly()

    with source.open("rb") as reader:
        transcode(reader, sink, ConversionOptions(bitrate_kbps=64))  # type: ignore[arg-type]

    with av.open(io.BytesIO(sink.buffer.getvalue())) as container:
        stream = container.streams.audio[0]
        assert (stream.codec_context.channels, stream.sample_rate) == (1, 22_050)
        assert abs(sum(frame.samples for frame in container.decode(stream)) / 22_050 - 1.0) < 0.1
