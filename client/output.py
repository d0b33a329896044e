"""What the commands print: rich tables and progress bars for people (progress on stderr,
so stdout stays the result), plain JSON for scripts."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any

from rich.console import Console, Group
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table
from rich.text import Text

__all__ = [
    "STATE_STYLES",
    "conversion_progress",
    "job_details",
    "jobs_table",
    "print_json",
    "state_text",
    "transfer_progress",
]

STATE_STYLES = {
    "queued": "yellow",
    "converting": "cyan",
    "converted": "green",
    "notified": "bold green",
    "failed": "bold red",
    "cancelled": "magenta",
}


def print_json(value: Any, *, line: bool = False) -> None:
    """``value`` as JSON on stdout: indented, or as one line (a stream of them, for ``--watch``)."""
    sys.stdout.write(json.dumps(value, indent=None if line else 2, default=str) + "\n")
    sys.stdout.flush()


def state_text(state: str | None) -> Text:
    return Text(state or "?", style=STATE_STYLES.get(state or "", ""))


def _when(value: str | None) -> str:
    if not value:
        return ""
    try:
        return datetime.fromisoformat(value).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return value


def _percent(job: dict[str, Any]) -> str:
    percent = job.get("progress_percent")
    return "" if percent is None else f"{percent:.0f} %"


def jobs_table(jobs: list[dict[str, Any]], *, title: str | None = None) -> Table:
    table = Table(title=title, header_style="bold")
    table.add_column("job", no_wrap=True)
    table.add_column("file", overflow="fold")
    table.add_column("state", no_wrap=True, min_width=10)
    table.add_column("progress", justify="right", no_wrap=True)
    table.add_column("created", no_wrap=True)
    for job in jobs:
        table.add_row(
            str(job["job_id"]),
            job.get("filename") or "",
            state_text(job.get("state")),
            _percent(job),
            _when(job.get("created_at")),
        )
    if not jobs:
        table.caption = "no jobs"
    return table


def job_details(job: dict[str, Any]) -> Group:
    fields = Table.grid(padding=(0, 2))
    fields.add_column(style="bold")
    fields.add_column()
    fields.add_row("job", str(job["job_id"]))
    fields.add_row("file", job.get("filename") or "")
    fields.add_row("state", state_text(job.get("state")))
    if job.get("progress_percent") is not None:
        fields.add_row("progress", _percent(job))
    if mp3 := job.get("mp3"):
        duration = mp3.get("duration_seconds")
        fields.add_row("mp3", f"{mp3['filename']}" + (f" ({duration:.1f} s)" if duration else ""))
        fields.add_row("download", f"vidmp3 download {job['job_id']}")
    if error := job.get("error"):
        fields.add_row("error", Text(f"{error.get('reason')}: {error.get('message')}", style="red"))
    history = Table("state", "at", header_style="bold", box=None, padding=(0, 2))
    for step in job.get("history") or []:
        history.add_row(state_text(step.get("state")), _when(step.get("at")))
    return Group(fields, Text(""), history)


def transfer_progress(console: Console, *, disable: bool) -> Progress:
    """Bytes moving: one bar per file, with speed and time left."""
    return Progress(
        TextColumn("[bold]{task.description}", justify="left"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=disable,
    )


def conversion_progress(console: Console, *, disable: bool) -> Progress:
    """Jobs converting: one bar per job, its state beside it."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[state]}"),
        console=console,
        disable=disable,
    )
