"""Each failure reason from a matching bad input: what the job's ConversionFailed will say."""

from __future__ import annotations

import io
from pathlib import Path

import av
import pytest

from contracts import ConversionOptions, FailureReason
from converter.samples import write_sample_video
from converter.transcode import ConversionError, transcode
from tests.unit.mp3_facts import Seekable, decode


def failure(data: bytes, options: ConversionOptions | None = None) -> ConversionError:
    with pytest.raises(ConversionError) as raised:
        transcode(io.BytesIO(data), Seekable(), options or ConversionOptions())
    return raised.value


def matroska_pcm(codec_id: bytes) -> bytes:
    """A Matroska file of one second of PCM whose codec id is then overwritten by ``codec_id``
    (13 bytes, NUL-padded): a codec FFmpeg does not know, or one whose decoder refuses the data."""
    written = io.BytesIO()
    with av.open(written, "w", format="matroska") as output:
        stream = output.add_stream("pcm_s16le", rate=8000, layout="mono")
        for second in range(3):
            frame = av.AudioFrame(format="s16", layout="mono", samples=8000)
            frame.planes[0].update(bytes(range(256)) * 62 + bytes(16_000 - 256 * 62))
            frame.sample_rate, frame.pts = 8000, second * 8000
            output.mux(stream.encode(frame))
        output.mux(stream.encode(None))
    assert len(codec_id) == len(b"A_PCM/INT/LIT")
    return written.getvalue().replace(b"A_PCM/INT/LIT", codec_id)


@pytest.mark.parametrize(
    "data",
    [b"", b"plain text, not a video\n" * 50, bytes(range(256)) * 64, b"\x00" * 100_000],
    ids=["zero bytes", "text", "noise", "zeros"],
)
def test_what_is_not_media_is_undecodable(data: bytes) -> None:
    assert failure(data).reason is FailureReason.UNDECODABLE_INPUT


def test_a_codec_ffmpeg_does_not_know_is_unsupported() -> None:
    error = failure(matroska_pcm(b"A_QUUX/NO/DEC"))

    assert error.reason is FailureReason.UNSUPPORTED_CODEC
    assert "codec" in error.message


@pytest.mark.parametrize("codec_id", [b"A_AC3" + bytes(8), b"A_MPEG/L3" + bytes(4)])
def test_audio_its_decoder_refuses_is_undecodable(codec_id: bytes) -> None:
    error = failure(matroska_pcm(codec_id))

    assert error.reason is FailureReason.UNDECODABLE_INPUT
    assert "no decodable samples" in error.message


def test_the_pcm_those_files_are_made_of_converts() -> None:
    sink = Seekable()
    transcode(io.BytesIO(matroska_pcm(b"A_PCM/INT/LIT")), sink, ConversionOptions())
    assert abs(decode(sink.getvalue()).seconds - 3.0) < 0.05


@pytest.fixture(scope="module")
def indexed_first(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """10 s of MP4 with its index before the data, as phones and `-movflags +faststart` write it."""
    path = tmp_path_factory.mktemp("truncated") / "faststart.mp4"
    write_sample_video(path, seconds=10.0, faststart=True, width=64, height=48)
    data = path.read_bytes()
    assert data.find(b"moov") < data.find(b"mdat")
    return data


@pytest.mark.parametrize("share", [0.3, 0.6])
def test_a_file_cut_short_is_truncated_not_a_short_mp3(indexed_first: bytes, share: float) -> None:
    error = failure(indexed_first[: int(len(indexed_first) * share)])

    assert error.reason is FailureReason.TRUNCATED_INPUT
    assert "states 10.0 s" in error.message


def test_a_file_missing_less_than_two_seconds_still_converts(indexed_first: bytes) -> None:
    sink = Seekable()

    result = transcode(io.BytesIO(indexed_first[: int(len(indexed_first) * 0.97)]), sink, ConversionOptions())

    assert 8.0 < result.duration_seconds < 10.0


def test_an_mp4_cut_before_its_index_is_undecodable(tmp_path: Path) -> None:
    path = tmp_path / "index-last.mp4"
    write_sample_video(path, seconds=4.0, width=64, height=48)
    data = path.read_bytes()
    assert data.find(b"mdat") < data.find(b"moov")

    assert failure(data[: len(data) // 2]).reason is FailureReason.UNDECODABLE_INPUT


def test_a_trim_past_the_end_of_the_audio_says_so(indexed_first: bytes) -> None:
    error = failure(indexed_first, ConversionOptions(start_seconds=30))

    assert error.reason is FailureReason.UNDECODABLE_INPUT
    assert "starts at 30 s" in error.message


def test_a_trim_of_a_truncated_file_is_judged_on_the_trimmed_part(indexed_first: bytes) -> None:
    cut = indexed_first[: int(len(indexed_first) * 0.5)]  # about 4.5 s of the 10 left

    sink = Seekable()
    result = transcode(io.BytesIO(cut), sink, ConversionOptions(start_seconds=1, end_seconds=3))
    assert abs(result.duration_seconds - 2.0) < 0.05
    assert failure(cut, ConversionOptions(start_seconds=1, end_seconds=9)).reason is FailureReason.TRUNCATED_INPUT
