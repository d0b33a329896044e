"""One conversion per job: claims over the real MongoDB-wire server."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from uuid import uuid4

from pymongo.database import Database

from converter.claims import ClaimOutcome, ConversionClaims


def test_only_one_of_many_simultaneous_claims_converts(sync_database: Database) -> None:
    claims, job = ConversionClaims(sync_database), uuid4()

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(lambda n: claims.claim(job, f"w{n}"), range(8)))

    assert sorted(outcomes) == sorted([ClaimOutcome.CONVERT] + [ClaimOutcome.BUSY] * 7)


def test_a_finished_job_is_done_and_a_released_one_claimable(sync_database: Database) -> None:
    claims = ConversionClaims(sync_database)
    finished, failed = uuid4(), uuid4()
    assert claims.claim(finished, "w1") is ClaimOutcome.CONVERT
    claims.finish(finished)
    assert claims.claim(failed, "w1") is ClaimOutcome.CONVERT
    claims.release(failed)

    assert claims.claim(finished, "w2") is ClaimOutcome.DONE
    assert claims.claim(failed, "w2") is ClaimOutcome.CONVERT


def test_a_stale_claim_is_taken_over_and_a_renewed_one_is_not(sync_database: Database) -> None:
    job, renewed = uuid4(), uuid4()
    short = ConversionClaims(sync_database, lease=timedelta(seconds=0.3))
    assert short.claim(job, "dead worker") is ClaimOutcome.CONVERT
    assert short.claim(renewed, "live worker") is ClaimOutcome.CONVERT

    for _ in range(4):
        time.sleep(0.1)
        short.renew(renewed)
    time.sleep(0.05)

    assert short.claim(renewed, "w2") is ClaimOutcome.BUSY
    assert short.claim(job, "w2") is ClaimOutcome.CONVERT
    document = sync_database["conversion_claims"].find_one({"_id": str(job)})
    assert document is not None
    assert (document["worker"], document["attempts"]) == ("w2", 2)
