"""What every Litestar service shares: health, readiness, metrics and problem+json errors."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from litestar import Request, get
from litestar.exceptions import HTTPException, ServiceUnavailableException
from litestar.handlers import HTTPRouteHandler
from litestar.plugins.problem_details import ProblemDetailsConfig, ProblemDetailsPlugin
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController

__all__ = ["health_routes", "log_exception", "metrics_middleware", "problem_details"]

log = logging.getLogger(__name__)

Check = Callable[[], Awaitable[Any]]


def health_routes(ready: Sequence[Check] = ()) -> list[HTTPRouteHandler | type[PrometheusController]]:
    """``/health`` (the process answers), ``/ready`` (its dependencies answer) and ``/metrics``."""

    @get("/health", include_in_schema=False, sync_to_thread=False)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @get("/ready", include_in_schema=False)
    async def readiness() -> dict[str, str]:
        for check in ready:
            try:
                await check()
            except Exception as error:
                raise ServiceUnavailableException(f"a dependency is unreachable: {error}") from error
        return {"status": "ready"}

    return [health, readiness, PrometheusController]


def metrics_middleware(service: str) -> Any:
    """Request counters and duration histograms per route template (``http_requests_total``...)."""
    return PrometheusConfig(
        app_name=service, prefix="http", group_path=True, exclude=["/metrics", "/health"]
    ).middleware


def problem_details() -> ProblemDetailsPlugin:
    """Every HTTP error as an RFC 9457 ``application/problem+json`` body."""
    return ProblemDetailsPlugin(ProblemDetailsConfig(enable_for_all_http_exceptions=True))


async def log_exception(error: Exception, scope: Any) -> None:
    """Log unexpected errors (clients get a problem+json 500 without the details)."""
    if isinstance(error, HTTPException) and error.status_code < 500:
        return
    request: Request[Any, Any, Any] = Request(scope)
    log.error("%s %s failed", request.method, request.url.path, exc_info=error)
