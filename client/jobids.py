"""Job ids as people type them: the whole id, a URL or path ending with it, or its first few
characters (as ``git`` takes commits), when no other job of the user starts the same way.

A prefix is looked up through the jobs API, page by page (newest first): every page is read,
since an old job may share the prefix, and a prefix two jobs share is refused with both listed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from client.api import Api
from client.exits import CliError, ExitCode

__all__ = ["MIN_PREFIX", "resolve_jobs", "short_id"]

MIN_PREFIX = 4
_HEX = re.compile(r"[0-9a-f]+")
_PAGE = 100


def _written(text: str) -> str:
    """The id part of what was typed, lower case, without hyphens."""
    return text.strip().rstrip("/").rsplit("/", 1)[-1].lower().replace("-", "")


def short_id(job_id: str, others: Sequence[str] = ()) -> str:
    """The first 8 characters of ``job_id``, more if one of ``others`` starts the same way."""
    length = 8
    while any(other != job_id and other.startswith(job_id[:length]) for other in others) and length < len(job_id):
        length += 1
    return job_id[:length]


def resolve_jobs(api: Api, texts: Sequence[str]) -> list[UUID]:
    """The job each of ``texts`` names; ``CliError`` for one that names none, or several."""
    wanted: dict[str, UUID | None] = {}
    for text in texts:
        try:
            wanted[text] = UUID(text.strip().rstrip("/").rsplit("/", 1)[-1])
        except ValueError:
            prefix = _written(text)
            if len(prefix) < MIN_PREFIX or not _HEX.fullmatch(prefix):
                raise CliError(
                    f"{text!r} is not a job id: give the id (such as 3f0c2b7e-8a41-...) "
                    f"or at least its first {MIN_PREFIX} characters.",
                    ExitCode.USAGE,
                ) from None
            wanted[text] = None
    prefixes = [text for text, job_id in wanted.items() if job_id is None]
    if prefixes:
        found = _matches(api, {text: _written(text) for text in prefixes})
        for text in prefixes:
            wanted[text] = _one(text, found[text])
    return [job_id for text in texts if (job_id := wanted[text]) is not None]


def _matches(api: Api, prefixes: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {text: [] for text in prefixes}
    cursor: str | None = None
    while True:
        page = api.jobs(limit=_PAGE, cursor=cursor)
        for job in page["items"]:
            bare = str(job["job_id"]).replace("-", "")
            for text, prefix in prefixes.items():
                if bare.startswith(prefix):
                    found[text].append(job)
        cursor = page.get("next_cursor")
        if not cursor:
            return found


def _one(text: str, jobs: list[dict[str, Any]]) -> UUID:
    if not jobs:
        raise CliError(f"None of your jobs has an id starting with {text}.", ExitCode.NOT_FOUND)
    if len(jobs) > 1:
        listed = "; ".join(f"{job['job_id']} ({job.get('filename') or 'no name'})" for job in jobs[:10])
        more = f" and {len(jobs) - 10} more" if len(jobs) > 10 else ""
        raise CliError(
            f"{len(jobs)} of your jobs have ids starting with {text}: {listed}{more}.",
            ExitCode.USAGE,
            hint="give more of the id",
        )
    return UUID(str(jobs[0]["job_id"]))
