"""Cover art: the source's own picture, else a frame of its video, as an ID3 APIC JPEG."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import av
import pytest
from mutagen.id3 import APIC, ID3, ID3NoHeaderError, PictureType

from contracts import ConversionOptions
from converter.cover import MAX_BYTES, MAX_SIDE
from converter.samples import write_sample_video
from converter.transcode import transcode
from tests.unit.mp3_facts import Seekable, WriteOnly, decode, frame_seconds


def convert(source: Path | bytes, options: ConversionOptions | None = None, *, pipe: bool = False) -> bytes:
    sink = Seekable()
    reader = io.BytesIO(source) if isinstance(source, bytes) else source.open("rb")
    with reader:
        if pipe:
            piped = WriteOnly()
            unseekable = _Pipe(reader.read())
            transcode(unseekable, piped, options or ConversionOptions())
            return piped.getvalue()
        transcode(reader, sink, options or ConversionOptions())
    return sink.getvalue()


class _Pipe:
    """A source that only reads, like standard input."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def read(self, size: int = -1, /) -> bytes:
        return self._data.read(size)


def cover_of(mp3: bytes) -> APIC | None:
    try:
        pictures = ID3(io.BytesIO(mp3)).getall("APIC")
    except ID3NoHeaderError:  # no tag at all: nothing to say, no picture
        return None
    assert len(pictures) <= 1
    return pictures[0] if pictures else None


def picture_size(jpeg: bytes) -> tuple[int, int]:
    """Width and height of the picture, decoded as an image viewer would."""
    with av.open(io.BytesIO(jpeg), format="image2pipe") as container:
        frame = next(container.decode(video=0))
        assert container.streams.video[0].codec_context.name == "mjpeg"
        return frame.width, frame.height


@pytest.mark.parametrize(("size", "expected"), [((320, 240), (320, 240)), ((1200, 900), (600, 450))])
def test_the_sources_own_cover_is_embedded(tmp_path: Path, size: tuple[int, int], expected: tuple[int, int]) -> None:
    source = tmp_path / "with-cover.mp4"
    write_sample_video(source, seconds=1.0, width=64, height=48, cover=size)

    cover = cover_of(convert(source))

    assert cover is not None
    assert (cover.mime, cover.type) == ("image/jpeg", PictureType.COVER_FRONT)
    assert picture_size(cover.data) == expected


def test_a_small_jpeg_cover_is_kept_as_it_is(tmp_path: Path) -> None:
    source = tmp_path / "with-cover.mp4"
    write_sample_video(source, seconds=1.0, width=64, height=48, cover=(320, 240))
    with av.open(source) as container:
        stored = bytes(next(container.demux(container.streams.video[1])))

    cover = cover_of(convert(source))

    assert cover is not None
    assert cover.data == stored


def test_a_matroska_attachment_is_the_cover(tmp_path: Path) -> None:
    ffmpeg = shutil.which("ffmpeg")
    assert ffmpeg, "ffmpeg is not installed: `./run media` (Debian: apt-get install ffmpeg)"
    video, picture, source = tmp_path / "plain.mkv", tmp_path / "cover.jpg", tmp_path / "with-cover.mkv"
    write_sample_video(video, seconds=1.0, width=64, height=48, container_format="matroska")
    write_sample_video(tmp_path / "pic.mp4", seconds=0.2, width=64, height=48, cover=(400, 300), audio_codec=None)
    with av.open(tmp_path / "pic.mp4") as container:
        picture.write_bytes(bytes(next(container.demux(container.streams.video[1]))))
    attach = ["-attach", str(picture), "-metadata:s:t", "mimetype=image/jpeg", "-metadata:s:t", "filename=cover.jpg"]
    subprocess.run([ffmpeg, "-v", "error", "-i", str(video), "-c", "copy", *attach, str(source)], check=True)

    cover = cover_of(convert(source))

    assert cover is not None
    assert cover.data == picture.read_bytes()


