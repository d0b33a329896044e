"""What each sub-command does, given the session and its parsed arguments; ``cli`` parses."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

from rich.live import Live
from rich.progress import Progress

from client.api import Api
from client.downloads import DownloadResult, chapter_paths, download_mp3, download_part, mp3_ready, target_path
from client.exits import CliError, ExitCode
from client.jobids import resolve_jobs
from client.output import STATE_WORDS, conversion_progress, job_details, jobs_table, print_json, transfer_progress
from client.tus import Throttle, Uploader, UploadResult
from client.watch import MP3_READY, TERMINAL, follow

if TYPE_CHECKING:
    from client.cli import Session

__all__ = [
    "cancel_jobs",
    "convert_files",
    "delete_jobs",
    "download_job",
    "list_jobs",
    "show_status",
    "upload_files",
]


@dataclass(frozen=True)
class Failure:
    """A file of a batch that did not make it, and why."""

    file: Path
    error: CliError

    def as_json(self) -> dict[str, Any]:
        return {
            "file": str(self.file),
            "job_id": None,
            "error": self.error.message,
            "status": self.error.status,
            "exit_code": int(self.error.code),
        }


_ENDS_THE_BATCH = (ExitCode.AUTH, ExitCode.UNREACHABLE, ExitCode.INTERRUPTED)
"""Failures no other file would escape (no session, no server): the batch stops there."""


def _upload_all(
    session: Session, api: Api, files: list[Path], options: dict[str, str], *, chunk_size: int, rate: float | None
) -> tuple[list[UploadResult], list[Failure]]:
    """Upload each file in turn; one the server refuses is reported and the batch goes on."""
    uploader = Uploader(api, chunk_size=chunk_size, throttle=Throttle(rate))
    results, failures = [], []
    with transfer_progress(session.err, disable=session.quiet) as bars:
        for path in files:
            try:
                results.append(_upload_one(session, uploader, bars, path, options))
            except CliError as error:
                if error.code in _ENDS_THE_BATCH:
                    raise
                failures.append(Failure(path, error))
                if not session.json:
                    bars.console.print(f"[red]✗[/] {path.name}: {error.message}", highlight=False)
    return results, failures


def _batch_error(failures: list[Failure], total: int) -> CliError:
    """What ends a batch in which some files failed: each named, the exit code theirs if they
    share one."""
    if total == 1:
        return failures[0].error  # one file: its own error, as the server said it
    codes = {failure.error.code for failure in failures}
    names = ", ".join(failure.file.name for failure in failures)
    return CliError(
        f"{len(failures)} of {total} files did not make it: {names}.",
        codes.pop() if len(codes) == 1 else ExitCode.ERROR,
    )


def _upload_one(
    session: Session, uploader: Uploader, bars: Progress, path: Path, options: dict[str, str]
) -> UploadResult:
    task = bars.add_task(path.name, total=None)

    def started(size: int, offset: int) -> None:
        bars.update(task, total=size, completed=offset)
        if offset and not session.json:
            bars.console.print(f"resuming {path.name} at byte {offset:,} of {size:,}", highlight=False)

    def progress(offset: int) -> None:
        bars.update(task, completed=offset)

    return uploader.upload(path, options, started=started, progress=progress)


def _upload_json(result: UploadResult) -> dict[str, Any]:
    return {**asdict(result), "file": str(result.file), "job_id": str(result.job_id)}


def upload_files(
    session: Session, files: list[Path], options: dict[str, str], *, chunk_size: int, rate: float | None
) -> None:
    with session.api() as api:
        results, failures = _upload_all(session, api, files, options, chunk_size=chunk_size, rate=rate)
    if session.json:
        print_json([_upload_json(result) for result in results] + [failure.as_json() for failure in failures])
    else:
        for result in results:
            session.out.print(f"{result.file.name}: job {result.job_id}", highlight=False)
        if results:
            session.out.print("[dim]follow: vidmp3 status --watch JOB · get the MP3: vidmp3 download JOB[/]")
    if failures:
        raise _batch_error(failures, len(files))


def _wait_all(session: Session, api: Api, job_ids: list[UUID], *, poll: bool) -> dict[UUID, dict[str, Any]]:
    """Follow each job until its MP3 is ready or it ends; the last status of each."""
    final: dict[UUID, dict[str, Any]] = {}
    with conversion_progress(session.err, disable=session.quiet) as bars:
        tasks = {job_id: bars.add_task(str(job_id)[:8], total=100, state="queued") for job_id in job_ids}

        def watch(job_id: UUID) -> None:
            for job in follow(api, job_id, poll=poll, until=MP3_READY | TERMINAL):
                percent = 100.0 if job.get("mp3") else job.get("progress_percent") or 0.0
                name = job.get("filename") or str(job_id)[:8]
                bars.update(tasks[job_id], description=name, completed=percent, state=job.get("state"))
                final[job_id] = job

        with ThreadPoolExecutor(max_workers=min(8, len(job_ids))) as pool:
            for future in [pool.submit(watch, job_id) for job_id in job_ids]:
                future.result()
    return final


def _bar(bars: Progress, name: str) -> tuple[Callable[[int, int], None], Callable[[int], None]]:
    """A download's bar: what to tell when it starts (size, offset) and as it goes (offset)."""
    task = bars.add_task(name, total=None)

    def started(size: int, offset: int) -> None:
        bars.update(task, total=size if size >= 0 else None, completed=offset)

    def progress(offset: int) -> None:
        bars.update(task, completed=offset)

    return started, progress


