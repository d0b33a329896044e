"""The webhooks API: register endpoints, list them, rotate their secret, read their deliveries.

An endpoint gets the public events (``contracts.webhooks``) of its owner's jobs that it asked
for, signed with its secret (Standard Webhooks); the secret is shown when the endpoint is
made or rotated, never again. The notifier's webhook sender does the sending.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

from faststream.rabbit import RabbitBroker
from litestar import Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException, NotFoundException
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import Example, Operation
from litestar.params import Body, PathParameter, QueryParameter
from pydantic import BaseModel, Field
from pymongo.asynchronous.database import AsyncDatabase

from auth.tokens import Principal
from common.mongo import Document
from common.outbound import UnsafeUrl, check_url
from common.webhook_deliveries import Delivery, DeliveryLog, DeliveryState
from common.webhook_endpoints import Endpoint, EndpointRegistry, TooManyEndpoints
from contracts.topology import Queues
from contracts.webhooks import DeliverWebhook, WebhookEventType
from gateway import openapi as docs
from gateway.callbacks import Callbacks
from gateway.login import auth_operation
from gateway.settings import GatewaySettings

__all__ = ["WEBHOOK_ROUTES", "SendCommand", "command_sender", "webhook_dependencies"]

SendCommand = Callable[[DeliverWebhook], Awaitable[None]]

_EXAMPLE_ENDPOINT = "ep_5f0c2b7e8a414c4e9d0b6a5f"
_EXAMPLE_URL = "https://example.com/hooks/vidmp3"
_ALL_TYPES = list(WebhookEventType)

EndpointId = Annotated[
    str, PathParameter(description="The endpoint's id.", examples=[Example(value=_EXAMPLE_ENDPOINT)], max_length=64)
]
DeliveryId = Annotated[
    str,
    PathParameter(
        description="The delivery's id: its `webhook-id` header.",
        max_length=64,
        examples=[Example(value="msg_6f1c0a9e8d7b4c3a9e2f1d0c8b7a6f5e")],
    ),
]


class EndpointRequest(BaseModel):
    url: str = Field(
        max_length=2048,
        description="Where to POST the events (https, on the public internet).",
        examples=[_EXAMPLE_URL],
    )
    event_types: list[WebhookEventType] | None = Field(
        default=None, max_length=len(WebhookEventType), description="The event types to send; all when left out."
    )
    description: str = Field(default="", max_length=200, description="A note for you (what the endpoint is for).")


class EndpointChange(BaseModel):
    url: str | None = Field(default=None, max_length=2048, description="A new URL.")
    event_types: list[WebhookEventType] | None = Field(default=None, max_length=len(WebhookEventType))


class EndpointView(BaseModel):
    id: str = Field(examples=[_EXAMPLE_ENDPOINT])
    url: str = Field(examples=[_EXAMPLE_URL])
    event_types: list[str] = Field(description="What is sent there.")
    description: str
    created_at: datetime
    enabled: bool = Field(
        description="False once it was turned off after failing for about a day; turn it on with `enable`."
    )
    disabled_reason: str | None = Field(default=None, description="Why it was turned off, in words.")
    last_success_at: datetime | None = Field(default=None, description="When it last answered a delivery with 2xx.")
    previous_secret_expires_at: datetime | None = Field(
        default=None, description="During a rotation: until when the previous secret also signs deliveries."
    )


class EndpointCreated(EndpointView):
    secret: str = Field(
        description="Verify deliveries with it (Standard Webhooks). Shown this once: keep it.",
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    )


class EndpointList(BaseModel):
    items: list[EndpointView]
    limit: int = Field(description="How many endpoints a user may have.")


class RotateRequest(BaseModel):
    grace_hours: float | None = Field(
        default=None,
        ge=0,
        le=168,
        description="How long the current secret keeps signing beside the new one (24 by default).",
    )


class RotatedSecret(BaseModel):
    secret: str = Field(description="The new secret; shown this once.")
    previous_secret_expires_at: datetime = Field(description="Deliveries carry both signatures until then.")


class AttemptView(BaseModel):
    at: datetime
    status_code: int | None = Field(description="What the endpoint answered; null when no answer came.")
    latency_ms: float
    error: str | None = Field(description="What went wrong, if it did.")
    response_excerpt: str = Field(description="The start of the endpoint's answer.")


class DeliveryView(BaseModel):
    id: str = Field(description="The delivery's id, also its `webhook-id` header (the same on every attempt).")
    number: int = Field(description="Its place in the endpoint's log; pass it as `before` for older ones.")
    event_type: str
    event_id: UUID
    job_id: UUID
    state: DeliveryState = Field(
        description="pending (being tried), delivered, failed (every attempt failed) or skipped."
    )
    created_at: datetime
    attempt_count: int
    attempts: list[AttemptView] = Field(description="The latest attempts (20 at most).")


class DeliveryPage(BaseModel):
    items: list[DeliveryView]
    next_before: int | None = Field(description="Pass as `before` for the next (older) page; null at the end.")


def _view(endpoint: Endpoint) -> EndpointView:
    rotated = [s.expires_at for s in endpoint.secrets if s.expires_at is not None]
    return EndpointView(
        id=endpoint.endpoint_id,
        url=endpoint.url,
        event_types=list(endpoint.event_types),
        description=endpoint.description,
        created_at=endpoint.created_at,
        enabled=endpoint.enabled,
        disabled_reason=endpoint.disabled_reason,
        last_success_at=endpoint.last_success_at,
        previous_secret_expires_at=max(rotated) if rotated else None,
    )


def _delivery_view(number: int, delivery: Delivery) -> DeliveryView:
    return DeliveryView(
        id=delivery.delivery_id,
        number=number,
        event_type=delivery.event_type,
        event_id=delivery.event_id,
        job_id=delivery.job_id,
        state=delivery.state,
        created_at=delivery.created_at,
        attempt_count=delivery.attempt_count,
        attempts=[AttemptView(**attempt.__dict__) for attempt in reversed(delivery.attempts)],
    )


def _not_found(endpoint_id: str) -> NotFoundException:
    return NotFoundException(
        f"No webhook endpoint {endpoint_id} in your account: it was deleted, or the id is mistyped."
    )


async def _own(registry: EndpointRegistry, principal: Principal, endpoint_id: str) -> Endpoint:
    endpoint = await registry.owned(principal.user_id, endpoint_id)
    if endpoint is None:
        raise _not_found(endpoint_id)
    return endpoint


async def _checked(url: str, settings: GatewaySettings) -> str:
    try:
        await check_url(url.strip(), settings.webhook_allowed_networks)
    except UnsafeUrl as refused:
        raise HTTPException(
            status_code=422,
            detail=f"This URL cannot receive webhooks: {refused}",
            extra={"errors": [{"field": "url", "message": str(refused), "source": "body"}]},
        ) from None
    return url.strip()


_PATH = "/v1/webhooks"
_ONE = "/v1/webhooks/{endpoint_id:str}"
_PRIVATE = (
    "This URL cannot receive webhooks: 127.0.0.1 leads to 127.0.0.1, a private, local or reserved address: "
    "webhooks go only to addresses on the public internet."
)
_TAGS: dict[str, Any] = {"tags": ["webhooks"], "security": docs.SECURITY}


def _problems(path: str, details: dict[int, str] | None = None) -> dict[int, ResponseSpec]:
    return docs.problems(path.replace(":str", ""), details)


def _ok(model: type[BaseModel], description: str, value: BaseModel) -> ResponseSpec:
    return ResponseSpec(
        model,
        description=description,
        generate_examples=False,
        examples=[Example(summary=description, value=value.model_dump(mode="json"))],
    )


def _with_body(value: BaseModel, *, required: bool = True) -> type[Operation]:
    """The operation with ``value`` as its body's example."""
    example = Example(summary="example", value=value.model_dump(mode="json", exclude_none=True))
    return auth_operation(body_examples={"example": example}, headers={}, body_required=required)


