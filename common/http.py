"""What every Litestar service shares: health, readiness, metrics and problem+json errors."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

from litestar import Request, Response, get, route
from litestar.config.app import AppConfig
from litestar.exceptions import HTTPException, ServiceUnavailableException
from litestar.handlers import HTTPRouteHandler
from litestar.plugins import InitPlugin
from litestar.plugins.prometheus import PrometheusConfig
from pydantic import BaseModel, Field

from common.problems import UNEXPECTED, FieldWords, missing_parameter, plain_detail

__all__ = [
    "PROBLEM_MEDIA_TYPE",
    "FieldError",
    "Problem",
    "health_routes",
    "log_exception",
    "metrics_middleware",
    "options_routes",
    "problem_details",
    "problem_response",
]

log = logging.getLogger(__name__)

Check = Callable[[], Awaitable[Any]]

PROBLEM_MEDIA_TYPE = "application/problem+json"


class FieldError(BaseModel):
    """One reason a request's input was refused."""

    field: str | None = Field(description="The parameter or form field at fault, if one is.", examples=["limit"])
    message: str = Field(description="What is wrong with it.", examples=["Expected `int`, got `str`"])
    source: str | None = Field(
        default=None, description="Where the field was: `path`, `query`, `header`, `body`.", examples=["query"]
    )


class Problem(BaseModel):
    """An RFC 9457 problem: the body of every 4xx and 5xx answer (`application/problem+json`)."""

    type: str = Field(default="about:blank", description="URI of the problem type; `about:blank` is the HTTP status.")
    title: str = Field(description="The HTTP reason phrase of `status`.", examples=["Not Found"])
    status: int = Field(ge=400, le=599, description="The HTTP status code.", examples=[404])
    detail: str = Field(
        description="What went wrong and what to do, in plain words to show people as they are "
        "(programs read `type`, `status` and `errors`).",
        examples=["No job 3f0c... in your account: it was deleted, or the id is mistyped."],
    )
    instance: str = Field(description="The path of the request that failed.", examples=["/v1/jobs/3f0c..."])
    errors: list[FieldError] | None = Field(default=None, description="Each invalid input, for validation problems.")


def health_routes(ready: Sequence[Check] = ()) -> list[HTTPRouteHandler]:
    """``/health`` (the process answers) and ``/ready`` (its dependencies answer). ``/metrics``
    is not among them: ``common.service.serve`` puts it on a port of its own."""

    @get("/health", include_in_schema=False, sync_to_thread=False)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @get("/ready", include_in_schema=False)
    async def readiness() -> dict[str, str]:
        for check in ready:
            try:
                await check()
            except Exception as error:
                log.warning("not ready: %s failed: %s", getattr(check, "__name__", check), error)
                raise ServiceUnavailableException(
                    "Not ready: a service this one needs does not answer (the log says which)."
                ) from error
        return {"status": "ready"}

    return [health, readiness]


def options_routes(handlers: Iterable[HTTPRouteHandler]) -> list[HTTPRouteHandler]:
    """``OPTIONS`` handlers naming every method of each path that has several handlers.

    Litestar's automatic one is made with the path's first handler and keeps answering its
    methods alone (``Allow: GET, OPTIONS`` where ``DELETE`` is served too).
    """
    methods: dict[str, set[str]] = {}
    for handler in handlers:
        for path in handler.paths:
            methods.setdefault(path, set()).update(handler.http_methods)

    def allow(path: str, allowed: set[str]) -> HTTPRouteHandler:
        @route(path, http_method=["OPTIONS"], include_in_schema=False, status_code=204, sync_to_thread=False)
        def options() -> Response[None]:
            return Response(
                None, status_code=204, headers={"Allow": ", ".join(sorted(allowed))}, media_type="text/plain"
            )

        return options

    return [
        allow(path, allowed | {"OPTIONS"})
        for path, allowed in methods.items()
        if len(allowed) > 1 and "OPTIONS" not in allowed
    ]


