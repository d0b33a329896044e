"""What the notifier does with a job's events: remember whom to tell (upload), email the owner
that the MP3 is ready (converted) or that the video could not be converted (failed)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
from email.errors import MessageError
from email.message import EmailMessage

from prometheus_client import Counter

from common.consuming import Unprocessable
from common.filenames import sanitize_filename
from common.links import LinkSigner
from contracts import ConversionFailed, Event, Mp3Converted, NotificationSent, RoutingKey, VideoUploaded
from notifier.contacts import JobContacts
from notifier.ledger import Claim, EmailKind, NotificationLedger
from notifier.message import compose_failure_email, compose_ready_email

__all__ = ["ContactUnknown", "NotificationInProgress", "Notifier"]

log = logging.getLogger(__name__)

EMAILS = Counter(
    "notifier_emails_total",
    "Emails to owners by kind (ready, failed): sent, failed (tried again later), duplicate (already sent, "
    "not sent again), skipped (a failure after the ready email) or unsendable (the message cannot be built: "
    "dead-lettered at once).",
    ["result", "kind"],
)


class NotificationInProgress(Exception):
    """Another notifier is sending this job's email right now; try again later."""


class ContactUnknown(Exception):
    """The job's upload event has not been recorded here yet (events of different services may
    arrive in either order); try again later."""


class Notifier:
    def __init__(
        self,
        ledger: NotificationLedger,
        send: Callable[[EmailMessage], Awaitable[None]],
        publish: Callable[[Event], Awaitable[None]],
        *,
        contacts: JobContacts,
        links: LinkSigner,
        sender: str,
        public_url: str,
        retention: timedelta | None = None,
    ) -> None:
        self._ledger, self._send, self._publish = ledger, send, publish
        self._contacts, self._links = contacts, links
        self._sender, self._public_url = sender, public_url
        self._retention = retention

    async def handle_uploaded(self, event: VideoUploaded) -> None:
        """Remember whom to tell about the job (a failure event names neither owner nor file)."""
        await self._contacts.record(event)

    async def handle(self, event: Mp3Converted) -> None:
        """Email the owner the links once per job, then announce it (again, if this is a repeat)."""
        ids = {"job_id": str(event.job_id), "event_id": str(event.event_id)}
        # retention counts from the MP3's being stored: the email says when it ends, and the link
        # never outlives the file
        expires_at = None if self._retention is None else event.occurred_at + self._retention
        link = self._links.sign(event.job_id, event.mp3_file_id, not_after=expires_at)
        # the name sanitized again: the event may come from an older gateway
        safe = event.model_copy(update={"filename": sanitize_filename(event.filename, default="audio.mp3")})
        sent = await self._once(
            event.job_id,
            EmailKind.READY,
            lambda: compose_ready_email(
                safe, sender=self._sender, public_url=self._public_url, link=link, expires_at=expires_at
            ),
        )
        if sent:
            log.info("emailed %s that the MP3 is ready", event.owner_email, extra=ids)
        else:
            log.info("already emailed about this job; announcing it again", extra=ids)
        await self._contacts.forget(event.job_id)
        await self._publish(
            NotificationSent(
                # the same fact always has the same id, so every repeat is recognised downstream
                event_id=uuid.uuid5(event.job_id, RoutingKey.NOTIFICATION_SENT),
                job_id=event.job_id,
                recipient=event.owner_email,
            )
        )

    async def handle_failed(self, event: ConversionFailed) -> None:
        """Email the owner, once per job, why the video could not be converted and what to try.

        No email when the ready email went out (a watchdog's late verdict on a job that did
        convert): the MP3 exists, and two contradicting emails would only confuse.
        """
        ids = {"job_id": str(event.job_id), "event_id": str(event.event_id)}
        if await self._ledger.claimed(event.job_id, EmailKind.READY):
            EMAILS.labels("skipped", EmailKind.FAILED).inc()
            log.info("not emailing a failure: the MP3 was announced", extra=ids)
            return
        contact = await self._contacts.get(event.job_id)
        if contact is None:
            if await self._ledger.claimed(event.job_id, EmailKind.FAILED):
                return  # emailed already; the contact went with it
            raise ContactUnknown(str(event.job_id))
        contact = replace(contact, filename=sanitize_filename(contact.filename, default="video"))
        sent = await self._once(
            event.job_id,
            EmailKind.FAILED,
            lambda: compose_failure_email(event, contact, sender=self._sender, public_url=self._public_url),
        )
        if sent:
            log.info("emailed %s that the conversion failed (%s)", contact.owner_email, event.reason, extra=ids)
        await self._contacts.forget(event.job_id)

    async def _once(self, job_id: uuid.UUID, kind: EmailKind, compose: Callable[[], EmailMessage]) -> bool:
        """Send the email of ``kind`` unless it was sent; ``False`` for a repeat.

        The email is built before the claim: one that cannot be built claims nothing and is
        ``Unprocessable`` (retrying cannot help).
        """
        email = self._build(job_id, kind, compose)
        claim = await self._ledger.claim(job_id, kind)
        if claim is Claim.BUSY:
            raise NotificationInProgress(f"{job_id} ({kind})")
        if claim is Claim.ALREADY_SENT:
            EMAILS.labels("duplicate", kind).inc()
            return False
        try:
            await self._send(email)
        except BaseException:
            EMAILS.labels("failed", kind).inc()
            await self._ledger.release(job_id, kind)
            raise
        await self._ledger.mark_sent(job_id, kind)
        EMAILS.labels("sent", kind).inc()
        return True

    @staticmethod
    def _build(job_id: uuid.UUID, kind: EmailKind, compose: Callable[[], EmailMessage]) -> EmailMessage:
        try:
            email = compose()
            email.as_bytes()  # what sending does first: fail here, not after the claim
        except (ValueError, TypeError, MessageError) as error:
            EMAILS.labels("unsendable", kind).inc()
            raise Unprocessable(f"the {kind} email for job {job_id} cannot be built: {error}") from error
        return email
