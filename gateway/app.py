"""The gateway: the public REST API in front of every service."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
from litestar import Litestar
from litestar.di import Provide

from common.broker import EventPublisher, create_broker, declare_topology
from common.http import health_routes, log_exception, metrics_middleware, options_routes, problem_details
from common.mongo import create_async_client, create_client
from common.storage_layout import require_current_layout
from contracts import JobCancelled, JobDeleted, VideoUploaded
from gateway.access import current_status
from gateway.apikeys import KeyLimiter, KeyVerifier
from gateway.asyncapi_page import ASYNCAPI_ROUTES
from gateway.cover import COVER_ROUTES
from gateway.downloads import DOWNLOAD_ROUTES
from gateway.files import JobFiles
from gateway.idempotency import IdempotencyKeys
from gateway.identity import Authenticator, current_principal
from gateway.intake import jobs_in_flight
from gateway.jobs import JOB_ROUTES
from gateway.keys import KEY_ROUTES
from gateway.media import MediaProbe
from gateway.openapi import openapi_config
from gateway.outbox import Outbox
from gateway.quota import Quota
from gateway.removals import FileRemovals
from gateway.resumable import ResumableUploads
from gateway.revocations import RevocationFeed
from gateway.sessions import AUTH_ROUTES
from gateway.settings import GatewaySettings
from gateway.status_stream import STATUS_STREAM_ROUTES, StatusWatcher
from gateway.tus import TUS_ROUTES
from gateway.unsettled import UnsettledUploads
from gateway.uploads import VideoStore
from gateway.web import web_routes
from gateway.webhooks import WEBHOOK_ROUTES, webhook_dependencies
from gateway.wording import FIELD_WORDS
from projections.queries import JobQueries

__all__ = ["PUBLISHED_EVENTS", "create_app"]

log = logging.getLogger(__name__)

PUBLISHED_EVENTS = (VideoUploaded, JobCancelled, JobDeleted)
"""What the gateway publishes, always through its outbox."""

_SWEEP_SECONDS = 600.0


async def sweep_unsettled(unsettled: UnsettledUploads, stalled: timedelta) -> None:
    """Sweep what killed uploads left, at start and then as often as an upload can go stale."""
    while True:
        try:
            if removed := await unsettled.sweep(stalled):
                log.info("removed the chunks of %d abandoned multipart uploads", removed)
        except Exception:  # the store may be away: the next round does it
            log.exception("sweeping abandoned multipart uploads failed")
        await asyncio.sleep(min(_SWEEP_SECONDS, max(1.0, stalled.total_seconds() / 2)))


def _authentication(settings: GatewaySettings, http: httpx.AsyncClient) -> tuple[RevocationFeed, Authenticator]:
    """Who is calling: access tokens checked against auth's keys and its revocation log, API keys
    asked of auth (briefly remembered) and rate-limited per key."""
    revocations = RevocationFeed(
        http,
        f"{settings.auth_url}/v1/revocations",
        poll_seconds=settings.revocation_poll_seconds,
        max_stale_seconds=settings.revocation_max_stale_seconds,
    )
    api_keys = KeyVerifier(
        http,
        f"{settings.auth_url}/v1/keys/verify",
        cache_seconds=settings.api_key_cache_seconds,
        cache_size=settings.api_key_cache_size,
    )
    authenticator = Authenticator(
        http,
        f"{settings.auth_url}/.well-known/jwks.json",
        issuer=settings.token_issuer,
        audience=settings.token_audience,
        leeway_seconds=settings.token_leeway_seconds,
        revocations=revocations,
        keys=api_keys,
        key_limiter=KeyLimiter(settings.api_key_burst, settings.api_key_requests_per_minute),
    )
    return revocations, authenticator


def create_app(settings: GatewaySettings | None = None) -> Litestar:
    settings = settings or GatewaySettings.load()
    broker = create_broker(settings, description="Gateway")
    publisher = EventPublisher(broker, PUBLISHED_EVENTS)
    mongo = create_async_client(settings)
    database = mongo[settings.mongo_database]
    # PyAV reads files through blocking calls, in worker threads: the media check's own client
    blocking_mongo = create_client(settings)
    http = httpx.AsyncClient(timeout=httpx.Timeout(10.0))
    revocations, authenticator = _authentication(settings, http)
    outbox = Outbox(database, publisher)
    queries = JobQueries(database)
    watcher = StatusWatcher(lambda job_id: current_status(queries, outbox, job_id))
    videos = VideoStore(database)
    files = JobFiles(database)
    uploads = ResumableUploads(database, is_job=outbox.has_upload, max_pending=settings.max_pending_uploads)
    removals = FileRemovals(database, forget_upload=uploads.forget)
    probe = MediaProbe(blocking_mongo[settings.mongo_database], limits=settings.media_limits)
    keys = IdempotencyKeys(database)

    async def connect_broker() -> None:
        """Connect unless connected; uploads never wait for this: the outbox holds their events."""
        if broker.running and await broker.ping(timeout=1.0):
            return
        try:
            await broker.start()
            await declare_topology(broker)
        except Exception as error:  # any connection failure: retried before each relay round
            log.warning("RabbitMQ is unreachable (%s); events wait in the outbox", error)

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        await require_current_layout(database)
        await asyncio.gather(files.ensure_indexes(), keys.ensure_indexes())
        await connect_broker()
        with contextlib.suppress(httpx.HTTPError, ValueError, TimeoutError):
            # ready at once when auth answers; otherwise the follower keeps trying
            await asyncio.wait_for(revocations.catch_up(), 10.0)
        tasks = [
            asyncio.create_task(revocations.follow()),
            asyncio.create_task(outbox.relay_forever(settings.outbox_relay_seconds, before_round=connect_broker)),
            asyncio.create_task(
                uploads.sweep_forever(_SWEEP_SECONDS, idle=timedelta(hours=settings.upload_idle_hours))
            ),
            asyncio.create_task(removals.run(_SWEEP_SECONDS)),
            asyncio.create_task(sweep_unsettled(videos.unsettled, timedelta(minutes=settings.stalled_upload_minutes))),
        ]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await watcher.close()
            await broker.stop()
            await http.aclose()
            await mongo.close()
            blocking_mongo.close()

    async def ping_mongo() -> None:
        await database.command("ping")

    async def ping_broker() -> None:
        if not await broker.ping(timeout=2.0):
            raise ConnectionError("RabbitMQ does not answer")

    def provide(value: object) -> Provide:
        return Provide(lambda: value, sync_to_thread=False)

    api = [
        *AUTH_ROUTES,
        *KEY_ROUTES,
        *JOB_ROUTES,
        *STATUS_STREAM_ROUTES,
        *DOWNLOAD_ROUTES,
        *COVER_ROUTES,
        *TUS_ROUTES,
        *WEBHOOK_ROUTES,
    ]
    return Litestar(
        route_handlers=[
            *options_routes(api),
            *api,
            *health_routes([ping_mongo, ping_broker, revocations.ready]),
            *ASYNCAPI_ROUTES,
            *web_routes(settings.web_modules_dir),
        ],
        dependencies={
            "settings": provide(settings),
            "http": provide(http),
            "authenticator": provide(authenticator),
            "principal": Provide(current_principal),
            "outbox": provide(outbox),
            "queries": provide(queries),
            "removals": provide(removals),
            "watcher": provide(watcher),
            "videos": provide(videos),
            "files": provide(files),
            "uploads": provide(uploads),
            "probe": provide(probe),
            "links": provide(settings.link_signer()),
            "keys": provide(keys),
            "in_flight": provide(jobs_in_flight(database, settings.in_flight_limit, queries, outbox)),
            "quota": provide(Quota(queries, settings.user_quota_bytes, settings.retention, settings.remove_source)),
            **{
                name: provide(value)
                for name, value in webhook_dependencies(settings, database, broker, connect_broker).items()
            },
        },
        lifespan=[lifespan],
        middleware=[metrics_middleware("gateway")],
        plugins=[problem_details(FIELD_WORDS)],
        after_exception=[log_exception],
        openapi_config=openapi_config(),
    )
