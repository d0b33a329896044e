"""Chapters: the source's chapter list as ID3 CHAP and CTOC frames, at the right times on the MP3."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from mutagen.id3 import ID3, ID3NoHeaderError

from contracts import ConversionOptions
from converter.chapters import Chapter, on_output
from converter.samples import write_sample_video
from converter.transcode import transcode
from tests.unit.mp3_facts import Seekable, decode, frame_seconds

CHAPTERS = [(0.0, "Intro"), (1.5, "Middle"), (3.0, "End")]


def convert(source: Path, options: ConversionOptions | None = None) -> bytes:
    sink = Seekable()
    with source.open("rb") as reader:
        transcode(reader, sink, options or ConversionOptions(), title="talk")
    return sink.getvalue()


def chapters_in(mp3: bytes) -> list[tuple[int, int, str]]:
    """(start ms, end ms, title) of each chapter, in the table of contents' order, as mutagen reads them."""
    try:
        tag = ID3(io.BytesIO(mp3))
    except ID3NoHeaderError:
        return []
    tables = tag.getall("CTOC")
    if not tables:
        assert not tag.getall("CHAP")
        return []
    (table,) = tables
    found = []
    for element_id in table.child_element_ids:
        chapter = tag[f"CHAP:{element_id}"]
        found.append((chapter.start_time, chapter.end_time, str(chapter.sub_frames["TIT2"])))
    return found


@pytest.fixture(scope="module", params=["mp4", "matroska"])
def source(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("chapters") / f"talk.{request.param}"
    write_sample_video(path, seconds=4.0, width=64, height=48, container_format=request.param, chapters=CHAPTERS)
    return path


def test_the_sources_chapters_are_written_at_their_times(source: Path) -> None:
    mp3 = convert(source)

    assert chapters_in(mp3) == [(0, 1500, "Intro"), (1500, 3000, "Middle"), (3000, 4000, "End")]
    assert abs(decode(mp3).seconds - 4.0) <= frame_seconds(44_100)


def test_a_trim_moves_and_cuts_the_chapters(source: Path) -> None:
    mp3 = convert(source, ConversionOptions(start_seconds=1.0, end_seconds=3.5))

    assert chapters_in(mp3) == [(0, 500, "Intro"), (500, 2000, "Middle"), (2000, 2500, "End")]


def test_chapters_outside_the_trim_are_left_out(source: Path) -> None:
    mp3 = convert(source, ConversionOptions(start_seconds=1.6, end_seconds=2.9))

    assert chapters_in(mp3) == [(0, 1300, "Middle")]


def test_ffmpeg_reads_the_chapters_too(tmp_path: Path, source: Path) -> None:
    ffprobe = shutil.which("ffprobe")
    assert ffprobe, "ffprobe is not installed: `./run media` (Debian: apt-get install ffmpeg)"
    target = tmp_path / "talk.mp3"
    target.write_bytes(convert(source))

    probed: dict[str, Any] = json.loads(
        subprocess.run(
            [ffprobe, "-v", "error", "-show_chapters", "-of", "json", str(target)], check=True, capture_output=True
        ).stdout
    )

    found = sorted((float(c["start_time"]), float(c["end_time"]), c["tags"]["title"]) for c in probed["chapters"])
    assert found == [(0.0, 1.5, "Intro"), (1.5, 3.0, "Middle"), (3.0, 4.0, "End")]


def test_an_mp3_keeps_its_chapters_when_copied(tmp_path: Path, source: Path) -> None:
    first = tmp_path / "first.mp3"
    first.write_bytes(convert(source))

    copied, original = chapters_in(convert(first)), chapters_in(first.read_bytes())

    # the last one may end where the copy's stated length does, within a frame of the audio's
    assert [(start, title) for start, _, title in copied] == [(start, title) for start, _, title in original]
    for (_, end, _), (_, original_end, _) in zip(copied, original, strict=True):
        assert abs(end - original_end) <= 1000 * frame_seconds(44_100)


def test_no_chapters_no_frames(tmp_path: Path) -> None:
    plain = tmp_path / "plain.mp4"
    write_sample_video(plain, seconds=1.0, width=64, height=48)

    assert chapters_in(convert(plain)) == []


def test_a_chapter_without_an_end_ends_where_the_next_starts() -> None:
    chapters = [Chapter(10.0, 0.0, "a"), Chapter(20.0, 0.0, "b")]

    assert on_output(chapters, origin=0.0, start=5.0, length=30.0) == [
        Chapter(5.0, 15.0, "a"),
        Chapter(15.0, 30.0, "b"),
    ]


def test_the_audios_origin_is_the_mp3s_zero() -> None:
    chapters = [Chapter(1.4, 61.4, "a"), Chapter(61.4, 121.4, "b")]

    assert on_output(chapters, origin=1.4, start=0.0, length=None) == [
        Chapter(0.0, 60.0, "a"),
        Chapter(60.0, 120.0, "b"),
    ]
