"""The email an endpoint's owner gets when it is disabled, in plain words."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime

from common.webhook_endpoints import Endpoint

__all__ = ["compose_disabled_email"]


def compose_disabled_email(endpoint: Endpoint, reason: str, *, sender: str, public_url: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = endpoint.owner_email
    message["Subject"] = f"Your webhook endpoint was turned off: {endpoint.url}"
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = f"<webhook-{endpoint.endpoint_id}.disabled.{int(datetime.now(UTC).timestamp())}@vidmp3>"
    message["X-Vidmp3-Webhook-Endpoint"] = endpoint.endpoint_id
    message["X-Vidmp3-Email"] = "webhook-disabled"
    api = public_url.rstrip("/")
    message.set_content(
        f"Hello,\n\n"
        f"vidmp3 stopped sending events to your webhook endpoint\n{endpoint.url}\n"
        f"because {reason}.\n\n"
        f"No more events go there until you turn it on again. Once the address answers "
        f"with a 2xx status, turn it on with\n"
        f"POST {api}/v1/webhooks/{endpoint.endpoint_id}/enable\n"
        f"and see what it answered with\n"
        f"GET {api}/v1/webhooks/{endpoint.endpoint_id}/deliveries\n\n"
        f"Endpoint {endpoint.endpoint_id}\n"
    )
    return message
