"""The gateway's words for people: what a good value of each input is, a job's state as users
name it, sizes as people read them. The problem mapping (``common.http.problem_details``) and
the routes' own errors speak through these, so every ``detail`` reads the same way."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from contracts.option_words import FIELD_WORDS as OPTION_WORDS

__all__ = [
    "ADMIN_ONLY",
    "FIELD_WORDS",
    "KEYS_NEED_PERSON",
    "KEYS_UNCHECKED",
    "KEY_REFUSED",
    "LOGIN_BUSY",
    "LOGIN_UNAVAILABLE",
    "NEED_LOGIN",
    "NOT_MULTIPART",
    "OFFSET_STREAM_ONLY",
    "SESSIONS_UNCHECKED",
    "SESSION_ENDED",
    "SESSION_EXPIRED",
    "STATE_WORDS",
    "TOKEN_INVALID",
    "TUS_ONLY",
    "UPLOAD_BUSY",
    "WRONG_LOGIN",
    "job_not_found",
    "key_lacks_scope",
    "key_too_busy",
    "mp3_not_ready",
    "nothing_to_cancel",
    "offset_mismatch",
    "outside_the_mp3",
    "over_quota",
    "past_the_end",
    "quota_held_by_work",
    "size_words",
    "too_large",
    "too_many_logins",
    "upload_became_job",
    "upload_complete",
    "upload_not_found",
    "words_for",
]


def _also_by_header_name(words: dict[str, str]) -> dict[str, str]:
    """Header parameters are named by Python (``upload_length``) or HTTP (``Upload-Length``)."""
    return {**{name.removesuffix("_header").replace("_", "-"): text for name, text in words.items()}, **words}


FIELD_WORDS: dict[str, str] = _also_by_header_name(
    {
        **OPTION_WORDS,
        "limit": "Ask for between 1 and 100 jobs per page.",
        "cursor": "This page marker is not one the server gave out: follow the next page's address as given.",
        "all": "Listing every user's jobs is either true or false.",
        "all_users": "Listing every user's jobs is either true or false.",
        "email": "Give the email address of your account.",
        "password": "Give your password.",
        "current_password": "Give the password you use now.",
        "new_password": "Choose a new password of at least 8 characters.",
        "file": "Attach the video as the form's file.",
        "key_id": "Give the id of one of your API keys, as the list of keys shows it (12 letters and digits).",
        "name": "Name the key in up to 100 letters, digits, spaces and punctuation.",
        "scopes": "Give the key's scopes as a list of jobs:read and jobs:write.",
        "expires_in_days": "Give the key's lifetime as a whole number of days, from 1 to 3650, or leave it out.",
        "tus_resumable": "Resumable uploads here speak tus 1.0.0: send the header Tus-Resumable: 1.0.0.",
        "upload_length": "Give the whole file's size in bytes as a whole number (Upload-Length).",
        "upload_metadata": "The file's name and options (Upload-Metadata) are too long or not `key base64` pairs.",
        "idempotency_key": "An Idempotency-Key is 1 to 255 visible ASCII characters (no spaces), for example a UUID.",
        "upload_offset": "Say where these bytes go in the file as a whole number (Upload-Offset).",
        "range_header": "Ask for one byte range, such as bytes=0-1023.",
        "if_none_match": "Send back the ETag the server gave.",
        "if_range": "Send back the ETag the server gave.",
        "url": "Give the full address that receives the events, starting with https://.",
        "event_types": "List event types from: job.queued, job.converting, job.ready, job.failed, job.cancelled, "
        "job.expired, job.deleted.",
        "description": "Keep the note to 200 characters.",
        "before": "Give the number from next_before, a whole number of 0 or more.",
        "grace_hours": "Give the hours the old secret keeps working, from 0 to 168.",
        "callback_url": "Give the full address that receives the job's events, starting with https://.",
        "endpoint_id": "Give the endpoint's id as listed (ep_...).",
        "delivery_id": "Give the delivery's id as listed (msg_...).",
    }
)
"""For every input of the gateway's routes: what a good value is (a test checks none is missing)."""

STATE_WORDS: dict[str, str] = {
    "queued": "waiting to be converted",
    "converting": "being converted",
    "converted": "ready",
    "notified": "ready",
    "failed": "failed",
    "cancelled": "cancelled",
    "expired": "expired (its files were removed)",
}
"""A job's state as its owner would say it (``converted`` and ``notified`` are both "ready")."""


def job_not_found(job_id: UUID) -> str:
    return f"No job {job_id} in your account: it was deleted, or the id is mistyped."


def size_words(size: int) -> str:
    """``2 GiB``, ``500 MiB``, ``12 KiB``, ``900 bytes``: the largest unit that keeps a whole number
    or one decimal."""
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= scale:
            value = size / scale
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{size} bytes"


