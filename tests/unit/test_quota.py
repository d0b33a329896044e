"""The stored-bytes quota's verdicts and words, against an in-memory view of the totals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from litestar.exceptions import HTTPException

from gateway.quota import QUOTA_RETRY_SECONDS, Quota
from projections.job_index import Totals
from projections.job_status import JobState, JobStatus, StateChange
from projections.queries import JobQueries

GIB = 1024**3
DAY = timedelta(hours=24)
FINISHED = datetime(2026, 12, 5, 9, 30, tzinfo=UTC)


@dataclass
class FakeQueries:
    totals: Totals
    oldest: JobStatus | None = None

    async def oldest_stored(self, owner_id: str) -> tuple[Totals, JobStatus | None]:
        return self.totals, self.oldest


def quota(totals: Totals, oldest: JobStatus | None = None) -> Quota:
    return Quota(cast(JobQueries, FakeQueries(totals, oldest)), 5 * GIB, DAY)


def finished_job() -> JobStatus:
    change = StateChange(state=JobState.CONVERTED, at=FINISHED, event_id="9b1d7c1e-0f4a-4e55-8f0e-000000000001")  # type: ignore[arg-type]
    return JobStatus(job_id="3f0c2b7e-8a41-4c4e-9d0b-6a5f1e2d3c4b", state=JobState.NOTIFIED, history=(change,))  # type: ignore[arg-type]


async def test_an_upload_within_the_quota_passes() -> None:
    await quota(Totals(jobs=3, bytes=2 * GIB)).admit("u1", GIB)


async def test_an_upload_past_the_quota_is_413_saying_when_the_oldest_job_expires() -> None:
    with pytest.raises(HTTPException) as refused:
        await quota(Totals(jobs=3, bytes=4 * GIB), finished_job()).admit("u1", 2 * GIB)
    error: Any = refused.value
    assert error.status_code == 413
    assert error.detail == (
        "Your jobs already store 4 GiB of the 5 GiB each user may keep and this video is 2 GiB. "
        "Delete jobs you no longer need, or wait for older ones to expire "
        "(your oldest job expires at 2026-12-06 09:30 UTC), then upload again."
    )


async def test_a_full_quota_refuses_an_upload_of_unknown_size() -> None:
    with pytest.raises(HTTPException) as refused:
        await quota(Totals(jobs=1, bytes=5 * GIB)).admit("u1")
    assert refused.value.status_code == 413


async def test_jobs_still_converting_make_it_429_with_retry_after() -> None:
    with pytest.raises(HTTPException) as refused:
        await quota(Totals(jobs=2, bytes=5 * GIB, in_flight=1)).admit("u1", GIB)
    error: Any = refused.value
    assert error.status_code == 429
    assert error.headers == {"Retry-After": str(QUOTA_RETRY_SECONDS)}
    assert "1 job is still converting; their videos are removed once they finish" in error.detail
