"""``/v1/keys``: a person creates, lists and revokes their API keys. The auth service keeps
them; these routes carry the caller's access token to it. An API key cannot manage keys."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
from litestar import Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import Body, PathParameter

from auth.schemas import API_KEY_EXAMPLE, ApiKeyList, CreatedApiKey, NewApiKey
from auth.tokens import Principal
from gateway import openapi as docs
from gateway.login import call_auth
from gateway.settings import GatewaySettings
from gateway.wording import KEYS_NEED_PERSON, LOGIN_UNAVAILABLE

__all__ = ["KEY_ROUTES"]

_KEY_ID = "3f9a0c2e4b71"
_PERSON_ONLY = {"api_keys": False}
_KEY_VIEW = {
    "id": _KEY_ID,
    "name": "nightly backup script",
    "scopes": ["jobs:read", "jobs:write"],
    "prefix": "vmk_3f9a0c2e4b71_kq0N",
    "created_at": "2026-05-04T10:15:30.123000Z",
    "expires_at": "2026-08-02T10:15:30.123000Z",
    "last_used_at": "2026-05-04T11:02:00.000000Z",
}
_NEW_KEY = Example(
    summary="a key for a script, reading and writing jobs, for 90 days",
    value={"name": "nightly backup script", "scopes": ["jobs:read", "jobs:write"], "expires_in_days": 90},
)
_READ_ONLY = Example(summary="a key that only reads jobs", value={"name": "status board", "scopes": ["jobs:read"]})
_TOO_MANY = "You already have 20 API keys, the most you may have: revoke one you no longer use."
_NO_SUCH_KEY = "You have no API key with this id (it may have been revoked already)."

KeyId = Annotated[
    str,
    PathParameter(
        pattern=r"^[0-9a-f]{12}$",
        description="The key's id, as the list of keys shows it.",
        examples=[Example(value=_KEY_ID)],
    ),
]


def _bearer(request: Request[Any, Any, Any]) -> dict[str, str]:
    return {"Authorization": request.headers.get("authorization", "")}


@post(
    "/v1/keys",
    status_code=201,
    security=docs.SECURITY,
    tags=["keys"],
    summary="Create an API key",
    opt=_PERSON_ONLY,
    operation_class=docs.documented(body_examples={"both": _NEW_KEY, "read": _READ_ONLY}),
    responses={
        201: ResponseSpec(
            CreatedApiKey,
            description="The new key; `key` is shown this once.",
            generate_examples=False,
            examples=[Example(summary="a new key", value={**_KEY_VIEW, "last_used_at": None, "key": API_KEY_EXAMPLE})],
        ),
        **docs.problems(
            "/v1/keys",
            {403: KEYS_NEED_PERSON, 409: _TOO_MANY, 503: LOGIN_UNAVAILABLE},
        ),
    },
)
async def create_key(
    request: Request[Any, Any, Any],
    data: Annotated[NewApiKey, Body(description="The key's name, scopes and lifetime.", examples=[_NEW_KEY])],
    principal: NamedDependency[Principal],  # noqa: ARG001 (a person's valid, unrevoked token is required)
    http: NamedDependency[httpx.AsyncClient],
    settings: NamedDependency[GatewaySettings],
) -> Response[CreatedApiKey]:
    """Create an API key for programs: send it as `Authorization: Bearer <key>` on any job route.

    The answer holds the key itself, shown this once and stored only as a hash: copy it now. A
    key may do what its scopes say: `jobs:read` (job status, lists, downloads, streams) and
    `jobs:write` (uploads, cancel, delete), both by default; it never has an admin's rights and
    cannot manage keys or change a password (403). It lasts until revoked, or
    `expires_in_days`. Each key is limited in requests per minute (429 with `Retry-After`).
    Keys are created by a person signed in with their password; 409 beyond 20 keys.
    """
    response = await call_auth(http, settings, "/v1/keys", data.model_dump(), headers=_bearer(request))
    created = CreatedApiKey.model_validate_json(response.content)
    # the body holds a credential: no cache may keep it
    return Response(created, status_code=201, headers={"Cache-Control": "no-store"})


@get(
    "/v1/keys",
    security=docs.SECURITY,
    tags=["keys"],
    summary="List your API keys",
    opt=_PERSON_ONLY,
    responses={
        200: ResponseSpec(
            ApiKeyList,
            description="Your keys that are not revoked, newest first, without their secrets.",
            generate_examples=False,
            examples=[Example(summary="one key", value={"keys": [_KEY_VIEW]})],
        ),
        **docs.problems("/v1/keys", {403: KEYS_NEED_PERSON, 503: LOGIN_UNAVAILABLE}),
    },
)
async def list_keys(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],  # noqa: ARG001
    http: NamedDependency[httpx.AsyncClient],
    settings: NamedDependency[GatewaySettings],
) -> ApiKeyList:
    """Your API keys that are not revoked, newest first: name, scopes, the key's first characters
    (to recognize it), when it was created, expires and was last used (to the minute)."""
    response = await call_auth(http, settings, "/v1/keys", None, headers=_bearer(request), method="GET")
    return ApiKeyList.model_validate_json(response.content)


@delete(
    "/v1/keys/{key_id:str}",
    security=docs.SECURITY,
    tags=["keys"],
    summary="Revoke an API key",
    opt=_PERSON_ONLY,
    responses={
        204: docs.no_content("The key is revoked."),
        **docs.problems("/v1/keys/{key_id}", {403: KEYS_NEED_PERSON, 404: _NO_SUCH_KEY, 503: LOGIN_UNAVAILABLE}),
    },
)
async def revoke_key(
    request: Request[Any, Any, Any],
    key_id: KeyId,
    principal: NamedDependency[Principal],  # noqa: ARG001
    http: NamedDependency[httpx.AsyncClient],
    settings: NamedDependency[GatewaySettings],
) -> None:
    """Revoke one of your API keys: it is refused within seconds, everywhere. 404 if you have no
    such key (or it was revoked already)."""
    await call_auth(http, settings, f"/v1/keys/{key_id}", None, headers=_bearer(request), method="DELETE")


KEY_ROUTES: list[HTTPRouteHandler] = [create_key, list_keys, revoke_key]
"""Every ``/v1/keys`` route."""