@pytest.mark.parametrize("bitrate", [192, 128], ids=["copied", "re-encoded"])
def test_an_mp3_sources_picture_is_kept(tmp_path: Path, bitrate: int) -> None:
    source = tmp_path / "song.mp3"
    write_sample_video(tmp_path / "pic.mp4", seconds=0.2, width=64, height=48, cover=(300, 300), audio_codec=None)
    with av.open(tmp_path / "pic.mp4") as container:
        picture = bytes(next(container.demux(container.streams.video[1])))
    with av.open(source, mode="w") as output:
        stream = output.add_stream("libmp3lame", rate=44_100, layout="stereo")
        assert isinstance(stream, av.AudioStream)
        stream.bit_rate = 192_000
        for start in range(0, 44_100 * 2, 1152):
            sound = av.AudioFrame(format="fltp", layout="stereo", samples=1152)
            for plane in sound.planes:
                plane.update(bytes(plane.buffer_size))
            sound.sample_rate, sound.pts = 44_100, start
            output.mux(stream.encode(sound))
        output.mux(stream.encode(None))
    tag = ID3()
    tag.add(APIC(encoding=0, mime="image/jpeg", type=PictureType.COVER_FRONT, desc="", data=picture))
    tag.save(source)

    cover = cover_of(convert(source, ConversionOptions(bitrate_kbps=bitrate)))  # type: ignore[arg-type]

    assert cover is not None
    assert cover.data == picture


@pytest.mark.parametrize(("size", "expected"), [((320, 240), (320, 240)), ((1280, 720), (600, 338))])
def test_without_a_cover_a_frame_of_the_video_is_the_cover(
    tmp_path: Path, size: tuple[int, int], expected: tuple[int, int]
) -> None:
    source = tmp_path / "plain.mp4"
    seconds = write_sample_video(source, seconds=2.0, width=size[0], height=size[1])

    mp3 = convert(source)

    cover = cover_of(mp3)
    assert cover is not None
    assert cover.mime == "image/jpeg"
    assert picture_size(cover.data) == expected
    assert len(cover.data) <= MAX_BYTES
    # taking the frame went forward in the file: the audio still starts at its start
    assert abs(decode(mp3).seconds - seconds) <= frame_seconds(44_100)


@pytest.mark.parametrize("container_format", ["matroska", "mov"])
def test_a_frame_cover_keeps_the_audio_whole_in_other_containers(tmp_path: Path, container_format: str) -> None:
    source = tmp_path / f"plain.{container_format}"
    seconds = write_sample_video(source, seconds=3.0, width=160, height=120, container_format=container_format)

    mp3 = convert(source)

    assert cover_of(mp3) is not None
    assert abs(decode(mp3).seconds - seconds) <= frame_seconds(44_100)


def test_a_noisy_picture_is_made_small_enough(tmp_path: Path) -> None:
    source = tmp_path / "noise.mp4"
    write_sample_video(source, seconds=1.0, width=64, height=48, cover=(2048, 2048))

    cover = cover_of(convert(source))

    assert cover is not None
    assert max(picture_size(cover.data)) <= MAX_SIDE
    assert len(cover.data) <= MAX_BYTES


def test_the_cover_can_be_turned_off(tmp_path: Path) -> None:
    source = tmp_path / "with-cover.mp4"
    write_sample_video(source, seconds=1.0, width=64, height=48, cover=(320, 240))

    assert cover_of(convert(source, ConversionOptions(cover_art=False))) is None


def test_a_pipe_gets_the_sources_cover_but_no_frame(tmp_path: Path) -> None:
    with_cover, plain = tmp_path / "with-cover.mkv", tmp_path / "plain.mkv"
    write_sample_video(plain, seconds=1.0, width=64, height=48, container_format="matroska")
    write_sample_video(with_cover, seconds=1.0, width=64, height=48, cover=(320, 240))

    assert cover_of(convert(plain.read_bytes(), pipe=True)) is None
    assert cover_of(convert(with_cover.read_bytes(), pipe=True)) is not None


def test_audio_alone_has_no_cover(tmp_path: Path) -> None:
    source = tmp_path / "sound.m4a"
    write_sample_video(source, seconds=1.0, width=64, height=48)
    with av.open(tmp_path / "sound.mp4", mode="w") as output, av.open(source) as original:
        audio = original.streams.audio[0]
        copied = output.add_stream_from_template(audio)
        for packet in original.demux(audio):
            if packet.dts is not None:
                packet.stream = copied
                output.mux(packet)

    assert cover_of(convert(tmp_path / "sound.mp4")) is None