def metrics_middleware(service: str) -> Any:
    """Request counters and duration histograms per route template (``http_requests_total``...).

    Labels carry the route's path template (``/v1/jobs/{job_id:uuid}``), never the raw path;
    requests no route matches are not counted, so fuzzed URLs cannot grow the label set.
    """
    return PrometheusConfig(
        app_name=service, prefix="http", group_path=True, exclude=["/metrics", "/health"]
    ).middleware


def _field_errors(extra: object) -> list[dict[str, Any]] | None:
    """Litestar's validation ``extra`` (``[{key, message, source}]``) or ours (``{"errors": [...]}``)."""
    if isinstance(extra, Mapping):
        extra = extra.get("errors")
    if not isinstance(extra, list) or not extra:
        return None
    errors = []
    for item in extra:
        if isinstance(item, Mapping):
            errors.append(
                FieldError(
                    field=_text(item.get("field", item.get("key"))),
                    message=str(item.get("message", "invalid")),
                    source=_text(item.get("source")),
                ).model_dump()
            )
    return errors or None


def _text(value: object) -> str | None:
    return None if value is None else str(getattr(value, "value", value))  # enums (ParamType) by value


def problem_response(
    request: Request[Any, Any, Any],
    status_code: int,
    detail: str,
    *,
    headers: Mapping[str, str] | None = None,
    errors: list[dict[str, Any]] | None = None,
    problem_type: str | None = None,
    title: str | None = None,
) -> Response[dict[str, Any]]:
    """A ``Problem`` answer: ``title`` is the reason phrase (unless a ``problem_type`` has its
    own), ``detail`` says what happened."""
    if title is None or problem_type is None:
        try:
            title = HTTPStatus(status_code).phrase
        except ValueError:
            title = "Error"
    body: dict[str, Any] = {
        "type": problem_type or "about:blank",
        "title": title,
        "status": status_code,
        "detail": detail or title,
        "instance": request.url.path,
    }
    if errors:
        body["errors"] = errors
    return Response(body, status_code=status_code, media_type=PROBLEM_MEDIA_TYPE, headers=dict(headers or {}))


def _from_http_exception(
    request: Request[Any, Any, Any], error: HTTPException, words: FieldWords
) -> Response[dict[str, Any]]:
    errors = _field_errors(error.extra)
    if errors is None and (missing := missing_parameter(error)) is not None:
        errors = [FieldError.model_validate(missing).model_dump()]
    return problem_response(
        request,
        error.status_code,
        plain_detail(error, errors, request.method, words),
        headers=error.headers,
        errors=errors,
        # Litestar's ProblemDetailsException may name a problem type of its own
        problem_type=getattr(error, "type_", None),
        title=getattr(error, "title", None),
    )


def _from_unexpected(request: Request[Any, Any, Any], _error: Exception) -> Response[dict[str, Any]]:
    return problem_response(request, 500, UNEXPECTED)


class _ProblemDetails(InitPlugin):
    def __init__(self, words: FieldWords) -> None:
        self._words = words

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        words = self._words

        def from_http_exception(request: Request[Any, Any, Any], error: HTTPException) -> Response[dict[str, Any]]:
            return _from_http_exception(request, error, words)

        app_config.exception_handlers[HTTPException] = from_http_exception
        app_config.exception_handlers[Exception] = _from_unexpected
        return app_config


def problem_details(field_words: FieldWords | None = None) -> InitPlugin:
    """Every 4xx and 5xx, Litestar's own (validation, unknown route, wrong method) included, as
    one RFC 9457 ``application/problem+json`` shape: ``Problem``, whose ``detail`` is for people
    (``field_words``: what a good value of each input is, for Litestar's validation errors)."""
    return _ProblemDetails(field_words or {})


async def log_exception(error: Exception, scope: Any) -> None:
    """Log unexpected errors (clients get a problem+json 500 without the details)."""
    if isinstance(error, HTTPException) and error.status_code < 500:
        return
    request: Request[Any, Any, Any] = Request(scope)
    log.error("%s %s failed", request.method, request.url.path, exc_info=error)