_WHEN = datetime(2026, 5, 4, 10, 15, 30, tzinfo=UTC)
_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # noqa: S105 (an example in the docs)
_VIEW = EndpointView(
    id=_EXAMPLE_ENDPOINT,
    url=_EXAMPLE_URL,
    event_types=[str(t) for t in WebhookEventType],
    description="our order system",
    created_at=_WHEN,
    enabled=True,
    last_success_at=_WHEN,
)
_DELIVERY = DeliveryView(
    id="msg_6f1c0a9e8d7b4c3a9e2f1d0c8b7a6f5e",
    number=41,
    event_type="job.ready",
    event_id=UUID("9b1d7c1e-0f4a-4e55-8f0e-1c2d3e4f5a6b"),
    job_id=docs.EXAMPLE_ID,
    state=DeliveryState.DELIVERED,
    created_at=_WHEN,
    attempt_count=2,
    attempts=[
        AttemptView(at=_WHEN, status_code=200, latency_ms=84.2, error=None, response_excerpt='{"ok": true}'),
        AttemptView(at=_WHEN, status_code=503, latency_ms=12.0, error="answered 503", response_excerpt=""),
    ],
)
_NEW = EndpointRequest(url=_EXAMPLE_URL, event_types=[WebhookEventType.JOB_READY, WebhookEventType.JOB_FAILED])


