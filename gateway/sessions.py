"""``/v1/auth/refresh``, ``/v1/auth/logout`` and ``/v1/auth/password``: keeping a session,
ending it, and changing the password (which ends every session). The auth service decides;
these routes carry the refresh token between the body or cookie and it."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
from litestar import Request, Response, post
from litestar.di import NamedDependency
from litestar.exceptions import NotAuthorizedException
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import Body

from auth.schemas import PasswordChange, RefreshRequest, TokenResponse
from auth.tokens import Principal
from gateway import openapi as docs
from gateway.login import (
    CLEAR_COOKIE_HEADERS,
    COOKIE_HEADERS,
    REFRESH_COOKIE,
    auth_operation,
    auth_problems,
    call_auth,
    clear_cookie,
    client_headers,
    login,
    token_response,
    token_spec,
)
from gateway.settings import GatewaySettings
from gateway.wording import LOGIN_UNAVAILABLE

__all__ = ["AUTH_ROUTES", "change_password", "logout", "refresh"]

_TOKEN = "q0Nq3m1o1qVQ6iVJ3a6mJ3cVtX8yqgW1bF2o2GZ6d5E"  # noqa: S105 (an example for the docs)
_REFRESH_BODY = Example(summary="a refresh token (programs)", value={"refresh_token": _TOKEN})
_OPTIONAL_BODY = (
    "The refresh token, for programs. Leave the body out to use the `vidmp3_refresh` cookie (web pages);"
    " a token in the body wins over the cookie."
)


def _presented_token(request: Request[Any, Any, Any], data: RefreshRequest | None) -> str | None:
    if data is not None:
        return data.refresh_token
    cookie = request.cookies.get(REFRESH_COOKIE, "").strip('"')
    return cookie or None


@post(
    "/v1/auth/refresh",
    status_code=200,
    tags=["auth"],
    summary="Get new tokens",
    description="""\
Exchange the refresh token (in the body, or the `vidmp3_refresh` cookie when there is no body)
for a new access token and a new refresh token. The answer has the login's shape, and sets the
cookie again.

Call it when the access token has expired, or is about to. The refresh token sent is used up:
keep the new one. A used refresh token sent again ends its whole session, so whoever holds a
copy is cut off too; within a few seconds of its first use it still gets tokens of the same
session, as when two tabs refresh at once. 401 with a `detail` saying why when no new tokens
are given (unknown, expired, used, or the session ended: signed out, password changed,
account disabled): then log in again.
""",
    operation_class=auth_operation(
        body_examples={"token": _REFRESH_BODY}, headers={"200": COOKIE_HEADERS}, body_required=False
    ),
    responses={
        200: token_spec("New tokens: a new access token and a new refresh token (also set as the cookie)."),
        **auth_problems(
            "/v1/auth/refresh",
            {
                400: ("The body is not a refresh token.", "Send the refresh token you were given, or log in again."),
                401: (
                    "No refresh token, or one that gives no more tokens (unknown, expired, already used, or its "
                    "session ended); the cookie is removed. Log in again.",
                    "This refresh token had already been used, so the session was ended to protect the account:"
                    " log in again.",
                ),
                503: ("The sign-in service is unreachable.", LOGIN_UNAVAILABLE),
            },
        ),
    },
)
async def refresh(
    request: Request[Any, Any, Any],
    http: NamedDependency[httpx.AsyncClient],
    settings: NamedDependency[GatewaySettings],
    data: Annotated[RefreshRequest | None, Body(description=_OPTIONAL_BODY, examples=[_REFRESH_BODY])] = None,
) -> Response[TokenResponse]:
    """Exchange the refresh token for new tokens (rotation)."""
    token = _presented_token(request, data)
    if token is None:
        raise NotAuthorizedException(
            f"No refresh token came with this request: send it in the body or the {REFRESH_COOKIE} cookie,"
            " or log in again.",
            headers={"Set-Cookie": clear_cookie()},
        )
    response = await call_auth(
        http, settings, "/v1/refresh", {"refresh_token": token}, clear_cookie_on=frozenset({400, 401})
    )
    return token_response(response)


@post(
    "/v1/auth/logout",
    status_code=204,
    tags=["auth"],
    summary="Log out",
    description="""\
