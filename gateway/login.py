"""``POST /v1/auth/login``: logins go through the gateway to the auth service."""

from __future__ import annotations

import httpx
from litestar import post
from litestar.di import NamedDependency
from litestar.exceptions import NotAuthorizedException, ServiceUnavailableException
from litestar.params import JSONBody

from auth.schemas import LoginRequest, TokenResponse
from gateway.settings import GatewaySettings

__all__ = ["login"]


@post("/v1/auth/login", status_code=200, tags=["auth"])
async def login(
    data: JSONBody[LoginRequest], http: NamedDependency[httpx.AsyncClient], settings: NamedDependency[GatewaySettings]
) -> TokenResponse:
    """Exchange an email and password for an access token (valid for `expires_in` seconds)."""
    try:
        response = await http.post(f"{settings.auth_url}/v1/login", json=data.model_dump())
    except httpx.HTTPError as error:
        raise ServiceUnavailableException("the auth service is unreachable") from error
    if response.status_code == 401:
        raise NotAuthorizedException("invalid email or password")
    if response.status_code != 200:
        raise ServiceUnavailableException(f"the auth service answered {response.status_code}")
    return TokenResponse.model_validate_json(response.content)
