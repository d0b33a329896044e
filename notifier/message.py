"""The emails owners get: their MP3 is ready, or their video could not be converted.

Each has a plain text and an HTML part written for people, a ``Date``, a subject that tells
jobs apart (the file's name and the job's short id), a link to the job on the web page and,
when ready, a signed download link that works without signing in. The Message-ID is derived
from the job and the kind of email, so a repeated notification carries the same one and
mail systems can drop it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from html import escape
from uuid import UUID

from common.failure_texts import failure_text
from common.links import SignedLink
from contracts import ConversionFailed, Mp3Converted
from notifier.contacts import Contact

__all__ = [
    "compose_failure_email",
    "compose_ready_email",
    "job_page_url",
    "short_id",
]


def job_page_url(public_url: str, job_id: UUID) -> str:
    """The job on the web page (it asks the reader to sign in first, then opens the job)."""
    return f"{public_url.rstrip('/')}/jobs/{job_id}"


def short_id(job_id: UUID) -> str:
    return str(job_id)[:8]


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _size(size_bytes: int) -> str:
    if size_bytes < 1000 * 1000:
        return f"{max(1, round(size_bytes / 1000))} kB"
    return f"{size_bytes / 1000 / 1000:.1f} MB"


def _when(moment: datetime) -> str:
    """``Mon 11 May 2026, 11:00 UTC``: unambiguous in any country."""
    return moment.astimezone(UTC).strftime("%a %d %b %Y, %H:%M UTC")


def _message(*, sender: str, to: str, subject: str, job_id: UUID, kind: str, now: datetime | None) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(now or datetime.now(UTC))
    message["Message-ID"] = f"<job-{job_id}.{kind}@vidmp3>"
    message["X-Vidmp3-Job-Id"] = str(job_id)
    message["X-Vidmp3-Email"] = kind
    return message


_STYLE = (
    "font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; color: #1b1d21; "
    "line-height: 1.5; max-width: 36rem"
)
_BUTTON = (
    "display: inline-block; padding: 0.6rem 1.1rem; background: #0b57d0; color: #ffffff; "
    "border-radius: 0.375rem; text-decoration: none; font-weight: 600"
)


def compose_ready_email(
    event: Mp3Converted,
    *,
    sender: str,
    public_url: str,
    link: SignedLink,
    now: datetime | None = None,
    expires_at: datetime | None = None,
) -> EmailMessage:
    """The "your MP3 is ready" email for ``event``; ``link`` is its signed download link;
    ``expires_at``: when the MP3 is removed (retention)."""
    download = f"{public_url.rstrip('/')}{link.path}"
    page = job_page_url(public_url, event.job_id)
    name, length, size = event.filename, _duration(event.duration_seconds), _size(event.size_bytes)
    until = _when(link.expires_at)
    kept = "" if expires_at is None else f"The MP3 is kept until {_when(expires_at)}; it is removed then.\n\n"
    # a job split per chapter: the number only, the job's page lists them (the email stays small)
    chapters = (
        f"It is also cut into {len(event.parts)} MP3s, one per chapter: download them from the job's page.\n\n"
        if event.parts
        else ""
    )
    message = _message(
        sender=sender,
        to=str(event.owner_email),
        subject=f"Your MP3 is ready: {name} (job {short_id(event.job_id)})",
        job_id=event.job_id,
        kind="ready",
        now=now,
    )
    message.set_content(
        f"Hello,\n\n"
        f"Your MP3 {name} is ready ({length}, {size}).\n\n"
        f"Download it:\n{download}\n\n"
        f"This link works without signing in until {until}. Anyone who has it can download the file, "
        f"so forward it only to people you want to have it.\n\n"
        f"{kept}"
        f"{chapters}"
        f"See the job on vidmp3 (you will be asked to sign in):\n{page}\n\n"
        f"Job {event.job_id}\n"
    )
    message.add_alternative(
        f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Your MP3 is ready</title></head>
<body style="{_STYLE}">
<p>Hello,</p>
<p>Your MP3 <strong>{escape(name)}</strong> is ready ({length}, {size}).</p>
<p><a href="{escape(download)}" style="{_BUTTON}">Download {escape(name)}</a></p>
<p>This link works without signing in until {until}. Anyone who has it can download the file,
so forward it only to people you want to have it.</p>
{f"<p>{escape(kept.strip())}</p>" if kept else ""}
{f"<p>{escape(chapters.strip())}</p>" if chapters else ""}
<p><a href="{escape(page)}">See the job on vidmp3</a> (you will be asked to sign in).</p>
<p style="color: #4a4f57; font-size: 0.9rem">Job {event.job_id}</p>
</body></html>
""",
        subtype="html",
    )
    return message


def compose_failure_email(
    event: ConversionFailed, contact: Contact, *, sender: str, public_url: str, now: datetime | None = None
) -> EmailMessage:
    """The "we could not convert your video" email: what happened and what to try, in words."""
    page = job_page_url(public_url, event.job_id)
    text = failure_text(event.reason)
    name = contact.filename
    message = _message(
        sender=sender,
        to=contact.owner_email,
        subject=f"Could not convert {name} (job {short_id(event.job_id)})",
        job_id=event.job_id,
        kind="failed",
        now=now,
    )
    uploaded = _when(contact.uploaded_at)
    message.set_content(
        f"Hello,\n\n"
        f"Your video {name}, uploaded {uploaded}, could not be converted to MP3.\n\n"
        f"What happened: {text.what_happened}\n"
        f"What to try: {text.what_to_try}\n\n"
        f"See the job on vidmp3 (you will be asked to sign in):\n{page}\n\n"
        f"Job {event.job_id} (reason: {event.reason})\n"
    )
    message.add_alternative(
        f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Could not convert {escape(name)}</title></head>
<body style="{_STYLE}">
<p>Hello,</p>
<p>Your video <strong>{escape(name)}</strong>, uploaded {uploaded}, could not be converted to MP3.</p>
<p><strong>What happened:</strong> {escape(text.what_happened)}<br>
<strong>What to try:</strong> {escape(text.what_to_try)}</p>
<p><a href="{escape(page)}" style="{_BUTTON}">See the job on vidmp3</a></p>
<p style="color: #4a4f57; font-size: 0.9rem">Job {event.job_id} (reason: {escape(event.reason)})</p>
</body></html>
""",
        subtype="html",
    )
    return message
