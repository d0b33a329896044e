"""ID3v2.3 tags: built from the source's metadata (or the upload's name), written before the
audio, readable by mutagen; stream-copied MP3 gets them too, with its Info frame."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from mutagen.id3 import ID3
from mutagen.mp3 import MP3, BitrateMode

from contracts import ConversionOptions
from converter.chapters import MAX_CHAPTERS, Chapter
from converter.cover import MAX_BYTES
from converter.samples import write_sample_video
from converter.tags import MAX_TAG_BYTES, id3_tag, title_from_filename
from converter.transcode import transcode
from tests.unit.mp3_facts import Seekable, decode, frame_seconds, tags
from tests.unit.test_transcode import mp3_in_mp4, mp3_packets

SOURCE_TAGS = {
    "title": "Été à Nice",
    "artist": "Les Essais",
    "album": "Vacances",
    "date": "2024",
    "genre": "Field recording",
    "comment": "made by a test",
    "track": "3/12",
}


def test_a_tag_is_id3v23_with_what_the_source_says() -> None:
    tag = tags(id3_tag(SOURCE_TAGS))

    assert tag.version == (2, 3, 0)
    assert {key: str(tag[key]) for key in ("TIT2", "TPE1", "TALB", "TCON", "TRCK")} == {
        "TIT2": "Été à Nice",
        "TPE1": "Les Essais",
        "TALB": "Vacances",
        "TCON": "Field recording",
        "TRCK": "3/12",
    }
    assert str(tag["TDRC"]) == "2024"
    assert str(tag.getall("COMM")[0]) == "made by a test"


def test_keys_are_read_in_any_case_and_the_title_falls_back_to_the_name() -> None:
    tag = tags(id3_tag({"ARTIST": "Loud", "encoder": "Lavf61"}, fallback_title="holiday"))

    assert (str(tag["TIT2"]), str(tag["TPE1"])) == ("holiday", "Loud")
    assert len(tag) == 2  # the encoder is not something a player shows


def test_the_sources_title_wins_over_the_name() -> None:
    assert str(tags(id3_tag({"title": "Real"}, fallback_title="file"))["TIT2"]) == "Real"


def test_nothing_to_say_is_no_tag_at_all() -> None:
    assert id3_tag({"encoder": ""}, None) == b""


def test_a_huge_value_is_cut_so_the_tag_stays_small() -> None:
    assert len(id3_tag({"comment": "x" * 1_000_000})) < 5_000


@pytest.mark.parametrize(
    ("name", "title"),
    [("holiday.mp4", "holiday"), ("Été 2026.final.mov", "Été 2026.final"), ("", None), (None, None), (".mp4", ".mp4")],
)
def test_the_title_from_a_file_name_drops_the_extension(name: str | None, title: str | None) -> None:
    assert title_from_filename(name) == title


def test_a_converted_mp3_starts_with_the_sources_tags(tmp_path: Path) -> None:
    source = tmp_path / "tagged.mp4"
    seconds = write_sample_video(source, seconds=2.0, width=64, height=48, metadata=SOURCE_TAGS)
    sink = Seekable()

    with source.open("rb") as reader:
        transcode(reader, sink, ConversionOptions(), title="ignored: the source has a title")

    mp3 = sink.getvalue()
    assert mp3.startswith(b"ID3\x03")
    tag = tags(mp3)
    assert (str(tag["TIT2"]), str(tag["TPE1"]), str(tag["TALB"])) == ("Été à Nice", "Les Essais", "Vacances")
    assert abs(decode(mp3).seconds - seconds) <= frame_seconds(44_100)


def test_an_untitled_source_is_titled_by_its_name(tmp_path: Path) -> None:
    source = tmp_path / "plain.mp4"
    write_sample_video(source, seconds=1.0, width=64, height=48)
    sink = Seekable()

    with source.open("rb") as reader:
        transcode(reader, sink, ConversionOptions(), title="Birthday party")

    assert str(tags(sink.getvalue())["TIT2"]) == "Birthday party"


def test_copied_mp3_gets_tags_and_an_info_frame(tmp_path: Path) -> None:
    source = tmp_path / "mp3.mp4"
    mp3_in_mp4(source, 3.0, 192)
    sink = Seekable()

    with source.open("rb") as reader:
        result = transcode(reader, sink, ConversionOptions(bitrate_kbps=192), title="phone clip")

    mp3 = sink.getvalue()
    assert (result.method, result.xing) == ("copy", True)
    assert str(tags(mp3)["TIT2"]) == "phone clip"
    assert mp3.endswith(mp3_packets(source))  # the frames themselves are untouched
    info = MP3(io.BytesIO(mp3)).info
    assert info.bitrate_mode == BitrateMode.CBR
    assert abs(info.length - decode(source).seconds) <= 2 * frame_seconds(44_100)


def test_a_tag_at_every_bound_still_fits_the_first_chunk() -> None:
    chapters = [Chapter(n, n + 1, "a long chapter title " * 20) for n in range(MAX_CHAPTERS)]
    values = dict.fromkeys(("title", "artist", "album", "composer", "genre", "comment", "date"), "x" * 2000)

    tag = id3_tag(values, cover_jpeg=b"\xff\xd8" + bytes(MAX_BYTES - 2), chapters=chapters)

    assert len(tag) <= MAX_TAG_BYTES
    assert len(ID3(io.BytesIO(tag)).getall("APIC")) == 1