def _download_one(session: Session, api: Api, job: dict[str, Any], path: Path, *, force: bool) -> DownloadResult:
    """The job's MP3 to ``path``; and when it was split per chapter, each chapter's MP3 into
    the folder beside it (``client.downloads.chapter_paths``)."""
    chapters = chapter_paths(job, path)
    for target in [path, *(where for _, where in chapters)]:
        if target.exists() and not force:
            raise CliError(
                f"{target} already exists.", ExitCode.CONFLICT, hint="use --force to overwrite it, or -o another path"
            )
    with transfer_progress(session.err, disable=session.quiet) as bars:
        started, progress = _bar(bars, path.name)
        result = download_mp3(api, job, path, started=started, progress=progress)
        for part, where in chapters:
            started, progress = _bar(bars, where.name)
            download_part(api, job, part, where, started=started, progress=progress)
    return result


def convert_files(
    session: Session,
    files: list[Path],
    options: dict[str, str],
    *,
    output: Path | None,
    wait: bool,
    force: bool,
    poll: bool,
    chunk_size: int,
    rate: float | None,
) -> None:
    """Upload every file (a refused one does not stop the others), wait for the jobs, download
    each MP3 that is made; the files that did not make it are named at the end (non-zero exit)."""
    if output is not None:
        output.mkdir(parents=True, exist_ok=True)
    with session.api() as api:
        uploads, refused = _upload_all(session, api, files, options, chunk_size=chunk_size, rate=rate)
        failures = list(refused)
        report: list[dict[str, Any]] = []
        if not wait:
            report = [_upload_json(result) for result in uploads]
        elif uploads:
            final = _wait_all(session, api, [result.job_id for result in uploads], poll=poll)
            for result in uploads:
                entry, failure = _fetch_mp3(session, api, result, final[result.job_id], output=output, force=force)
                report.append(entry)
                if failure is not None:
                    failures.append(failure)
    if session.json:
        print_json(report + [failure.as_json() for failure in refused])
    else:
        for entry in report:
            where = entry.get("mp3") or (f"job {entry['job_id']}" if not wait else None)
            if where:
                session.out.print(f"{Path(entry['file']).name} → {where}{_chapters_words(entry)}", highlight=False)
    if failures:
        raise _batch_error(failures, len(files))


def _fetch_mp3(
    session: Session, api: Api, result: UploadResult, job: dict[str, Any], *, output: Path | None, force: bool
) -> tuple[dict[str, Any], Failure | None]:
    """Download one job's MP3; a job that made none, or an MP3 that cannot be written, is its
    file's failure (the other files go on)."""
    entry: dict[str, Any] = {"file": str(result.file), "job_id": str(result.job_id), "state": job.get("state")}
    try:
        mp3_ready(job)
        done = _download_one(session, api, job, target_path(job, output or Path()), force=force)
    except CliError as error:
        if error.code in _ENDS_THE_BATCH:
            raise
        if not session.json:
            session.err.print(f"[red]✗[/] {result.file.name}: {error.message}", highlight=False)
        entry |= {"mp3": None, "error": (job.get("error") or {}).get("message") or error.message}
        return entry, Failure(result.file, error)
    chapters = [str(where) for _, where in chapter_paths(job, done.path)]
    return entry | {"mp3": str(done.path), "bytes": done.size, "chapters": chapters}, None


