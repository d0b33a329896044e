"""The event contracts beside the OpenAPI UI: ``/docs/asyncapi`` (a page), ``/docs/asyncapi.yaml``
and ``/docs/asyncapi.json``: the internal events between the services, over RabbitMQ; and
``/docs/webhooks/asyncapi`` (``.yaml``, ``.json``): the public events integrators receive at
their webhook endpoints.

The document is the one ``python -m common.asyncapi write`` commits as ``asyncapi.yaml``,
generated from every service's code: the image carries the code, not the file. It is built on
the first request (about a quarter of a second and a few MB) and kept. The page is rendered
here, loads nothing from elsewhere, and forbids scripts outright.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache

from litestar import Response, get
from litestar.enums import MediaType
from litestar.handlers import HTTPRouteHandler

from gateway.asyncapi_html import render_page, render_webhooks_page

__all__ = ["ASYNCAPI_ROUTES", "PAGE_LINKS", "YAML_MEDIA_TYPE", "Rendered", "rendered", "rendered_webhooks"]

YAML_MEDIA_TYPE = "application/yaml"
_PAGE_HEADERS = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"}


PAGE_LINKS = [
    ("YAML", "asyncapi.yaml"),
    ("JSON", "asyncapi.json"),
    ("REST API (OpenAPI)", "swagger"),
    ("Webhook events (what integrators receive; this page is the services' internal events)", "webhooks/asyncapi"),
]
"""What the internal events' page links to, under its title."""


@dataclass(frozen=True)
class Rendered:
    yaml: str
    json: bytes
    html: str


@cache
def rendered() -> Rendered:
    """The document in each form, built once."""
    # every service's channels: imported only when someone asks for the contract
    from common.asyncapi import document, render

    spec = document()
    return Rendered(
        yaml=render(spec),
        json=json.dumps(spec, sort_keys=True).encode(),
        html=render_page(spec, raw_links=PAGE_LINKS),
    )


@get("/docs/asyncapi", media_type=MediaType.HTML, include_in_schema=False, sync_to_thread=True)
def asyncapi_page() -> Response[str]:
    """The events as a page."""
    return Response(rendered().html, media_type=MediaType.HTML, headers=_PAGE_HEADERS)


@get("/docs/asyncapi.yaml", media_type=YAML_MEDIA_TYPE, include_in_schema=False, sync_to_thread=True)
def asyncapi_yaml() -> Response[str]:
    """The AsyncAPI document, as ``asyncapi.yaml`` holds it."""
    return Response(rendered().yaml, media_type=YAML_MEDIA_TYPE)


@get("/docs/asyncapi.json", media_type=MediaType.JSON, include_in_schema=False, sync_to_thread=True)
def asyncapi_json() -> Response[bytes]:
    """The AsyncAPI document as JSON."""
    return Response(rendered().json, media_type=MediaType.JSON)


@cache
def rendered_webhooks() -> Rendered:
    """The public webhook events' document in each form, built once."""
    from common.webhooks_asyncapi import document, render

    spec = document()
    links = [
        ("YAML", "asyncapi.yaml"),
        ("JSON", "asyncapi.json"),
        ("REST API (OpenAPI)", "../swagger"),
        ("Internal events between the services (not sent to integrators)", "../asyncapi"),
    ]
    return Rendered(
        yaml=render(spec),
        json=json.dumps(spec, sort_keys=True).encode(),
        html=render_webhooks_page(spec, raw_links=links),
    )


@get("/docs/webhooks/asyncapi", media_type=MediaType.HTML, include_in_schema=False, sync_to_thread=True)
def webhooks_page() -> Response[str]:
    """The public webhook events as a page."""
    return Response(rendered_webhooks().html, media_type=MediaType.HTML, headers=_PAGE_HEADERS)


@get("/docs/webhooks/asyncapi.yaml", media_type=YAML_MEDIA_TYPE, include_in_schema=False, sync_to_thread=True)
def webhooks_yaml() -> Response[str]:
    """The public webhook events' AsyncAPI document, as ``asyncapi.webhooks.yaml`` holds it."""
    return Response(rendered_webhooks().yaml, media_type=YAML_MEDIA_TYPE)


@get("/docs/webhooks/asyncapi.json", media_type=MediaType.JSON, include_in_schema=False, sync_to_thread=True)
def webhooks_json() -> Response[bytes]:
    """The public webhook events' AsyncAPI document as JSON."""
    return Response(rendered_webhooks().json, media_type=MediaType.JSON)


ASYNCAPI_ROUTES: list[HTTPRouteHandler] = [
    asyncapi_page,
    asyncapi_yaml,
    asyncapi_json,
    webhooks_page,
    webhooks_yaml,
    webhooks_json,
]
