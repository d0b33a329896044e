"""The email telling a user their MP3 is ready (plain text and HTML)."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid
from html import escape

from contracts import Mp3Converted

__all__ = ["compose_ready_email", "download_url"]


def download_url(public_url: str, event: Mp3Converted) -> str:
    return f"{public_url.rstrip('/')}/v1/jobs/{event.job_id}/mp3"


def compose_ready_email(event: Mp3Converted, *, sender: str, public_url: str) -> EmailMessage:
    """The message for ``event``; its Message-ID is derived from the job, so a receiver can
    recognise a repeated notification."""
    link = download_url(public_url, event)
    minutes, seconds = divmod(round(event.duration_seconds), 60)
    message = EmailMessage()
    message["From"] = sender
    message["To"] = str(event.owner_email)
    message["Subject"] = f"Your MP3 is ready: {event.filename}"
    message["Message-ID"] = make_msgid(idstring=f"job-{event.job_id}", domain="vidmp3")
    message["X-Vidmp3-Job-Id"] = str(event.job_id)
    message.set_content(
        f"Your MP3 {event.filename} ({minutes}:{seconds:02d}) is ready.\n\n"
        f"Job id: {event.job_id}\n"
        f"Download it (with your access token): {link}\n"
    )
    message.add_alternative(
        f"""<!doctype html>
<html><body style="font-family: sans-serif">
<p>Your MP3 <strong>{escape(event.filename)}</strong> ({minutes}:{seconds:02d}) is ready.</p>
<p><a href="{escape(link)}">Download {escape(event.filename)}</a></p>
<p style="color:#555">Job id: <code>{event.job_id}</code></p>
</body></html>
""",
        subtype="html",
    )
    return message