@post(
    _PATH,
    status_code=201,
    summary="Register a webhook endpoint",
    operation_class=_with_body(_NEW),
    responses={
        201: _ok(EndpointCreated, "the endpoint and its secret", EndpointCreated(**_VIEW.model_dump(), secret=_SECRET)),
        **_problems(_PATH, {422: _PRIVATE, 429: "You have 10 webhook endpoints, the most allowed: delete one first."}),
    },
    **_TAGS,
)
async def create_endpoint(
    data: Annotated[EndpointRequest, Body(description="The URL and what to send there.")],
    principal: NamedDependency[Principal],
    settings: NamedDependency[GatewaySettings],
    registry: NamedDependency[EndpointRegistry],
) -> EndpointCreated:
    """Register a URL to receive your jobs' events (all types, or those in `event_types`).

    Answers the endpoint with its signing `secret`, shown this once. The URL must lead to a
    public address (422 otherwise, unless the server allows a network for it); a user may
    have `WEBHOOK_MAX_ENDPOINTS` (10) endpoints (429 beyond).
    """
    url = await _checked(data.url, settings)
    types = [str(t) for t in (data.event_types or _ALL_TYPES)]
    try:
        endpoint = await registry.create(
            owner_id=principal.user_id,
            owner_email=principal.email,
            url=url,
            event_types=types,
            description=data.description,
        )
    except TooManyEndpoints:
        raise HTTPException(
            status_code=429,
            detail=f"You have {settings.webhook_max_endpoints} webhook endpoints, the most allowed: delete one first.",
        ) from None
    return EndpointCreated(**_view(endpoint).model_dump(), secret=endpoint.secrets[0].value)


@get(
    _PATH,
    summary="List your webhook endpoints",
    responses={200: _ok(EndpointList, "your endpoints", EndpointList(items=[_VIEW], limit=10)), **_problems(_PATH)},
    **_TAGS,
)
async def list_endpoints(
    principal: NamedDependency[Principal],
    settings: NamedDependency[GatewaySettings],
    registry: NamedDependency[EndpointRegistry],
) -> EndpointList:
    """Your endpoints, oldest first, without their secrets."""
    endpoints = await registry.of_owner(principal.user_id)
    return EndpointList(items=[_view(e) for e in endpoints], limit=settings.webhook_max_endpoints)


@get(
    _ONE,
    summary="Show a webhook endpoint",
    responses={
        200: _ok(EndpointView, "the endpoint", _VIEW),
        **_problems(_ONE, {404: str(_not_found(_EXAMPLE_ENDPOINT).detail)}),
    },
    **_TAGS,
)
async def show_endpoint(
    endpoint_id: EndpointId, principal: NamedDependency[Principal], registry: NamedDependency[EndpointRegistry]
) -> EndpointView:
    """One of your endpoints, without its secret."""
    return _view(await _own(registry, principal, endpoint_id))


