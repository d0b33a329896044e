"""Send one stored delivery: sign it, POST it safely, log the attempt, and let the consumer's
retry schedule (about a day) try again when it failed.

Headers follow Standard Webhooks: ``webhook-id`` (the delivery's id, the same on every
attempt), ``webhook-timestamp`` (this attempt) and ``webhook-signature`` (one ``v1,`` signature
per secret in use: two during a rotation's grace period), made by the ``standardwebhooks``
library. When the last attempt fails, the delivery has failed; an endpoint none of whose
deliveries succeeded since that delivery was made (so every attempt failed for about a day)
is disabled and its owner emailed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from email.message import EmailMessage

import httpx
from prometheus_client import Counter, Histogram
from standardwebhooks.webhooks import Webhook

from common import outbound
from common.outbound import IpNetwork, Outcome, UnsafeUrl
from common.webhook_deliveries import Delivery, DeliveryLog, DeliveryState
from common.webhook_endpoints import Endpoint, EndpointRegistry, callback_secrets
from contracts.webhooks import DeliverWebhook

__all__ = ["DeliveryFailed", "Sender", "signature_header"]

log = logging.getLogger(__name__)

ATTEMPTS = Counter(
    "webhook_attempts_total", "Webhook delivery attempts by result (delivered, failed, skipped).", ["result"]
)
LATENCY = Histogram("webhook_attempt_seconds", "Time a receiver took to answer a webhook delivery.")
_USER_AGENT = "vidmp3-webhooks/1 (+Standard Webhooks)"


class DeliveryFailed(Exception):
    """This attempt failed; the delivery is tried again after the next delay."""


def signature_header(secrets: Sequence[str], msg_id: str, at: datetime, body: str) -> str:
    """``webhook-signature``: one signature per secret, space-separated (receivers accept any)."""
    return " ".join(Webhook(secret).sign(msg_id, at, body) for secret in secrets)


class Sender:
    def __init__(
        self,
        deliveries: DeliveryLog,
        registry: EndpointRegistry,
        client: httpx.AsyncClient,
        *,
        link_keys: Sequence[str],
        allowed_networks: Sequence[IpNetwork],
        max_response_bytes: int,
        send_email: Callable[[EmailMessage], Awaitable[None]],
        compose_disabled: Callable[[Endpoint, str], EmailMessage],
    ) -> None:
        self._deliveries, self._registry, self._client = deliveries, registry, client
        self._link_keys, self._allowed, self._max_bytes = list(link_keys), list(allowed_networks), max_response_bytes
        self._send_email, self._compose_disabled = send_email, compose_disabled

    async def deliver(self, command: DeliverWebhook) -> None:
        delivery = await self._deliveries.get(command.delivery_id)
        if delivery is None or delivery.state is not DeliveryState.PENDING:
            return  # sent already (a repeated command), or forgotten
        ids = {"job_id": str(delivery.job_id), "delivery_id": delivery.delivery_id}
        target = await self._target(delivery)
        if target is None:
            ATTEMPTS.labels("skipped").inc()
            if delivery.is_callback or await self._registry.get(delivery.target) is None:
                await self._deliveries.forget(delivery.delivery_id)  # its endpoint and log are gone
            else:
                await self._deliveries.settle(delivery.delivery_id, DeliveryState.SKIPPED)
            log.info("not sending %s: its endpoint is gone or disabled", delivery.event_type, extra=ids)
            return
        url, secrets = target
        at = datetime.now(UTC)
        outcome = await self._post(url, delivery, secrets, at)
        await self._deliveries.record(delivery, outcome, at=at)
        if outcome.latency_ms:
            LATENCY.observe(outcome.latency_ms / 1000)
        if outcome.ok:
            ATTEMPTS.labels("delivered").inc()
            if not delivery.is_callback:
                await self._registry.record_success(delivery.target)
            log.info("delivered %s (%s ms)", delivery.event_type, outcome.latency_ms, extra=ids)
            return
        ATTEMPTS.labels("failed").inc()
        raise DeliveryFailed(f"{delivery.event_type} to {url}: {outcome.error}")

    async def _target(self, delivery: Delivery) -> tuple[str, list[str]] | None:
        if delivery.is_callback:
            return (delivery.url or "", callback_secrets(self._link_keys, delivery.job_id))
        endpoint = await self._registry.get(delivery.target)
        if endpoint is None or not endpoint.enabled:
            return None
        return endpoint.url, endpoint.signing_secrets()

    async def _post(self, url: str, delivery: Delivery, secrets: list[str], at: datetime) -> Outcome:
        try:
            destination = await outbound.check_url(url, self._allowed)
        except UnsafeUrl as refused:
            return Outcome(None, 0.0, str(refused))
        headers = {
            "webhook-id": delivery.delivery_id,
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": signature_header(secrets, delivery.delivery_id, at, delivery.body),
            "User-Agent": _USER_AGENT,
        }
        return await outbound.post(
            self._client, destination, delivery.body.encode(), headers, max_response_bytes=self._max_bytes
        )

    async def give_up(self, command: DeliverWebhook, error: Exception) -> None:
        """The last attempt failed: the delivery has failed; disable an endpoint failing all along."""
        delivery = await self._deliveries.get(command.delivery_id)
        if delivery is None:
            return
        await self._deliveries.settle(delivery.delivery_id, DeliveryState.FAILED)
        log.warning("webhook delivery failed for good: %s", error, extra={"delivery_id": delivery.delivery_id})
        if delivery.is_callback:
            return
        endpoint = await self._registry.get(delivery.target)
        if endpoint is None or not endpoint.enabled:
            return
        if endpoint.last_success_at is not None and endpoint.last_success_at >= delivery.created_at:
            return  # it answered something since: not failing all along
        reason = f"every attempt to deliver to it failed since {delivery.created_at:%Y-%m-%d %H:%M} UTC ({error})"
        await self._registry.disable(endpoint.endpoint_id, reason[:500])
        log.warning("disabled webhook endpoint %s: %s", endpoint.endpoint_id, reason)
        try:
            await self._send_email(self._compose_disabled(endpoint, reason))
        except Exception:  # the endpoint stays disabled; the email is not worth a redelivery loop
            log.exception("could not email the owner of disabled endpoint %s", endpoint.endpoint_id)
