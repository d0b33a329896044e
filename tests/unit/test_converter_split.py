"""One MP3 per chapter: each part a complete MP3 as long as its chapter, with its own tags."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from mutagen.mp3 import MP3

from contracts import ConversionOptions
from converter.chapters import Chapter
from converter.samples import write_sample_video
from converter.transcode import Transcoded, transcode
from tests.unit.mp3_facts import Seekable, decode, frame_seconds, header_seconds, tags

CHAPTERS = [(0.0, "Intro"), (1.3, "Middle part"), (2.9, "End")]
SECONDS = 4.0


@dataclass
class PartsInMemory:
    """The port the storage fills, kept in memory: each part's bytes, in order."""

    opened: list[tuple[int, Chapter]] = field(default_factory=list)
    files: dict[int, Seekable] = field(default_factory=dict)
    closed: dict[int, float] = field(default_factory=dict)

    def open(self, number: int, chapter: Chapter) -> Seekable:
        assert number not in self.files
        assert all(n in self.closed for n in self.files), "one part at a time"
        self.opened.append((number, chapter))
        self.files[number] = Seekable()
        return self.files[number]

    def close(self, number: int, seconds: float) -> None:
        self.closed[number] = seconds

    def bytes_of(self, number: int) -> bytes:
        return self.files[number].getvalue()


@pytest.fixture(scope="module", params=["mp4", "matroska"])
def source(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("split") / f"lecture.{request.param}"
    write_sample_video(
        path,
        seconds=SECONDS,
        width=64,
        height=48,
        container_format=request.param,
        chapters=CHAPTERS,
        metadata={"title": "A lecture", "artist": "Someone"},
    )
    return path


def split(source: Path, engine: str = "auto", **options: Any) -> tuple[Transcoded, bytes, PartsInMemory]:
    sink, parts = Seekable(), PartsInMemory()
    with source.open("rb") as reader:
        result = transcode(
            reader,
            sink,
            ConversionOptions(split_chapters=True, **options),
            engine=engine,  # type: ignore[arg-type]
            title="lecture",
            parts=parts,
        )
    return result, sink.getvalue(), parts


@pytest.mark.parametrize("engine", ["system", "lameenc", "pyav"])
def test_each_chapter_becomes_an_mp3_as_long_as_the_chapter(source: Path, engine: str) -> None:
    result, whole, parts = split(source, engine)

    ends = [start for start, _ in CHAPTERS[1:]] + [SECONDS]
    assert [part.number for part in result.parts] == [1, 2, 3]
    for (start, title), end, part in zip(CHAPTERS, ends, result.parts, strict=True):
        mp3 = parts.bytes_of(part.number)
        assert abs(decode(mp3).seconds - (end - start)) <= frame_seconds(44_100), title
        assert abs(header_seconds(mp3) - (end - start)) <= frame_seconds(44_100), title
        assert abs(part.seconds - (end - start)) <= frame_seconds(44_100)
        assert part.xing
        assert part.chapter.title == title
        assert parts.closed[part.number] == part.seconds
    # the whole MP3 is made as well, with its chapters
    assert abs(decode(whole).seconds - SECONDS) <= frame_seconds(44_100)
    assert len(tags(whole).getall("CHAP")) == 3


def test_each_part_is_tagged_as_a_track_of_the_source(source: Path) -> None:
    _, _, parts = split(source)

    for number, (_, title) in enumerate(CHAPTERS, start=1):
        tag = tags(parts.bytes_of(number))
        assert str(tag["TIT2"]) == title
        assert str(tag["TRCK"]) == f"{number}/3"
        assert str(tag["TALB"]) == "A lecture"
        assert str(tag["TPE1"]) == "Someone"
        assert not tag.getall("CHAP")
        (picture,) = tag.getall("APIC")
        assert picture.mime == "image/jpeg"
        assert MP3(io.BytesIO(parts.bytes_of(number))).info.sample_rate == 44_100


def test_parts_follow_a_trim_and_the_other_options(source: Path) -> None:
    # from 1.0 s: "Intro" keeps 0.3 s, "Middle part" 1.6 s, "End" 1.1 s; mono at 22.05 kHz, VBR
    result, _, parts = split(
        source, start_seconds=1.0, channels="mono", sample_rate_hz=22_050, vbr_quality=4, cover_art=False
    )

    lengths = [0.3, 1.6, 1.1]
    assert len(result.parts) == 3
    for number, length in enumerate(lengths, start=1):
        decoded = decode(parts.bytes_of(number))
        assert (decoded.channels, decoded.sample_rate) == (1, 22_050)
        assert abs(decoded.seconds - length) <= frame_seconds(22_050)
        assert not tags(parts.bytes_of(number)).getall("APIC")


def test_no_parts_without_chapters_or_without_the_option(tmp_path: Path, source: Path) -> None:
    plain = tmp_path / "plain.mp4"
    write_sample_video(plain, seconds=2.0, width=64, height=48)
    one = tmp_path / "one.mp4"
    write_sample_video(one, seconds=2.0, width=64, height=48, chapters=[(0.0, "Only")])

    for path in (plain, one):
        result, whole, parts = split(path)
        assert result.parts == ()
        assert not parts.opened
        assert abs(decode(whole).seconds - 2.0) <= frame_seconds(44_100)
    sink, parts = Seekable(), PartsInMemory()
    with source.open("rb") as reader:
        assert transcode(reader, sink, ConversionOptions(), parts=parts).parts == ()
    assert not parts.opened


def test_a_copied_mp3_source_is_encoded_when_split(tmp_path: Path, source: Path) -> None:
    # an MP3 with chapters at the bitrate asked for would be copied as is: split, it is encoded
    whole = Seekable()
    with source.open("rb") as reader:
        transcode(reader, whole, ConversionOptions(bitrate_kbps=128))
    mp3 = tmp_path / "lecture.mp3"
    mp3.write_bytes(whole.getvalue())

    result, _, parts = split(mp3, bitrate_kbps=128)

    assert result.method != "copy"
    assert [part.chapter.title for part in result.parts] == [title for _, title in CHAPTERS]
    assert abs(decode(parts.bytes_of(2)).seconds - 1.6) <= frame_seconds(44_100)