@patch(
    _ONE,
    operation_class=_with_body(EndpointChange(event_types=[WebhookEventType.JOB_READY])),
    summary="Change a webhook endpoint",
    responses={
        200: _ok(EndpointView, "the endpoint as changed", _VIEW),
        **_problems(_ONE, {404: str(_not_found(_EXAMPLE_ENDPOINT).detail), 422: _PRIVATE}),
    },
    **_TAGS,
)
async def change_endpoint(
    endpoint_id: EndpointId,
    data: Annotated[EndpointChange, Body(description="What to change: the URL, the event types, or both.")],
    principal: NamedDependency[Principal],
    settings: NamedDependency[GatewaySettings],
    registry: NamedDependency[EndpointRegistry],
) -> EndpointView:
    """Change the URL or the event types of an endpoint; its secret stays."""
    endpoint = await _own(registry, principal, endpoint_id)
    url = None if data.url is None else await _checked(data.url, settings)
    types = None if data.event_types is None else [str(t) for t in data.event_types]
    await registry.update(endpoint, url=url, event_types=types)
    return _view(await _own(registry, principal, endpoint_id))


@delete(
    _ONE,
    summary="Delete a webhook endpoint",
    responses={
        204: docs.no_content("The endpoint and its log are gone."),
        **_problems(_ONE, {404: str(_not_found(_EXAMPLE_ENDPOINT).detail)}),
    },
    **_TAGS,
)
async def delete_endpoint(
    endpoint_id: EndpointId,
    principal: NamedDependency[Principal],
    registry: NamedDependency[EndpointRegistry],
    deliveries: NamedDependency[DeliveryLog],
) -> None:
    """Delete an endpoint and its delivery log; deliveries still pending are not sent."""
    endpoint = await _own(registry, principal, endpoint_id)
    await registry.delete(endpoint)
    await deliveries.forget_endpoint(endpoint.endpoint_id)


@post(
    _ONE + "/rotate-secret",
    status_code=200,
    summary="Rotate an endpoint's secret",
    operation_class=_with_body(RotateRequest(grace_hours=48), required=False),
    responses={
        200: _ok(RotatedSecret, "the new secret", RotatedSecret(secret=_SECRET, previous_secret_expires_at=_WHEN)),
        **_problems(_ONE + "/rotate-secret", {404: str(_not_found(_EXAMPLE_ENDPOINT).detail)}),
    },
    **_TAGS,
)
async def rotate_secret(
    endpoint_id: EndpointId,
    principal: NamedDependency[Principal],
    settings: NamedDependency[GatewaySettings],
    registry: NamedDependency[EndpointRegistry],
    data: Annotated[RotateRequest | None, Body(description="Optional: how long the old secret keeps signing.")] = None,
) -> RotatedSecret:
    """A new secret, shown this once. Until `previous_secret_expires_at` (24 hours, or
    `grace_hours`) each delivery carries two signatures, one per secret, so receivers can
    move to the new secret at their pace."""
    endpoint = await _own(registry, principal, endpoint_id)
    hours = settings.webhook_secret_grace_hours if data is None or data.grace_hours is None else data.grace_hours
    secret, until = await registry.rotate_secret(endpoint, timedelta(hours=hours))
    return RotatedSecret(secret=secret, previous_secret_expires_at=until)


@post(
    _ONE + "/enable",
    status_code=200,
    summary="Turn a disabled endpoint on again",
    responses={
        200: _ok(EndpointView, "the endpoint, on again", _VIEW),
        **_problems(_ONE + "/enable", {404: str(_not_found(_EXAMPLE_ENDPOINT).detail)}),
    },
    **_TAGS,
)
async def enable_endpoint(
    endpoint_id: EndpointId, principal: NamedDependency[Principal], registry: NamedDependency[EndpointRegistry]
) -> EndpointView:
    """Send events to an endpoint that was turned off after failing (new events only: redeliver older ones)."""
    endpoint = await _own(registry, principal, endpoint_id)
    await registry.enable(endpoint)
    return _view(await _own(registry, principal, endpoint_id))


