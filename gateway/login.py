"""``POST /v1/auth/login``, and what every ``/v1/auth`` route shares: the call to the auth
service, its answers as problems, and the refresh token's cookie.

The refresh token travels two ways. In the JSON body, for programs (the CLI keeps it). And in
the ``vidmp3_refresh`` cookie, for the web page: ``HttpOnly`` (scripts cannot read it),
``Secure``, ``SameSite=Strict`` (no other site's page can make the browser send it) and
``Path=/v1/auth`` (sent to the refresh and logout routes only, never with an upload).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Annotated, Any

import httpx
from litestar import Request, Response, post
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException, ServiceUnavailableException
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import Example, OpenAPIHeader, OpenAPIResponse, Operation, RequestBody, Schema
from litestar.openapi.spec.enums import OpenAPIType
from litestar.params import Body

from auth.addresses import client_address
from auth.schemas import LoginRequest, TokenResponse
from common.http import PROBLEM_MEDIA_TYPE, Problem
from gateway.settings import GatewaySettings
from gateway.wording import LOGIN_BUSY, LOGIN_UNAVAILABLE, WRONG_LOGIN, too_many_logins

__all__ = [
    "REFRESH_COOKIE",
    "auth_operation",
    "auth_problems",
    "call_auth",
    "clear_cookie",
    "client_headers",
    "login",
    "refresh_cookie",
    "token_response",
    "token_spec",
]

log = logging.getLogger(__name__)

REFRESH_COOKIE = "vidmp3_refresh"
_COOKIE_PATH = "/v1/auth"

_TOKEN_EXAMPLE = {
    "access_token": "eyJhbGciOiJFZERTQSIsImtpZCI6Ii4uLiJ9...",
    "token_type": "Bearer",
    "expires_in": 900,
    "refresh_token": "q0Nq3m1o1qVQ6iVJ3a6mJ3cVtX8yqgW1bF2o2GZ6d5E",
    "refresh_expires_in": 2592000,
}


def refresh_cookie(token: str, max_age: int) -> str:
    """The ``Set-Cookie`` value holding a refresh token (URL-safe base64: nothing to quote)."""
    return f"{REFRESH_COOKIE}={token}; HttpOnly; Secure; SameSite=Strict; Path={_COOKIE_PATH}; Max-Age={max_age}"


def clear_cookie() -> str:
    """The ``Set-Cookie`` value that removes the refresh token's cookie."""
    return f'{REFRESH_COOKIE}=""; HttpOnly; Secure; SameSite=Strict; Path={_COOKIE_PATH}; Max-Age=0'


_SET_COOKIE_HEADER = OpenAPIHeader(
    description=(
        f"`{REFRESH_COOKIE}`: the refresh token, for the web page (`HttpOnly; Secure; SameSite=Strict;"
        f" Path={_COOKIE_PATH}; Max-Age=` its lifetime)."
    ),
    schema=Schema(type=OpenAPIType.STRING),
    example=refresh_cookie(str(_TOKEN_EXAMPLE["refresh_token"]), 2592000),
)
_CLEAR_COOKIE_HEADER = OpenAPIHeader(
    description=f"Removes the `{REFRESH_COOKIE}` cookie.",
    schema=Schema(type=OpenAPIType.STRING),
    example=clear_cookie(),
)
COOKIE_HEADERS = {"Set-Cookie": _SET_COOKIE_HEADER}
CLEAR_COOKIE_HEADERS = {"Set-Cookie": _CLEAR_COOKIE_HEADER}


def auth_operation(
    *,
    body_examples: Mapping[str, Example],
    headers: Mapping[str, Mapping[str, OpenAPIHeader]],
    body_required: bool = True,
) -> type[Operation]:
    """An ``operation_class`` adding what Litestar does not infer: the body's examples, whether
    a body is needed at all, and response headers (``Set-Cookie``) by status."""

    @dataclass
    class AuthOperation(Operation):
        def __post_init__(self) -> None:
            if isinstance(self.request_body, RequestBody):
                self.request_body.required = body_required
                for media in self.request_body.content.values():
                    media.examples = dict(body_examples)
            for status, added in headers.items():
                response = (self.responses or {}).get(status)
                if isinstance(response, OpenAPIResponse):
                    response.headers = {**(response.headers or {}), **added}

    return AuthOperation


def token_spec(description: str) -> ResponseSpec:
    return ResponseSpec(
        TokenResponse,
        description=description,
        generate_examples=False,
        examples=[Example(summary="new tokens", value=_TOKEN_EXAMPLE)],
    )


def auth_problems(path: str, details: Mapping[int, tuple[str, str]]) -> dict[int, ResponseSpec]:
    """Problem responses of one ``/v1/auth`` route: ``details`` maps a status to (when it is
    answered, an example ``detail``); the examples name this route."""
    return {
        status: ResponseSpec(
            Problem,
            description=description,
            media_type=PROBLEM_MEDIA_TYPE,
            generate_examples=False,
            examples=[
                Example(
                    summary=description,
                    value={
                        "type": "about:blank",
                        "title": HTTPStatus(status).phrase,
                        "status": status,
                        "detail": detail,
                        "instance": path,
                    },
                )
            ],
        )
        for status, (description, detail) in sorted(details.items())
    }


