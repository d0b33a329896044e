"""The auth API's API-key routes: a signed-in user creates, lists and revokes their own keys;
verifiers (the gateway) ask who a key speaks for."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import cast

from litestar import delete, get, post
from litestar.di import NamedDependency
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from auth.apikeys import ApiKey, ApiKeys, KeyRefused
from auth.schemas import ApiKeyList, ApiKeyView, CreatedApiKey, KeyCheck, KeyHolderView, KeyVerdict, NewApiKey, Scope
from auth.tokens import Principal
from auth.web import problems

__all__ = ["KEY_ROUTES"]

log = logging.getLogger(__name__)


def _time(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


def _view(key: ApiKey) -> ApiKeyView:
    return ApiKeyView(
        id=key.id,
        name=key.name,
        scopes=cast(list[Scope], list(key.scopes)),  # only SCOPES are stored
        prefix=key.prefix,
        created_at=datetime.fromtimestamp(key.created_at, UTC),
        expires_at=_time(key.expires_at),
        last_used_at=_time(key.last_used_at),
    )


def _owner(principal: Principal) -> int:
    # a person's access token (keys never reach auth: the gateway refuses them on these routes)
    return int(principal.user_id)


@post("/v1/keys", status_code=HTTP_201_CREATED, tags=["keys"])
async def create_key(
    data: JSONBody[NewApiKey], principal: NamedDependency[Principal], api_keys: NamedDependency[ApiKeys]
) -> CreatedApiKey:
    """Create an API key for the caller; the answer holds the key, shown this once. 409 when the
    caller already has as many keys as they may."""
    user_id = _owner(principal)
    expires_at = None
    if data.expires_in_days is not None:
        expires_at = datetime.now(UTC).timestamp() + data.expires_in_days * 86400
    with problems():
        issued = await api_keys.create(user_id, data.name, data.scopes, expires_at)
    log.info("user %s created API key %s", user_id, issued.key.id, extra={"key_id": issued.key.id})
    return CreatedApiKey(**_view(issued.key).model_dump(), key=issued.secret_key)


@get("/v1/keys", tags=["keys"])
async def list_keys(principal: NamedDependency[Principal], api_keys: NamedDependency[ApiKeys]) -> ApiKeyList:
    """The caller's API keys that are not revoked, newest first, without their secrets."""
    return ApiKeyList(keys=[_view(key) for key in await api_keys.list(_owner(principal))])


@delete("/v1/keys/{key_id:str}", status_code=HTTP_204_NO_CONTENT, tags=["keys"])
async def revoke_key(
    key_id: FromPath[str], principal: NamedDependency[Principal], api_keys: NamedDependency[ApiKeys]
) -> None:
    """Revoke one of the caller's API keys: refused here at once, by the gateway within seconds.
    404 if the caller has no such key."""
    user_id = _owner(principal)
    with problems():
        await api_keys.revoke(user_id, key_id)
    log.info("user %s revoked API key %s", user_id, key_id, extra={"key_id": key_id})


@post("/v1/keys/verify", status_code=HTTP_200_OK, tags=["keys"])
async def verify_key(data: JSONBody[KeyCheck], api_keys: NamedDependency[ApiKeys]) -> KeyVerdict:
    """For verifiers (the gateway): who a key speaks for and what it may do, or why it is refused.

    Always 200: `holder` for a usable key, else `refused` (`unknown`, `revoked`, `expired`,
    `disabled`). A verifier may keep an answer a few seconds, and must also refuse keys whose
    `key:<id>` the revocation log lists.
    """
    try:
        holder = await api_keys.verify(data.key)
    except KeyRefused as refused:
        return KeyVerdict.model_validate({"refused": refused.why.value})
    key = holder.key
    return KeyVerdict(
        holder=KeyHolderView(
            key_id=key.id,
            user_id=str(key.user_id),
            email=holder.email,
            scopes=cast(list[Scope], list(key.scopes)),
            expires_at=key.expires_at,
        )
    )


KEY_ROUTES: list[HTTPRouteHandler] = [create_key, list_keys, revoke_key, verify_key]
