"""One conversion per job and one outcome: claims over the real MongoDB-wire server."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from threading import Barrier
from uuid import uuid4

from pymongo.database import Database

from contracts import VideoUploaded
from converter.claims import ClaimOutcome, ConversionClaims, Outcome, Result


def test_only_one_of_many_simultaneous_claims_converts(sync_database: Database) -> None:
    claims, job = ConversionClaims(sync_database), uuid4()

    with ThreadPoolExecutor(8) as pool:
        outcomes = [claim.outcome for claim in pool.map(lambda n: claims.claim(job, f"w{n}"), range(8))]

    assert sorted(outcomes) == sorted([ClaimOutcome.CONVERT] + [ClaimOutcome.BUSY] * 7)


def test_a_stale_claim_is_taken_over_by_exactly_one_of_many_workers(sync_database: Database) -> None:
    # FerretDB lets several concurrent conditional updates "win"; the takeover is an insert
    # the lease outlives a round of takers however busy the machine (with 0.2 s, the winner's own
    # claim went stale before the slowest taker ran, and a second takeover was right)
    short = ConversionClaims(sync_database, lease=timedelta(seconds=5))
    workers, jobs = 12, [uuid4() for _ in range(15)]
    for job in jobs:
        assert short.claim(job, "dead worker").outcome is ClaimOutcome.CONVERT
    time.sleep(5.2)

    takers: dict[str, int] = {}
    with ThreadPoolExecutor(workers) as pool:
        for job in jobs:
            start = Barrier(workers)

            def take(n: int, job=job, start=start):  # type: ignore[no-untyped-def]
                start.wait()
                return short.claim(job, f"w{n}")

            claims = list(pool.map(take, range(workers)))
            converting = [claim for claim in claims if claim.outcome is ClaimOutcome.CONVERT]
            assert len(converting) == 1, [claim.outcome for claim in claims]
            assert converting[0].attempt is not None
            assert converting[0].attempt.number == 2
            takers[str(job)] = converting[0].attempt.number

    assert len(takers) == len(jobs)


def test_a_renewed_claim_is_kept_and_the_superseded_holder_finds_out(sync_database: Database) -> None:
    job, renewed = uuid4(), uuid4()
    short = ConversionClaims(sync_database, lease=timedelta(seconds=0.3))
    first = short.claim(job, "stalled worker").attempt
    live = short.claim(renewed, "live worker").attempt
    assert first is not None
    assert live is not None

    for _ in range(4):
        time.sleep(0.1)
        assert short.renew(live)
    time.sleep(0.05)

    assert short.claim(renewed, "w2").outcome is ClaimOutcome.BUSY
    second = short.claim(job, "w2")
    assert second.outcome is ClaimOutcome.CONVERT
    assert second.attempt is not None
    assert second.attempt.worker == "w2"
    assert second.attempt.earlier_mp3s == (first.pending_mp3,)
    assert short.renew(first) is False
    assert short.renew(second.attempt) is True


def test_a_released_attempt_waits_for_its_retry_time(sync_database: Database) -> None:
    claims, job = ConversionClaims(sync_database), uuid4()
    first = claims.claim(job, "w1").attempt
    assert first is not None

    claims.release(first, datetime.now(UTC) + timedelta(seconds=0.5))
    assert claims.claim(job, "w2").outcome is ClaimOutcome.BUSY
    time.sleep(0.6)

    retry = claims.claim(job, "w2")
    assert retry.outcome is ClaimOutcome.CONVERT
    assert retry.attempt is not None
    assert retry.attempt.number == 2


def test_the_first_outcome_counts_and_later_claims_find_it(sync_database: Database) -> None:
    claims, job = ConversionClaims(sync_database), uuid4()
    attempt = claims.claim(job, "w1").attempt
    assert attempt is not None
    converted = Result(Outcome.CONVERTED, {"type": "mp3.converted"}, "mp3-1")

    assert claims.finish(job, converted) is converted
    late = claims.finish(job, Result(Outcome.CONVERTED, {"type": "mp3.converted"}, "mp3-2"))

    assert late == converted
    done = claims.claim(job, "w2")
    assert done.outcome is ClaimOutcome.DONE
    assert done.result == converted
    assert done.leftover_mp3s == (attempt.pending_mp3,)
    claims.cleaned(job, done.leftover_mp3s)
    assert claims.claim(job, "w3").leftover_mp3s == ()


def test_jobs_on_record_until_forgotten(sync_database: Database) -> None:
    claims = ConversionClaims(sync_database)
    uploaded = VideoUploaded(
        job_id=uuid4(),
        owner_id="1",
        owner_email="ada@example.com",
        video_file_id="0" * 24,
        filename="a.mp4",
        size_bytes=1,
    )

    claims.record(uploaded)
    claims.record(uploaded)
    assert [u for u in claims.unfinished() if u.job_id == uploaded.job_id] == [uploaded]

    claims.forget(uploaded.job_id)
    assert all(u.job_id != uploaded.job_id for u in claims.unfinished())