End the session of the refresh token (in the body, or the `vidmp3_refresh` cookie when there is
no body): its refresh tokens stop working at once, its access tokens within seconds, and the
cookie is removed. Other sessions of the account (other devices) go on.

204 also when no token is sent, or its session had already ended: nothing is left to end.
""",
    operation_class=auth_operation(
        body_examples={"token": _REFRESH_BODY}, headers={"204": CLEAR_COOKIE_HEADERS}, body_required=False
    ),
    responses={
        204: ResponseSpec(None, description="The session has ended and the cookie is removed."),
        **auth_problems(
            "/v1/auth/logout",
            {
                400: ("The body is not a refresh token.", "Send the refresh token you were given, or log in again."),
                503: (
                    "The sign-in service is unreachable: the session goes on; try again.",
                    LOGIN_UNAVAILABLE,
                ),
            },
        ),
    },
)
async def logout(
    request: Request[Any, Any, Any],
    http: NamedDependency[httpx.AsyncClient],
    settings: NamedDependency[GatewaySettings],
    data: Annotated[RefreshRequest | None, Body(description=_OPTIONAL_BODY, examples=[_REFRESH_BODY])] = None,
) -> Response[None]:
    """End the session of the refresh token (body or cookie)."""
    token = _presented_token(request, data)
    if token is not None:
        await call_auth(http, settings, "/v1/logout", {"refresh_token": token})
    return Response(None, status_code=204, headers={"Set-Cookie": clear_cookie()})


# not the test suites' default password: fuzzers send documented examples as they are
_PASSWORD_BODY = Example(
    summary="a new password",
    value={"current_password": "my current passphrase", "new_password": "a longer and newer passphrase"},
)


@post(
    "/v1/auth/password",
    status_code=204,
    opt={"api_keys": False},
    tags=["auth"],
    summary="Change your password",
    description="""\
Change the caller's password: needs the current one as well as the bearer token (a stolen
token alone must not do).

Every session of the account ends, this one included: its refresh tokens stop at once and its
access tokens within seconds, and the cookie is removed. Log in again with the new password.
A wrong current password counts towards the account's limit on failed attempts, as a failed
login does.
""",
    security=docs.SECURITY,
    operation_class=auth_operation(body_examples={"change": _PASSWORD_BODY}, headers={"204": CLEAR_COOKIE_HEADERS}),
    responses={
        204: ResponseSpec(None, description="The password is changed and every session has ended: log in again."),
        **auth_problems(
            "/v1/auth/password",
            {
                400: (
                    "The body is not a current and a new password of at least 8 characters.",
                    "Choose a new password of at least 8 characters.",
                ),
                401: ("No valid bearer token.", "Log in first: this needs your access token."),
                403: ("The current password is wrong.", "The current password is wrong: type it again."),
                429: (
                    "Too many attempts; retry after `Retry-After` seconds.",
                    "Too many attempts for this account: wait a few minutes, then try again.",
                ),
                503: ("The sign-in service is unreachable.", LOGIN_UNAVAILABLE),
            },
        ),
    },
)
async def change_password(
    request: Request[Any, Any, Any],
    data: Annotated[
        PasswordChange, Body(description="The current password and the new one.", examples=[_PASSWORD_BODY])
    ],
    principal: NamedDependency[Principal],  # noqa: ARG001 (a valid, unrevoked token is required)
    http: NamedDependency[httpx.AsyncClient],
    settings: NamedDependency[GatewaySettings],
) -> Response[None]:
    """Change the caller's password; every session of the account ends."""
    headers = {"Authorization": request.headers.get("authorization", ""), **client_headers(request, settings)}
    await call_auth(http, settings, "/v1/me/password", data.model_dump(), headers=headers)
    return Response(None, status_code=204, headers={"Set-Cookie": clear_cookie()})


AUTH_ROUTES: list[HTTPRouteHandler] = [login, refresh, logout, change_password]
"""Every ``/v1/auth`` route."""
