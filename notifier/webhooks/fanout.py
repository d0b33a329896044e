"""Internal events in, stored deliveries and send commands out.

For each event the owner may hear about, the public event is made, then one delivery per
endpoint of the owner that wants its type, and one for the job's callback URL. Each is
stored (an insert keyed by its ``webhook-id``) before its command is published, and the
event is acked only after both: a fan-out that dies half way is redone, finding the
deliveries it stored, and publishes the commands it had not recorded as published (a
duplicate command at worst: the sender sends a delivered one no more).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from uuid import UUID

from common.links import LinkSigner
from common.webhook_deliveries import Delivery, DeliveryLog, callback_target, delivery_id
from common.webhook_endpoints import EndpointRegistry
from contracts import ConversionFailed, Event, JobCancelled, JobDeleted, JobExpired, VideoUploaded
from contracts.webhooks import DeliverWebhook, WebhookEvent
from notifier.webhooks.jobs import WebhookJobs
from notifier.webhooks.public import public_event

__all__ = ["FanOut", "JobUnknown"]

log = logging.getLogger(__name__)


class JobUnknown(Exception):
    """The job's upload event is not recorded here yet; try again later."""


class FanOut:
    def __init__(
        self,
        jobs: WebhookJobs,
        registry: EndpointRegistry,
        deliveries: DeliveryLog,
        command: Callable[[DeliverWebhook], Awaitable[None]],
        *,
        links: LinkSigner,
        public_url: str,
        ready_announced: Callable[[UUID], Awaitable[bool]],
    ) -> None:
        self._jobs, self._registry, self._deliveries, self._command = jobs, registry, deliveries, command
        self._links, self._public_url, self._ready_announced = links, public_url, ready_announced

    async def handle(self, event: Event) -> None:
        if isinstance(event, VideoUploaded):
            job = await self._jobs.record(event)
        else:
            found = await self._jobs.get(event.job_id)
            if found is None:
                if isinstance(event, JobCancelled | JobDeleted | JobExpired):
                    return  # a job never uploaded here: nobody to tell
                raise JobUnknown(str(event.job_id))
            job = found
        if isinstance(event, ConversionFailed) and await self._ready_announced(event.job_id):
            return  # a watchdog's late verdict on a job whose MP3 was announced: as the email path does
        public = public_event(event, filename=job.filename, public_url=self._public_url, links=self._links)
        if public is None:
            return
        targets: list[tuple[str, str | None]] = [
            (endpoint.endpoint_id, None)
            for endpoint in await self._registry.of_owner(job.owner_id)
            if endpoint.enabled and endpoint.wants(public.type)
        ]
        if job.callback_url:
            targets.append((callback_target(job.job_id), job.callback_url))
        for target, url in targets:
            await self._deliver(public, target, url)

    async def _deliver(self, public: WebhookEvent, target: str, url: str | None) -> None:
        now = datetime.now(UTC)
        wanted = Delivery(
            delivery_id=delivery_id(public.event_id, target),
            target=target,
            url=url,
            job_id=public.data.job_id,
            event_id=public.event_id,
            event_type=public.type,
            body=public.model_dump_json(),
            created_at=now,
        )
        stored, new = await self._deliveries.create(wanted)
        if not new and await self._deliveries.commanded(stored.delivery_id):
            return  # a repeated event: this delivery is on its way already
        await self._command(DeliverWebhook(delivery_id=stored.delivery_id))
        await self._deliveries.mark_commanded(stored.delivery_id)