def show_status(session: Session, job: str | None, *, watch: bool, poll: bool) -> None:
    with session.api() as api:
        if job is None:
            _show_latest(session, api, watch=watch)
            return
        [job_id] = resolve_jobs(api, [job])
        if not watch:
            current = api.job(job_id)
            if session.json:
                print_json(current)
            else:
                session.out.print(job_details(current))
            return
        last: dict[str, Any] = {}
        with conversion_progress(session.err, disable=session.quiet) as bars:
            task = bars.add_task(str(job_id)[:8], total=100, state="")
            for last in follow(api, job_id, poll=poll):
                if session.json:
                    print_json(last, line=True)
                percent = 100.0 if last.get("mp3") else last.get("progress_percent") or 0.0
                bars.update(
                    task,
                    description=last.get("filename") or str(job_id)[:8],
                    completed=percent,
                    state=last.get("state"),
                )
        if not session.json:
            session.out.print(job_details(last))
        if last.get("state") in ("failed", "cancelled"):
            raise CliError(f"Job {job_id} {STATE_WORDS.get(last.get('state') or '', '')}.", ExitCode.JOB_FAILED)


def _show_latest(session: Session, api: Api, *, watch: bool) -> None:
    page = api.jobs(limit=20)
    if session.json and not watch:
        print_json(page["items"])
        return
    if not watch:
        session.out.print(jobs_table(page["items"], width=session.out.width, title="your latest jobs"))
        return
    with Live(
        jobs_table(page["items"], width=session.out.width), console=session.out, auto_refresh=False, transient=False
    ) as live:
        while any(item.get("state") not in TERMINAL for item in page["items"]):
            time.sleep(1.0)
            page = api.jobs(limit=20)
            live.update(jobs_table(page["items"], width=session.out.width), refresh=True)
    if session.json:
        print_json(page["items"])


def list_jobs(session: Session, *, limit: int, cursor: str | None, everyone: bool) -> None:
    with session.api() as api:
        page = api.jobs(limit=limit, cursor=cursor, everyone=everyone)
    if session.json:
        print_json(page)
        return
    session.out.print(jobs_table(page["items"], width=session.out.width))
    if page.get("next_cursor"):
        session.out.print(f"[dim]more: vidmp3 jobs --cursor {page['next_cursor']}[/]", highlight=False)


def download_job(session: Session, job: str, *, output: str | None, force: bool) -> None:
    with session.api() as api:
        [job_id] = resolve_jobs(api, [job])
        current = api.job(job_id)
        mp3_ready(current)
        result = _download_one(session, api, current, target_path(current, output), force=force)
    chapters = [str(where) for _, where in chapter_paths(current, result.path)]
    if session.json:
        print_json({**asdict(result), "job_id": str(result.job_id), "path": str(result.path), "chapters": chapters})
    else:
        resumed = f", resumed at byte {result.resumed_from:,}" if result.resumed_from else ""
        words = _chapters_words({"chapters": chapters})
        session.out.print(f"{result.path} ({result.size:,} bytes{resumed}){words}", highlight=False)


def _chapters_words(entry: dict[str, Any]) -> str:
    """`` and 3 MP3s per chapter in lecture/``, or nothing."""
    chapters = entry.get("chapters") or []
    if not chapters:
        return ""
    return f" and {len(chapters)} MP3s, one per chapter, in {Path(chapters[0]).parent}{os.sep}"


def cancel_jobs(session: Session, jobs: list[str]) -> None:
    with session.api() as api:
        cancelled = [api.cancel(job_id) for job_id in resolve_jobs(api, jobs)]
    if session.json:
        print_json(cancelled)
    else:
        for job in cancelled:
            session.out.print(f"{job['job_id']}: {STATE_WORDS.get(job['state'], job['state'])}", highlight=False)


def delete_jobs(session: Session, jobs: list[str]) -> None:
    with session.api() as api:
        job_ids = resolve_jobs(api, jobs)
        for job_id in job_ids:
            api.delete(job_id)
    if session.json:
        print_json([{"job_id": str(job_id), "deleted": True} for job_id in job_ids])
    else:
        for job_id in job_ids:
            session.out.print(f"{job_id}: deleted", highlight=False)
