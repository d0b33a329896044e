"""What the commands print: rich tables and progress bars for people (progress on stderr,
so stdout stays the result), plain JSON for scripts."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any

from rich import box
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

from client.jobids import short_id

__all__ = [
    "STATE_STYLES",
    "STATE_WORDS",
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


STATE_WORDS = {
    "queued": "waiting",
    "converting": "converting",
    "converted": "ready",
    "notified": "ready",
    "failed": "failed",
    "cancelled": "cancelled",
}
"""States as people say them (``converted`` and ``notified`` both mean the MP3 is ready)."""


def print_json(value: Any, *, line: bool = False) -> None:
    """``value`` as JSON on stdout: indented, or as one line (a stream of them, for ``--watch``)."""
    sys.stdout.write(json.dumps(value, indent=None if line else 2, default=str) + "\n")
    sys.stdout.flush()


def state_text(state: str | None, percent: float | None = None) -> Text:
    words = STATE_WORDS.get(state or "", state or "?")
    if state == "converting" and percent is not None:
        words += f" {percent:.0f}%"
    return Text(words, style=STATE_STYLES.get(state or "", ""))


def _when(value: str | None, *, compact: bool = False) -> str:
    """A local time: ``15:04`` today, ``Dec 05 15:04`` this year (``compact``), in full otherwise."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(value).astimezone()
    except ValueError:
        return value
    if not compact:
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    now = datetime.now().astimezone()
    if moment.date() == now.date():
        return moment.strftime("%H:%M")
    if moment.year == now.year:
        return moment.strftime("%b %d %H:%M")
    return moment.strftime("%Y-%m-%d")


def _percent(job: dict[str, Any]) -> str:
    percent = job.get("progress_percent")
    return "" if percent is None else f"{percent:.0f} %"


def jobs_table(jobs: list[dict[str, Any]], *, width: int = 80, title: str | None = None) -> Table:
    """Fits ``width`` columns (80 and less): ids cut to their first 8 characters (more where two
    jobs share them; any unambiguous prefix names a job), the file name shortened to what is
    left, the state with its percent, the time short."""
    ids = [str(job["job_id"]) for job in jobs]
    rows = [
        (
            short_id(job_id, ids),
            job.get("filename") or "",
            state_text(job.get("state"), job.get("progress_percent")),
            _when(job.get("created_at"), compact=True),
        )
        for job_id, job in zip(ids, jobs, strict=True)
    ]
    fixed = [max([len(header), *(len(row[column]) for row in rows)]) for column, header in ((0, "id"), (3, "created"))]
    state_width = max([5, *(len(row[2]) for row in rows)])
    # three characters between columns; what the id, state and time leave is the file name's
    name_width = max(8, min(width - sum(fixed) - state_width - 3 * 3, max((len(row[1]) for row in rows), default=4)))
    table = Table(
        title=title, header_style="bold", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1)
    )
    table.add_column("id", no_wrap=True, style="bold", width=fixed[0])
    table.add_column("file", no_wrap=True, overflow="ellipsis", width=name_width)
    table.add_column("state", no_wrap=True, width=state_width)
    table.add_column("created", no_wrap=True, justify="right", width=fixed[1])
    for short, name, state, when in rows:
        table.add_row(short, name if len(name) <= name_width else name[: name_width - 1] + "…", state, when)
    if not jobs:
        table.caption = "no jobs"
    return table


def job_details(job: dict[str, Any]) -> Group:
    fields = Table.grid(padding=(0, 2))
    fields.add_column(style="bold")
    fields.add_column()
    fields.add_row("job", str(job["job_id"]))
    fields.add_row("file", job.get("filename") or "")
    fields.add_row("state", state_text(job.get("state"), job.get("progress_percent")))
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
