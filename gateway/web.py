"""The web page: plain HTML and ES modules over the public API (sign in, resumable uploads,
live job states, a player, downloads through signed links), served by the gateway with no
build step. Its one library, tus-js-client, comes from npm (``package.json`` and its lock;
``scripts/web-assets`` runs ``npm ci``) and is served from ``node_modules``: no CDN, nothing
third-party copied into the repository.

The page, its files and the JSON it reads are not part of the API, so they are left out of
the OpenAPI document.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from uuid import UUID

from litestar import MediaType, Response, get
from litestar.datastructures import CacheControlHeader
from litestar.exceptions import NotFoundException
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath
from litestar.router import Router
from litestar.static_files import create_static_files_router

from common.failure_texts import failure_texts
from contracts import ConversionOptions

__all__ = ["DEFAULT_MODULES_DIR", "VENDORED", "WEB_DIR", "web_routes"]

log = logging.getLogger(__name__)

WEB_DIR = Path(__file__).with_name("web")
DEFAULT_MODULES_DIR = Path(__file__).parents[1] / "node_modules"
"""Where ``npm ci`` puts the libraries in a checkout (``VIDMP3_WEB_MODULES_DIR`` moves it)."""

VENDORED = {"tus.min.js": Path("tus-js-client/dist/tus.min.js")}
"""The files of ``node_modules`` the page loads, by the name it asks for under ``/app/vendor/``."""

_SECURITY_HEADERS = {
    # everything the page loads is its own; no inline script or style, no framing
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        "media-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def _page() -> Response[bytes]:
    return Response((WEB_DIR / "index.html").read_bytes(), media_type=MediaType.HTML, headers=_SECURITY_HEADERS)


@get(["/", "/app"], include_in_schema=False, media_type=MediaType.HTML, sync_to_thread=False)
def web_page() -> Response[bytes]:
    """The single page (it reads ``/app/static/app.js``)."""
    return _page()


@get("/jobs/{job_id:uuid}", include_in_schema=False, media_type=MediaType.HTML, sync_to_thread=False)
def job_page(job_id: FromPath[UUID]) -> Response[bytes]:  # noqa: ARG001 (the page reads the id from its address)
    """The page, opening one job once signed in: the emails link here."""
    return _page()


@get("/app/options.json", include_in_schema=False, sync_to_thread=False)
def option_schema() -> Response[dict[str, Any]]:
    """The conversion options' JSON schema: the page takes the choices (bitrates, sample
    rates) and bounds of its custom settings from it."""
    return Response(ConversionOptions.model_json_schema(), headers={"Cache-Control": "no-cache"})


@get("/app/failures.json", include_in_schema=False, sync_to_thread=False)
def failure_words() -> Response[dict[str, dict[str, str]]]:
    """Why a job failed and what to try, per failure reason, in the words the emails use."""
    return Response(failure_texts(), headers={"Cache-Control": "no-cache"})


def _vendor_route(modules_dir: Path) -> HTTPRouteHandler:
    missing = [str(modules_dir / path) for path in VENDORED.values() if not (modules_dir / path).is_file()]
    if missing:
        log.error("the web page's libraries are missing (%s): run scripts/web-assets (npm ci)", ", ".join(missing))

    @get("/app/vendor/{name:str}", include_in_schema=False, sync_to_thread=True)
    def vendored(name: FromPath[str]) -> Response[bytes]:
        """A library file installed by npm (an allow-list: nothing else of node_modules is served)."""
        path = VENDORED.get(name)
        if path is None or not (modules_dir / path).is_file():
            raise NotFoundException(f"no file {name}: run scripts/web-assets (npm ci)")
        return Response(
            (modules_dir / path).read_bytes(),
            media_type="text/javascript; charset=utf-8",
            headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
        )

    return vendored


def web_routes(modules_dir: Path | None = None) -> list[HTTPRouteHandler | Router]:
    static = create_static_files_router(
        path="/app/static",
        directories=[WEB_DIR / "static"],
        include_in_schema=False,
        cache_control=CacheControlHeader(no_cache=True),
        name="web",
    )
    vendored = _vendor_route(modules_dir or DEFAULT_MODULES_DIR)
    return [web_page, job_page, option_schema, failure_words, vendored, static]
