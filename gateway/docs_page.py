"""The REST API's page, ``/docs`` (also ``/docs/swagger``): Swagger UI, served by the gateway
from the files the pinned ``swagger-ui-py`` package installs, so it renders where there is no
internet and asks no other site for anything (its Content-Security-Policy says ``'self'``)."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import swagger_ui
from litestar import Request, Router, get
from litestar.exceptions import NotFoundException
from litestar.openapi.plugins import OpenAPIRenderPlugin
from litestar.params import FromPath
from litestar.response import File, Response

__all__ = ["ASSETS", "CONTENT_SECURITY_POLICY", "SwaggerPage"]

ASSETS = Path(swagger_ui.__file__).parent / "static"
"""Swagger UI's distribution files, as the package installs them."""

_SERVED = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon-32x32.png": "image/png",
}

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; connect-src 'self'; img-src 'self' data:; "
    # Swagger UI sets style attributes from React
    "style-src 'self' 'unsafe-inline'; font-src 'self'; base-uri 'none'; form-action 'none'"
)

# Our own start-up script (a file, not inline, so the policy can forbid inline scripts)
_START = """\
"use strict";
window.addEventListener("DOMContentLoaded", () => {
  window.ui = SwaggerUIBundle({
    url: document.body.dataset.openapi,
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    tryItOutEnabled: false,
    persistAuthorization: false,
    defaultModelsExpandDepth: 0,
    docExpansion: "list",
  });
});
"""


class SwaggerPage(OpenAPIRenderPlugin):
    """Swagger UI at the documentation's root and ``/swagger``, its files under ``/static``."""

    def __init__(self) -> None:
        super().__init__(path=["/", "/swagger"], favicon="", style="")

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        title = html.escape(str(openapi_schema["info"]["title"]))
        static = request.app.route_reverse("docs_asset", file="x").removesuffix("x")
        spec = html.escape(self.get_openapi_json_route(request))
        return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}: REST API</title>
<link rel="icon" type="image/png" href="{static}favicon-32x32.png">
<link rel="stylesheet" href="{static}swagger-ui.css">
<script src="{static}swagger-ui-bundle.js" defer></script>
<script src="{static}vidmp3-docs.js" defer></script>
</head>
<body data-openapi="{spec}">
<noscript><p>This page needs JavaScript. The API document itself is at <a href="{spec}">{spec}</a>,
and the events are described at <a href="asyncapi">/docs/asyncapi</a>.</p></noscript>
<div id="swagger-ui"></div>
</body>
</html>
""".encode()

    def receive_router(self, router: Router) -> None:
        router.register(docs_asset)


@get("/static/{file:str}", name="docs_asset", include_in_schema=False, sync_to_thread=False)
def docs_asset(file: FromPath[str]) -> Response[Any]:
    """One of Swagger UI's files, or the start-up script."""
    cache = {"Cache-Control": "public, max-age=3600"}
    if file == "vidmp3-docs.js":
        return Response(_START, media_type="text/javascript; charset=utf-8", headers=cache)
    if file not in _SERVED:
        raise NotFoundException(f"There is no documentation file named {file}.")
    return File(ASSETS / file, content_disposition_type="inline", media_type=_SERVED[file], headers=cache)