@get(
    _ONE + "/deliveries",
    summary="Read an endpoint's delivery log",
    responses={
        200: _ok(DeliveryPage, "the latest deliveries", DeliveryPage(items=[_DELIVERY], next_before=41)),
        **_problems(_ONE + "/deliveries", {404: str(_not_found(_EXAMPLE_ENDPOINT).detail)}),
    },
    **_TAGS,
)
async def list_deliveries(
    *,
    endpoint_id: EndpointId,
    principal: NamedDependency[Principal],
    registry: NamedDependency[EndpointRegistry],
    deliveries: NamedDependency[DeliveryLog],
    limit: Annotated[
        int, QueryParameter(ge=1, le=100, description="How many deliveries a page holds.", examples=[Example(value=20)])
    ] = 20,
    before: Annotated[
        int | None,
        QueryParameter(
            ge=0, description="Deliveries numbered below this (from `next_before`).", examples=[Example(value=41)]
        ),
    ] = None,
) -> DeliveryPage:
    """The endpoint's latest deliveries, newest first, each with its attempts (when, what the
    endpoint answered, how long it took). The log keeps `WEBHOOK_LOG_SIZE` (100) deliveries."""
    endpoint = await _own(registry, principal, endpoint_id)
    found = await deliveries.recent(endpoint.endpoint_id, limit=limit, before=before)
    items = [_delivery_view(number, delivery) for number, delivery in found]
    next_before = items[-1].number if len(items) == limit and items[-1].number > 0 else None
    return DeliveryPage(items=items, next_before=next_before)


@post(
    _ONE + "/deliveries/{delivery_id:str}/redeliver",
    status_code=202,
    summary="Send a delivery again",
    responses={
        202: _ok(DeliveryView, "the delivery, sent again soon", _DELIVERY),
        **_problems(
            _ONE + "/deliveries/{delivery_id:str}/redeliver",
            {
                404: "No delivery msg_2b1c... to this endpoint: it left the log, or the id is mistyped.",
                503: "Sending is unavailable right now: try again in a minute.",
            },
        ),
    },
    **_TAGS,
)
async def redeliver(
    *,
    endpoint_id: EndpointId,
    delivery_id: DeliveryId,
    principal: NamedDependency[Principal],
    registry: NamedDependency[EndpointRegistry],
    deliveries: NamedDependency[DeliveryLog],
    send_command: NamedDependency[SendCommand],
) -> Response[DeliveryView]:
    """Send a delivery again (the same body and `webhook-id`), with a fresh retry schedule,
    whatever happened to it before."""
    endpoint = await _own(registry, principal, endpoint_id)
    delivery = await deliveries.get(delivery_id)
    if delivery is None or delivery.target != endpoint.endpoint_id:
        raise NotFoundException(f"No delivery {delivery_id} to this endpoint: it left the log, or the id is mistyped.")
    await deliveries.settle(delivery.delivery_id, DeliveryState.PENDING)
    try:
        await send_command(DeliverWebhook(delivery_id=delivery.delivery_id, requested_at=datetime.now().astimezone()))
    except Exception as error:  # the broker is away: say so instead of a 500
        raise HTTPException(
            status_code=503, detail="Sending is unavailable right now: try again in a minute."
        ) from error
    return Response(_delivery_view(-1, delivery), status_code=202)


def webhook_dependencies(
    settings: GatewaySettings,
    database: AsyncDatabase[Document],
    broker: RabbitBroker,
    connect: Callable[[], Awaitable[None]],
) -> dict[str, object]:
    """What the webhook routes (and the upload routes' callbacks) are given, by name."""
    return {
        "registry": EndpointRegistry(database, max_per_owner=settings.webhook_max_endpoints),
        "deliveries": DeliveryLog(database, size=settings.webhook_log_size),
        "callbacks": Callbacks(settings.webhook_allowed_networks, settings.link_key.get_secret_value()),
        "send_command": command_sender(broker, connect),
    }


def command_sender(broker: RabbitBroker, connect: Callable[[], Awaitable[None]]) -> SendCommand:
    """How the gateway asks the webhook sender to send a delivery: straight to its queue, confirmed."""

    async def send_command(command: DeliverWebhook) -> None:
        await connect()
        await broker.publish(
            command,
            routing_key=Queues.NOTIFIER_WEBHOOK_DELIVERIES.name,
            persist=True,
            message_id=command.delivery_id,
        )

    return send_command


WEBHOOK_ROUTES = [
    create_endpoint,
    list_endpoints,
    show_endpoint,
    change_endpoint,
    delete_endpoint,
    rotate_secret,
    enable_endpoint,
    list_deliveries,
    redeliver,
]
