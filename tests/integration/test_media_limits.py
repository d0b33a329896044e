"""The converter enforces the media limits while it converts, over real GridFS: a file that
states less audio than it holds stops at the limit (``too_long``), an MP3 past the size limit
stops there (``output_too_large``), and nothing of either is left in storage."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pymongo.database import Database

from common.limits import MediaLimits
from contracts import ConversionFailed, ConversionOptions, ConversionStarted, FailureReason, Mp3Converted
from gateway.media import MediaProbe, audio_problem
from tests.integration.conftest import store_file
from tests.integration.test_converter_worker import Published, converter, mp3s_of, store_video, uploaded
from tests.lying_media import flac


def chunks(database: Database) -> int:
    return database["mp3s.chunks"].count_documents({})


@pytest.fixture(scope="module")
def lying() -> bytes:
    """30 s of audio, stating 2 s."""
    return flac(30, stated_seconds=2)


async def test_audio_longer_than_it_states_stops_at_the_limit(sync_database: Database, lying: bytes) -> None:
    event = uploaded(store_video(sync_database, lying))
    published = Published()
    before = chunks(sync_database)

    await converter(sync_database, published, limits=MediaLimits(max_seconds=10)).handle(event)

    assert published.outcomes() == [ConversionStarted, ConversionFailed]
    [failed] = published.of(ConversionFailed)
    assert isinstance(failed, ConversionFailed)
    assert failed.reason is FailureReason.TOO_LONG
    assert failed.message.startswith("The audio goes on past 0:10, the limit, though the file stated 0:02")
    assert mp3s_of(sync_database, event) == []
    assert chunks(sync_database) == before


async def test_a_file_stating_no_duration_stops_at_the_limit_too(sync_database: Database) -> None:
    event = uploaded(store_video(sync_database, flac(30, stated_seconds=0)))
    published = Published()

    await converter(sync_database, published, limits=MediaLimits(max_seconds=10)).handle(event)

    [failed] = published.of(ConversionFailed)
    assert isinstance(failed, ConversionFailed)
    assert failed.reason is FailureReason.TOO_LONG
    assert "the file stated no length" in failed.message


async def test_normalization_has_its_own_lower_limit(sync_database: Database, lying: bytes) -> None:
    limits = MediaLimits(max_seconds=60, max_normalize_seconds=5)
    plain = uploaded(store_video(sync_database, lying))
    normalized = uploaded(store_video(sync_database, lying)).model_copy(
        update={"options": ConversionOptions(normalize=True)}
    )
    published = Published()

    await converter(sync_database, published, limits=limits).handle(plain)
    await converter(sync_database, published, limits=limits).handle(normalized)

    [converted] = published.of(Mp3Converted)
    [failed] = published.of(ConversionFailed)
    assert isinstance(converted, Mp3Converted)
    assert isinstance(failed, ConversionFailed)
    assert (converted.job_id, failed.job_id) == (plain.job_id, normalized.job_id)
    assert failed.reason is FailureReason.TOO_LONG
    assert "past 0:05, the limit with loudness normalization, though the file stated 0:02" in failed.message


async def test_an_mp3_over_the_size_limit_stops_there(
    sync_database: Database, sample_video: tuple[Path, float]
) -> None:
    event = uploaded(store_video(sync_database, sample_video[0].read_bytes()))
    published = Published()
    before = chunks(sync_database)

    await converter(sync_database, published, limits=MediaLimits(max_output_bytes=20_000)).handle(event)

    [failed] = published.of(ConversionFailed)
    assert isinstance(failed, ConversionFailed)
    assert failed.reason is FailureReason.OUTPUT_TOO_LARGE
    assert mp3s_of(sync_database, event) == []
    assert chunks(sync_database) == before


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({}, "The audio to convert is 0:30 long; the limit is 0:20."),
        ({"end_seconds": 15}, None),  # the trim is what counts
        ({"start_seconds": 5}, "is 0:25 long"),
        ({"normalize": True, "end_seconds": 15}, "with loudness normalization the limit is 0:10"),
    ],
)
def test_the_media_check_refuses_what_states_more_than_the_limit(
    sync_database: Database, options: dict[str, object], problem: str | None
) -> None:
    found = audio_problem(
        io.BytesIO(flac(30)),
        limits=MediaLimits(max_seconds=20, max_normalize_seconds=10),
        options=ConversionOptions.model_validate(options),
    )
    assert found is None if problem is None else problem in (found.detail if found else ""), found


def test_a_stored_file_is_checked_against_the_limits(sync_database: Database) -> None:
    file_id = store_file(sync_database, "videos", flac(30))

    probe = MediaProbe(sync_database, limits=MediaLimits(max_seconds=20))
    found = probe._check(file_id)
    assert found is not None
    assert "the limit is 0:20" in found.detail
    assert "states 30.0 s of audio to convert, over 20 s" in found.reason
    assert MediaProbe(sync_database)._check(file_id) is None
