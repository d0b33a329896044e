"""What every broker-driven service process shares: its ASGI app and how it is served."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

import uvicorn
from faststream.asgi import AsgiFastStream, AsgiResponse, get, make_ping_asgi
from faststream.rabbit import RabbitBroker
from prometheus_client import start_http_server

from common.broker import declare_topology
from common.connections import timed_h11
from common.logging import configure_logging
from common.settings import ServiceSettings

__all__ = ["create_worker_app", "serve"]

Hook = Callable[[], Awaitable[None]]


def create_worker_app(
    broker: RabbitBroker,
    *,
    on_startup: Sequence[Hook] = (),
    on_shutdown: Sequence[Hook] = (),
) -> AsgiFastStream:
    """A FastStream app with ``/health`` (alive) and ``/ready`` (broker reachable); ``serve``
    puts ``/metrics`` on a port of its own."""

    @get(include_in_schema=False)
    async def health(scope: object) -> AsgiResponse:  # noqa: ARG001
        return AsgiResponse(b"ok", 200)

    async def connect_and_declare() -> None:
        await broker.connect()
        await declare_topology(broker)

    return AsgiFastStream(
        broker,
        asgi_routes=[
            ("/health", health),
            ("/ready", make_ping_asgi(broker, timeout=5.0, include_in_schema=False)),
        ],
        on_startup=[connect_and_declare, *on_startup],
        on_shutdown=list(on_shutdown),
        logger=logging.getLogger("faststream"),
    )


def serve(app: object, settings: ServiceSettings, service: str) -> None:
    """Run ``app`` under uvicorn with JSON logs, until SIGTERM or SIGINT; slow clients are cut
    off (``common.connections``) and every answer says ``X-Content-Type-Options: nosniff``.
    ``/metrics`` answers on ``settings.metrics_address``, a listener of its own."""
    configure_logging(service, settings.log_level)
    if (metrics := settings.metrics_address) is not None:
        # prometheus_client's own server, in a thread: the metrics of every library this
        # process registers (its default registry), and not on the service's port
        start_http_server(metrics[1], addr=metrics[0])
    # proxy_headers off: uvicorn would otherwise take the client's address from X-Forwarded-For
    # of any loopback peer; the services decide whom to believe (their trusted_proxies settings)
    uvicorn.run(
        app,  # type: ignore[arg-type]
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        http=timed_h11(
            settings.http_header_timeout_seconds, settings.http_body_timeout_seconds, settings.http_body_min_bytes
        ),
        # browsers must take every answer for the type it says it is (no sniffing a JSON or
        # an MP3 as HTML); on the server, so errors and every service's answers carry it too
        headers=[("X-Content-Type-Options", "nosniff")],
        proxy_headers=False,
    )