async def call_auth(
    http: httpx.AsyncClient,
    settings: GatewaySettings,
    path: str,
    payload: Mapping[str, Any] | None,
    *,
    headers: Mapping[str, str] | None = None,
    clear_cookie_on: frozenset[int] = frozenset(),
    words: Mapping[int, Callable[[httpx.Response], str]] | None = None,
    method: str = "POST",
) -> httpx.Response:
    """Send ``payload`` (POST unless ``method`` says otherwise) to the auth service; its 2xx
    answer, or its refusal as our problem (its own ``detail``, or what ``words`` says for that
    status), with the refresh cookie removed when the status is in ``clear_cookie_on``."""
    try:
        response = await http.request(
            method,
            f"{settings.auth_url}{path}",
            json=None if payload is None else dict(payload),
            headers=dict(headers or {}),
        )
    except httpx.HTTPError as error:
        raise ServiceUnavailableException(LOGIN_UNAVAILABLE) from error
    status = response.status_code
    if status < 300:
        return response
    extra = {"Set-Cookie": clear_cookie()} if status in clear_cookie_on else {}
    said = (words or {}).get(status)
    if status == 429:
        raise HTTPException(
            status_code=429,
            detail=said(response) if said else _detail(response, "too many attempts; try again later"),
            headers={"Retry-After": response.headers.get("retry-after", "60"), **extra},
        )
    if status in (400, 401, 403, 404, 409):
        detail = said(response) if said else _detail(response, HTTPStatus(status).phrase)
        raise HTTPException(status_code=status, detail=detail, headers=extra)
    if status == 503 and "retry-after" in response.headers:  # busy checking passwords: it says when to come back
        raise ServiceUnavailableException(LOGIN_BUSY, headers={"Retry-After": response.headers["retry-after"]})
    log.warning("the auth service answered %s %s", path, status)
    raise ServiceUnavailableException(LOGIN_UNAVAILABLE)


def _detail(response: httpx.Response, default: str) -> str:
    try:
        body = response.json()
    except ValueError:
        return default
    detail = body.get("detail") if isinstance(body, dict) else None
    if not isinstance(detail, str) or not detail.strip():
        return default
    # the auth service's words, as a sentence like every other ``detail`` the gateway gives
    detail = detail.strip()
    return detail[0].upper() + detail[1:] + ("" if detail.endswith((".", "!", "?")) else ".")


def token_response(response: httpx.Response) -> Response[TokenResponse]:
    """Auth's tokens as our answer, the refresh token also in its cookie."""
    tokens = TokenResponse.model_validate_json(response.content)
    return Response(
        tokens,
        status_code=200,
        # the body holds credentials: no cache may keep them (RFC 6749, 5.1)
        headers={
            "Set-Cookie": refresh_cookie(tokens.refresh_token, tokens.refresh_expires_in),
            "Cache-Control": "no-store",
        },
    )


def client_headers(request: Request[Any, Any, Any], settings: GatewaySettings) -> dict[str, str]:
    """Tells auth who the client is, for its per-address limits (auth believes its gateway): the
    peer, or whom the peer names in ``X-Forwarded-For`` if it is a proxy we trust."""
    peer = request.client.host if request.client else None
    client = client_address(peer, request.headers.getall("x-forwarded-for", []), settings.trusted_proxies)
    return {"X-Forwarded-For": client}


_LOGIN_EXAMPLE = Example(
    summary="a login", value={"email": "ada@example.com", "password": "correct horse battery staple"}
)


_LOGIN_DESCRIPTION = """\
Exchange an email and password for an access token and a refresh token: a session.

Send the access token as `Authorization: Bearer <token>`; it lasts `expires_in` seconds. Then
`POST /v1/auth/refresh` with the refresh token gets new ones, for as long as the session lasts
(`refresh_expires_in` seconds from each refresh). Web pages get the refresh token in the
`vidmp3_refresh` cookie as well (`HttpOnly; Secure; SameSite=Strict; Path=/v1/auth`: scripts
cannot read it and it goes nowhere but the refresh and logout routes).

The email is matched whatever its case and surrounding spaces. 401 for a wrong email or
password alike; 429 with `Retry-After` after too many attempts.
"""


@post(
    "/v1/auth/login",
    status_code=200,
    tags=["auth"],
    summary="Log in",
    description=_LOGIN_DESCRIPTION,
    operation_class=auth_operation(body_examples={"login": _LOGIN_EXAMPLE}, headers={"200": COOKIE_HEADERS}),
    responses={
        200: token_spec(
            "An access token, and a refresh token that gets the next one (also set as the `vidmp3_refresh` cookie)."
        ),
        **auth_problems(
            "/v1/auth/login",
            {
                400: ("The body is not an email and password.", "Give the email address of your account."),
                401: ("Wrong email or password, or a disabled account (alike).", WRONG_LOGIN),
                429: ("Too many attempts; retry after `Retry-After` seconds.", too_many_logins("30")),
                503: ("The sign-in service is unreachable.", LOGIN_UNAVAILABLE),
            },
        ),
    },
)
async def login(
    request: Request[Any, Any, Any],
    data: Annotated[LoginRequest, Body(description="The account's email and password.", examples=[_LOGIN_EXAMPLE])],
    http: NamedDependency[httpx.AsyncClient],
    settings: NamedDependency[GatewaySettings],
) -> Response[TokenResponse]:
    """Exchange an email and password for an access token and a refresh token (a session)."""
    response = await call_auth(
        http,
        settings,
        "/v1/login",
        data.model_dump(),
        headers=client_headers(request, settings),
        words={
            401: lambda _: WRONG_LOGIN,
            429: lambda refused: too_many_logins(refused.headers.get("retry-after", "60")),
        },
    )
    return token_response(response)
