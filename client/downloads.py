"""Download a job's MP3 into ``NAME.mp3.part``, renamed when complete; a cut-off download
goes on from the part's size with a ``Range`` request (a job's MP3 never changes). A job split
per chapter also has one MP3 per chapter: they go into a folder named after the MP3
(``lecture.mp3`` and ``lecture/lecture - 01 Welcome.mp3`` ...), each downloaded the same way."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

from client.api import Api
from client.exits import CliError, ExitCode
from client.retrying import retrying, unreachable

__all__ = ["DownloadResult", "chapter_paths", "download_mp3", "download_part", "target_path"]

_CONTENT_RANGE = re.compile(r"bytes (?:(\d+)-\d+|\*)/(\d+)")


@dataclass(frozen=True)
class DownloadResult:
    job_id: UUID
    path: Path
    size: int
    resumed_from: int
    """Bytes already in the ``.part`` file when this run started."""


def target_path(job: dict[str, Any], output: str | Path | None) -> Path:
    """Where the MP3 goes: ``output`` if it names a file, else the server's file name
    (never a path: a name with separators is cut to its last part) in the directory
    ``output`` names (one that exists or ends with a slash; made if missing) or here."""
    mp3 = job.get("mp3") or {}
    name = Path(str(mp3.get("filename") or f"{job['job_id']}.mp3")).name or f"{job['job_id']}.mp3"
    if output is None:
        return Path(name)
    if str(output).endswith(("/", os.sep)) or Path(output).is_dir():
        Path(output).mkdir(parents=True, exist_ok=True)
        return Path(output) / name
    return Path(output)


def chapter_paths(job: dict[str, Any], path: Path) -> list[tuple[dict[str, Any], Path]]:
    """Each part of a job split per chapter, with where it goes: the folder named after the
    MP3 at ``path`` (its name without ``.mp3``), under the server's name for the part."""
    parts = (job.get("mp3") or {}).get("parts") or []
    folder = path.with_suffix("") if path.suffix else path.with_name(path.name + " chapters")
    return [
        (part, folder / (Path(str(part.get("filename") or "")).name or f"{int(part['number']):02d}.mp3"))
        for part in parts
    ]


def mp3_ready(job: dict[str, Any]) -> None:
    """``CliError`` unless the job has an MP3: exit 6 for a job that will never have one."""
    if job.get("mp3"):
        return
    state = job.get("state")
    if state in ("failed", "cancelled"):
        error = job.get("error") or {}
        reason = f": {error.get('message')}" if error.get("message") else "."
        raise CliError(f"Job {job['job_id']} {state}{reason}", ExitCode.JOB_FAILED)
    raise CliError(
        f"The MP3 of job {job['job_id']} is not ready yet.",
        ExitCode.CONFLICT,
        hint="wait for it: vidmp3 status --watch JOB",
    )


def download_mp3(
    api: Api,
    job: dict[str, Any],
    path: Path,
    *,
    started: Callable[[int, int], None] = lambda *_: None,
    progress: Callable[[int], None] = lambda _: None,
) -> DownloadResult:
    """Download ``job``'s MP3 to ``path``, going on from ``path.part`` if there is one."""
    mp3_ready(job)
    return _download(
        api, UUID(str(job["job_id"])), str(job["mp3"]["download_url"]), path, started=started, progress=progress
    )


def download_part(
    api: Api,
    job: dict[str, Any],
    part: dict[str, Any],
    path: Path,
    *,
    started: Callable[[int, int], None] = lambda *_: None,
    progress: Callable[[int], None] = lambda _: None,
) -> DownloadResult:
    """Download one chapter's MP3 (an entry of the job's ``mp3.parts``) to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return _download(api, UUID(str(job["job_id"])), str(part["download_url"]), path, started=started, progress=progress)


def _download(
    api: Api,
    job_id: UUID,
    url: str,
    path: Path,
    *,
    started: Callable[[int, int], None],
    progress: Callable[[int], None],
) -> DownloadResult:
    part = path.with_name(path.name + ".part")
    resumed_from = part.stat().st_size if part.exists() else 0
    size = -1
    try:
        for attempt in retrying(unreachable):
            with attempt:
                size = _fetch(api, url, part, started, progress)
    except CliError as error:
        if error.code is ExitCode.UNREACHABLE:
            error.hint = "run the same command again to resume"
        raise
    os.replace(part, path)
    return DownloadResult(job_id=job_id, path=path, size=size, resumed_from=resumed_from)


def _fetch(
    api: Api,
    url: str,
    part: Path,
    started: Callable[[int, int], None],
    progress: Callable[[int], None],
) -> int:
    """Bring ``part`` to the whole MP3; its size."""
    have = part.stat().st_size if part.exists() else 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    with api.stream("GET", url, ok=(200, 206, 416), headers=headers) as response:
        ranged = _CONTENT_RANGE.fullmatch(response.headers.get("content-range", ""))
        if response.status_code == 416:
            total = int(ranged.group(2)) if ranged else -1
            if total == have:  # the part is the whole file already
                started(total, have)
                return total
            part.unlink()  # longer than the MP3: not ours, start over
            return _fetch(api, url, part, started, progress)
        if response.status_code == 206 and ranged and ranged.group(1) and int(ranged.group(1)) == have:
            total, mode = int(ranged.group(2)), "ab"
        else:  # the whole file (the server may ignore a range)
            total, have, mode = int(response.headers.get("content-length", -1)), 0, "wb"
        started(total, have)
        with part.open(mode) as file:
            for block in response.iter_bytes():
                file.write(block)
                have += len(block)
                progress(have)
    if total >= 0 and have != total:
        raise CliError(f"The download stopped at {have} of {total} bytes.", ExitCode.UNREACHABLE)
    return have
