"""``POST /v1/auth/login``: logins go through the gateway to the auth service."""

from __future__ import annotations

import logging
from typing import Annotated, Any

import httpx
from litestar import Request, post
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException, NotAuthorizedException, ServiceUnavailableException
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import Body

from auth.schemas import LoginRequest, TokenResponse
from gateway import openapi as docs
from gateway.settings import GatewaySettings
from gateway.wording import LOGIN_UNAVAILABLE, WRONG_LOGIN, too_many_logins

__all__ = ["login"]

log = logging.getLogger(__name__)

_TOKEN_EXAMPLE = {"access_token": "eyJhbGciOiJFZERTQSIsImtpZCI6Ii4uLiJ9...", "token_type": "Bearer", "expires_in": 900}


@post(
    "/v1/auth/login",
    summary="Log in",
    status_code=200,
    tags=["auth"],
    operation_class=docs.documented(
        body_examples={
            "login": Example(
                summary="a login", value={"email": "ada@example.com", "password": "correct horse battery staple"}
            )
        }
    ),
    responses={
        200: ResponseSpec(
            TokenResponse,
            description="A bearer token.",
            generate_examples=False,
            examples=[Example(summary="a token", value=_TOKEN_EXAMPLE)],
        ),
        **docs.problems(
            "/v1/auth/login",
            {401: WRONG_LOGIN, 429: too_many_logins("30"), 503: LOGIN_UNAVAILABLE},
            invalid=docs.Invalid("email", "body", "String should have at least 3 characters"),
            same=(),
        ),
    },
)
async def login(
    request: Request[Any, Any, Any],
    data: Annotated[
        LoginRequest,
        Body(
            description="The account's email and password.",
            examples=[
                Example(
                    summary="a login", value={"email": "ada@example.com", "password": "correct horse battery staple"}
                )
            ],
        ),
    ],
    http: NamedDependency[httpx.AsyncClient],
    settings: NamedDependency[GatewaySettings],
) -> TokenResponse:
    """Exchange an email and password for an access token (valid for `expires_in` seconds).

    401 for a wrong email or password alike; 429 with `Retry-After` after too many attempts.
    """
    # the auth service throttles per client: tell it who the client is (it trusts its gateway)
    client = request.client.host if request.client else None
    headers = {"X-Forwarded-For": client} if client else {}
    try:
        response = await http.post(f"{settings.auth_url}/v1/login", json=data.model_dump(), headers=headers)
    except httpx.HTTPError as error:
        raise ServiceUnavailableException(LOGIN_UNAVAILABLE) from error
    if response.status_code == 401:
        raise NotAuthorizedException(WRONG_LOGIN)
    if response.status_code == 429:
        wait = response.headers.get("retry-after", "60")
        raise HTTPException(
            status_code=429,
            detail=too_many_logins(wait),
            headers={"Retry-After": wait},
        )
    if response.status_code == 400:
        raise HTTPException(status_code=400, detail=_detail(response, "Give the email and password of your account."))
    if response.status_code != 200:
        log.warning("the auth service answered a login with %s", response.status_code)
        raise ServiceUnavailableException(LOGIN_UNAVAILABLE)
    return TokenResponse.model_validate_json(response.content)


def _detail(response: httpx.Response, default: str) -> str:
    try:
        body = response.json()
    except ValueError:
        return default
    detail = body.get("detail") if isinstance(body, dict) else None
    return detail if isinstance(detail, str) and detail else default
