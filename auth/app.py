"""The auth service's HTTP API: log in for a token, publish the keys that verify tokens."""

from __future__ import annotations

import logging
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from litestar import Litestar, get, post
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotAuthorizedException
from litestar.openapi import OpenAPIConfig
from litestar.params import JSONBody

from auth.passwords import Passwords
from auth.schemas import LoginRequest, TokenResponse
from auth.service import InvalidCredentials, LoginService
from auth.settings import AuthSettings
from auth.tokens import TokenIssuer, load_private_key
from auth.users import Users
from common.http import health_routes, log_exception, metrics_middleware, problem_details

__all__ = ["create_app"]

log = logging.getLogger(__name__)


@post("/v1/login", status_code=200)
async def login(
    data: JSONBody[LoginRequest], logins: NamedDependency[LoginService], issuer: NamedDependency[TokenIssuer]
) -> TokenResponse:
    """Exchange an email and password for a signed access token."""
    try:
        token = await logins.login(data.email, data.password)
    except InvalidCredentials:
        raise NotAuthorizedException("invalid email or password") from None
    return TokenResponse(access_token=token, expires_in=issuer.ttl_seconds)


@get("/.well-known/jwks.json", media_type="application/jwk-set+json")
async def jwks(issuer: NamedDependency[TokenIssuer]) -> dict[str, Any]:
    """The public keys that verify this service's tokens (RFC 7517)."""
    return issuer.jwks()


def _signing_key(settings: AuthSettings) -> Ed25519PrivateKey:
    if settings.signing_key_file is not None:
        return load_private_key(settings.signing_key_file)
    log.warning("no VIDMP3_SIGNING_KEY_FILE: signing with a key made now; tokens end with this process")
    return Ed25519PrivateKey.generate()


def create_app(settings: AuthSettings | None = None) -> Litestar:
    settings = settings or AuthSettings.load()
    issuer = TokenIssuer(
        _signing_key(settings),
        issuer=settings.token_issuer,
        audience=settings.token_audience,
        ttl_seconds=settings.token_ttl_seconds,
    )
    users = Users(settings.mysql_url.get_secret_value(), settings.mysql_pool_size)
    logins = LoginService(users, Passwords(), issuer)

    return Litestar(
        route_handlers=[login, jwks, *health_routes(ready=[users.ping])],
        dependencies={
            "logins": Provide(lambda: logins, sync_to_thread=False),
            "issuer": Provide(lambda: issuer, sync_to_thread=False),
        },
        on_startup=[users.migrate],
        on_shutdown=[users.close],
        middleware=[metrics_middleware("auth")],
        plugins=[problem_details()],
        after_exception=[log_exception],
        openapi_config=OpenAPIConfig(title="vidmp3 auth", version="1.0.0"),
    )
