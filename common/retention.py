"""How long a finished job is kept: the one setting every service reads the same way.

A job's conversion is final when its MP3 is stored, it failed, or it was cancelled. From then
on its video is no longer needed (removed at once unless ``VIDMP3_REMOVE_SOURCE=false``), and
after ``VIDMP3_RETENTION_HOURS`` the job expires: its MP3 and video are removed and its status
says ``expired``. Hosted converters keep files a day (CloudConvert, Transloadit): so does this.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import Field

from common.settings import ServiceSettings

__all__ = ["DEFAULT_RETENTION_HOURS", "RetentionSettings", "expiry_of"]

DEFAULT_RETENTION_HOURS = 24.0


class RetentionSettings(ServiceSettings):
    """Retention, shared by the gateway (the job view, the quota's words), the notifier (the
    email) and the projections service (which removes files and expires jobs)."""

    retention_hours: float = Field(default=DEFAULT_RETENTION_HOURS, gt=0, le=24 * 366)
    """How long a finished job and its MP3 are kept (hours; fractions allowed, for tests)."""
    remove_source: bool = True
    """Remove a job's uploaded video as soon as its conversion is final."""

    @property
    def retention(self) -> timedelta:
        return timedelta(hours=self.retention_hours)


def expiry_of(finished_at: datetime | None, retention: timedelta) -> datetime | None:
    """When a job that finished at ``finished_at`` expires; ``None`` while it is not finished."""
    return None if finished_at is None else finished_at + retention
