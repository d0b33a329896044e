"""What each sub-command does, given the session and its parsed arguments; ``cli`` parses."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

from rich.live import Live
from rich.progress import Progress

from client.api import Api, job_id_argument
from client.downloads import DownloadResult, download_mp3, mp3_ready, target_path
from client.exits import CliError, ExitCode
from client.output import conversion_progress, job_details, jobs_table, print_json, transfer_progress
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


def _upload_all(
    session: Session, api: Api, files: list[Path], options: dict[str, str], *, chunk_size: int, rate: float | None
) -> list[UploadResult]:
    uploader = Uploader(api, chunk_size=chunk_size, throttle=Throttle(rate))
    with transfer_progress(session.err, disable=session.quiet) as bars:
        return [_upload_one(session, uploader, bars, path, options) for path in files]


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
        results = _upload_all(session, api, files, options, chunk_size=chunk_size, rate=rate)
    if session.json:
        print_json([_upload_json(result) for result in results])
        return
    for result in results:
        session.out.print(f"{result.file.name}: job {result.job_id}", highlight=False)
    session.out.print("[dim]follow: vidmp3 status --watch JOB · get the MP3: vidmp3 download JOB[/]")


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


def _download_one(session: Session, api: Api, job: dict[str, Any], path: Path, *, force: bool) -> DownloadResult:
    if path.exists() and not force:
        raise CliError(f"{path} exists", ExitCode.CONFLICT, hint="use --force to overwrite it, or -o another path")
    with transfer_progress(session.err, disable=session.quiet) as bars:
        task = bars.add_task(path.name, total=None)
        return download_mp3(
            api,
            job,
            path,
            started=lambda size, offset: bars.update(task, total=size if size >= 0 else None, completed=offset),
            progress=lambda offset: bars.update(task, completed=offset),
        )


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
    if output is not None:
        output.mkdir(parents=True, exist_ok=True)
    with session.api() as api:
        uploads = _upload_all(session, api, files, options, chunk_size=chunk_size, rate=rate)
        if not wait:
            if session.json:
                print_json([_upload_json(result) for result in uploads])
            else:
                for result in uploads:
                    session.out.print(f"{result.file.name}: job {result.job_id}", highlight=False)
            return
        final = _wait_all(session, api, [result.job_id for result in uploads], poll=poll)
        report, failed = [], []
        for result in uploads:
            job = final[result.job_id]
            entry: dict[str, Any] = {"file": str(result.file), "job_id": str(result.job_id), "state": job.get("state")}
            try:
                mp3_ready(job)
                done = _download_one(session, api, job, target_path(job, output or Path()), force=force)
                entry |= {"mp3": str(done.path), "bytes": done.size}
            except CliError as error:
                if error.code is not ExitCode.JOB_FAILED:
                    raise
                failed.append(error)
                entry |= {"mp3": None, "error": job.get("error") or {"message": error.message}}
            report.append(entry)
    if session.json:
        print_json(report)
    else:
        for entry in report:
            where = entry["mp3"] or f"[red]{entry['state']}: {(entry.get('error') or {}).get('message', '')}[/]"
            session.out.print(f"{Path(entry['file']).name} → {where}", highlight=False)
    if failed:
        raise CliError(f"{len(failed)} of {len(uploads)} jobs did not produce an MP3", ExitCode.JOB_FAILED)


def show_status(session: Session, job: str | None, *, watch: bool, poll: bool) -> None:
    with session.api() as api:
        if job is None:
            _show_latest(session, api, watch=watch)
            return
        job_id = job_id_argument(job)
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
            raise CliError(f"job {job_id} {last.get('state')}", ExitCode.JOB_FAILED)


def _show_latest(session: Session, api: Api, *, watch: bool) -> None:
    page = api.jobs(limit=20)
    if session.json and not watch:
        print_json(page["items"])
        return
    if not watch:
        session.out.print(jobs_table(page["items"], title="your latest jobs"))
        return
    with Live(jobs_table(page["items"]), console=session.out, auto_refresh=False, transient=False) as live:
        while any(item.get("state") not in TERMINAL for item in page["items"]):
            time.sleep(1.0)
            page = api.jobs(limit=20)
            live.update(jobs_table(page["items"]), refresh=True)
    if session.json:
        print_json(page["items"])


def list_jobs(session: Session, *, limit: int, cursor: str | None, everyone: bool) -> None:
    with session.api() as api:
        page = api.jobs(limit=limit, cursor=cursor, everyone=everyone)
    if session.json:
        print_json(page)
        return
    session.out.print(jobs_table(page["items"]))
    if page.get("next_cursor"):
        session.out.print(f"[dim]more: vidmp3 jobs --cursor {page['next_cursor']}[/]", highlight=False)


def download_job(session: Session, job: str, *, output: str | None, force: bool) -> None:
    job_id = job_id_argument(job)
    with session.api() as api:
        current = api.job(job_id)
        mp3_ready(current)
        result = _download_one(session, api, current, target_path(current, output), force=force)
    if session.json:
        print_json({**asdict(result), "job_id": str(result.job_id), "path": str(result.path)})
    else:
        resumed = f", resumed at byte {result.resumed_from:,}" if result.resumed_from else ""
        session.out.print(f"{result.path} ({result.size:,} bytes{resumed})", highlight=False)


def cancel_jobs(session: Session, jobs: list[str]) -> None:
    job_ids = [job_id_argument(job) for job in jobs]
    with session.api() as api:
        cancelled = [api.cancel(job_id) for job_id in job_ids]
    if session.json:
        print_json(cancelled)
    else:
        for job in cancelled:
            session.out.print(f"{job['job_id']}: {job['state']}", highlight=False)


def delete_jobs(session: Session, jobs: list[str]) -> None:
    job_ids = [job_id_argument(job) for job in jobs]
    with session.api() as api:
        for job_id in job_ids:
            api.delete(job_id)
    if session.json:
        print_json([{"job_id": str(job_id), "deleted": True} for job_id in job_ids])
    else:
        for job_id in job_ids:
            session.out.print(f"{job_id}: deleted", highlight=False)
