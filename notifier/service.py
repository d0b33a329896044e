"""What the notifier does with one converted job."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from email.errors import MessageError
from email.message import EmailMessage

from prometheus_client import Counter

from common.consuming import Unprocessable
from common.filenames import sanitize_filename
from contracts import Event, Mp3Converted, NotificationSent, RoutingKey
from notifier.ledger import Claim, NotificationLedger
from notifier.message import compose_ready_email

__all__ = ["NotificationInProgress", "Notifier"]

log = logging.getLogger(__name__)

EMAILS = Counter(
    "notifier_emails_total",
    "Emails to owners: sent, failed (tried again later), duplicate (already sent, not sent again) "
    "or unsendable (the message cannot be built: dead-lettered at once).",
    ["result"],
)


class NotificationInProgress(Exception):
    """Another notifier is sending this job's email right now; try again later."""


class Notifier:
    def __init__(
        self,
        ledger: NotificationLedger,
        send: Callable[[EmailMessage], Awaitable[None]],
        publish: Callable[[Event], Awaitable[None]],
        *,
        sender: str,
        public_url: str,
    ) -> None:
        self._ledger, self._send, self._publish = ledger, send, publish
        self._sender, self._public_url = sender, public_url

    async def handle(self, event: Mp3Converted) -> None:
        """Email the owner once per job, then announce it (again, if this is a repeat)."""
        ids = {"job_id": str(event.job_id), "event_id": str(event.event_id)}
        email = self._compose(event)
        claim = await self._ledger.claim(event.job_id)
        if claim is Claim.BUSY:
            raise NotificationInProgress(str(event.job_id))
        if claim is Claim.SEND:
            try:
                await self._send(email)
            except BaseException:
                EMAILS.labels("failed").inc()
                await self._ledger.release(event.job_id)
                raise
            await self._ledger.mark_sent(event.job_id)
            EMAILS.labels("sent").inc()
            log.info("emailed %s", event.owner_email, extra=ids)
        else:
            EMAILS.labels("duplicate").inc()
            log.info("already emailed about this job; announcing it again", extra=ids)
        await self._publish(
            NotificationSent(
                # the same fact always has the same id, so every repeat is recognised downstream
                event_id=uuid.uuid5(event.job_id, RoutingKey.NOTIFICATION_SENT),
                job_id=event.job_id,
                recipient=event.owner_email,
            )
        )

    def _compose(self, event: Mp3Converted) -> EmailMessage:
        """The email for ``event``, its file name sanitized again (the event may come from an
        older gateway); ``Unprocessable`` if it still cannot be built: retrying cannot help."""
        safe = event.model_copy(update={"filename": sanitize_filename(event.filename, default="audio.mp3")})
        try:
            email = compose_ready_email(safe, sender=self._sender, public_url=self._public_url)
            email.as_bytes()  # what sending does first: fail here, not after the claim
        except (ValueError, TypeError, MessageError) as error:
            EMAILS.labels("unsendable").inc()
            raise Unprocessable(f"the email for job {event.job_id} cannot be built: {error}") from error
        return email