NEED_LOGIN = "You need to log in: send the access token the login gave as Authorization: Bearer <token>."
SESSION_EXPIRED = "Your session has expired: log in again."
TOKEN_INVALID = "This access token is not valid: log in again."  # noqa: S105 (words, not a secret)
SESSION_ENDED = (
    "Your session has ended (you logged out, the password was changed, or the account was disabled): log in again."
)
SESSIONS_UNCHECKED = (
    "Your access token cannot be checked right now (the sign-in service does not answer): try again in a few seconds."
)
KEY_REFUSED = {
    "unknown": "This API key is not valid: check that it was copied whole, or create a new one.",
    "revoked": "This API key was revoked: create a new one.",
    "expired": "This API key has expired: create a new one.",
    "disabled": "The account of this API key is disabled.",
}
"""Why an API key is refused (auth's ``refused`` reasons), in words."""
KEYS_UNCHECKED = (
    "API keys cannot be checked right now (the sign-in service does not answer): try again in a few seconds."
)
KEYS_NEED_PERSON = (
    "API keys cannot do this: log in with your email and password (keys are created, listed and revoked by a"
    " person, and a password is changed by one)."
)
WRONG_LOGIN = "The email or password is wrong."
LOGIN_BUSY = "Too many people are logging in right now: try again in a few seconds."
LOGIN_UNAVAILABLE = "Logging in is not possible right now (the sign-in service does not answer): try again in a minute."
ADMIN_ONLY = "Only an admin can list every user's jobs."
UPLOAD_BUSY = "Another request is sending bytes to this upload right now: wait for it to end, then go on."
TUS_ONLY = "Resumable uploads here speak tus 1.0.0: send the header Tus-Resumable: 1.0.0."


def key_lacks_scope(scope: str) -> str:
    doing = "read jobs (status, lists, downloads)" if scope == "jobs:read" else "create, cancel or delete jobs"
    return f"This API key may not {doing}: it lacks the {scope} scope. Create a key with {scope} for this."


def key_too_busy(wait_seconds: str) -> str:
    return f"This API key has made too many requests: wait {wait_seconds} seconds, then go on more slowly."


def too_many_logins(wait_seconds: str) -> str:
    return f"Too many login attempts: wait {wait_seconds} seconds, then try again."


def too_large(limit: int) -> str:
    return f"The video is larger than the {size_words(limit)} limit: trim or compress it first, or split it up."


def over_quota(used: int, incoming: int, quota: int, oldest_expires: datetime | None) -> str:
    """Why an upload is refused at the stored-bytes quota, and what to do."""
    adding = f" and this video is {size_words(incoming)}" if incoming else ""
    then = f" (your oldest job expires at {oldest_expires:%Y-%m-%d %H:%M} UTC)" if oldest_expires is not None else ""
    return (
        f"Your jobs already store {size_words(used)} of the {size_words(quota)} each user may keep{adding}. "
        f"Delete jobs you no longer need, or wait for older ones to expire{then}, then upload again."
    )


def quota_held_by_work(used: int, quota: int, in_flight: int) -> str:
    """Why an upload is refused while unfinished jobs hold part of the quota."""
    jobs = "job is" if in_flight == 1 else "jobs are"
    return (
        f"Your jobs store {size_words(used)} of the {size_words(quota)} each user may keep, and {in_flight} "
        f"{jobs} still converting; their videos are removed once they finish. Try again in a minute, "
        f"or delete jobs you no longer need."
    )


def mp3_not_ready(job_id: UUID, state: str) -> str:
    if state == "expired":
        return f"Job {job_id} has expired: its MP3 was removed. Upload the video again to convert it anew."
    if state in ("failed", "cancelled"):
        return f"Job {job_id} {STATE_WORDS[state]}, so it has no MP3."
    return (
        f"The MP3 of job {job_id} is not ready yet (the job is {STATE_WORDS.get(state, state)}): try again when it is."
    )


def no_such_part(job_id: UUID, number: int, count: int) -> str:
    if count == 0:
        return (
            f"Job {job_id} has no MP3 per chapter: it was not asked for, or the video has fewer than two chapters. "
            f"Its one MP3 is at /v1/jobs/{job_id}/mp3."
        )
    return f"Job {job_id} has {count} MP3s, one per chapter, numbered 1 to {count}: there is no number {number}."


def nothing_to_cancel(job_id: UUID, state: str) -> str:
    ended = "its MP3 is ready" if state in ("converted", "notified") else "it failed"
    return f"Job {job_id} has already ended ({ended}): there is nothing to cancel."


def upload_not_found(upload_id: UUID) -> str:
    return (
        f"No upload {upload_id} in your account: it was finished or removed, or sat unfinished too long. "
        "Start the upload again."
    )


NOT_MULTIPART = (
    "Send the video as a multipart/form-data form with the file in its file field (curl -F file=@video.mp4)."
)
OFFSET_STREAM_ONLY = "Send the upload's bytes as Content-Type: application/offset+octet-stream."


def offset_mismatch(sent: int, held: int) -> str:
    return (
        f"These bytes are for byte {sent}, but the server holds {held}: "
        "go on from there (HEAD says where an upload stands)."
    )


def upload_complete(length: int) -> str:
    return f"This upload is complete ({length} bytes): nothing more goes in."


def past_the_end(length: int) -> str:
    return f"These bytes go past the end of the upload, announced as {length} bytes."


def upload_became_job(job_url: str) -> str:
    return f"This upload is complete and became a job: delete the job ({job_url}) instead."


def outside_the_mp3(size: int) -> str:
    return f"The range asked for lies outside the MP3 ({size} bytes): ask for bytes within it."


def words_for(field: str) -> str:
    """What a good value of ``field`` is (any case; ``KeyError`` for an input without words)."""
    return FIELD_WORDS[field.lower()]
