"""The web page: a plain HTML page and a small ES module over the public API (sign in,
resumable uploads, live job states, downloads), served by the gateway with no build step.

The page, its files and the options' JSON schema are not part of the API, so they are left
out of the OpenAPI document.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import MediaType, Response, get
from litestar.datastructures import CacheControlHeader
from litestar.handlers import HTTPRouteHandler
from litestar.router import Router
from litestar.static_files import create_static_files_router

from contracts import ConversionOptions

__all__ = ["WEB_DIR", "web_routes"]

WEB_DIR = Path(__file__).with_name("web")

_SECURITY_HEADERS = {
    # everything the page loads is its own; no inline script or style, no framing
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


@get(["/", "/app"], include_in_schema=False, media_type=MediaType.HTML, sync_to_thread=False)
def web_page() -> Response[bytes]:
    """The single page (it reads ``/app/static/app.js``)."""
    return Response((WEB_DIR / "index.html").read_bytes(), media_type=MediaType.HTML, headers=_SECURITY_HEADERS)


@get("/app/options.json", include_in_schema=False, sync_to_thread=False)
def option_schema() -> Response[dict[str, Any]]:
    """The conversion options' JSON schema: the page builds its form from it, so an option
    added to ``ConversionOptions`` shows up there without touching the page."""
    return Response(ConversionOptions.model_json_schema(), headers={"Cache-Control": "no-cache"})


def web_routes() -> list[HTTPRouteHandler | Router]:
    static = create_static_files_router(
        path="/app/static",
        directories=[WEB_DIR / "static"],
        include_in_schema=False,
        cache_control=CacheControlHeader(no_cache=True),
        name="web",
    )
    return [web_page, option_schema, static]
