"""The auth API's routes: thin, each calls one ``Accounts`` method inside ``problems()``."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from litestar import Request, delete, get, post
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotAuthorizedException
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from auth.revocations import Revocations
from auth.schemas import (
    LoginRequest,
    NewUser,
    PasswordChange,
    RefreshRequest,
    Registration,
    RevocationEntry,
    RevocationPage,
    TokenResponse,
    UserResponse,
)
from auth.service import Accounts, Tokens
from auth.tokens import Principal, TokenIssuer
from auth.users import User
from auth.web import CHALLENGE, BearerTokens, Throttle, problems

__all__ = ["account_routes", "route_dependencies"]

log = logging.getLogger(__name__)

_ADMIN = "Needs an admin's bearer token: 401 without a valid token, 403 for a token of a user who is not an admin."


def _user_response(user: User) -> UserResponse:
    return UserResponse(id=user.id, email=user.email, roles=sorted(user.roles), active=user.is_active)


async def _principal(
    request: Request[Any, Any, Any], bearer: NamedDependency[BearerTokens], accounts: NamedDependency[Accounts]
) -> Principal:
    principal = bearer.principal(request)
    # this service reads its own tables: an ended session's token stops here at once
    if not await accounts.signed_in(principal):
        raise NotAuthorizedException("this session has ended; log in again", headers=CHALLENGE)
    return principal


async def _admin(principal: NamedDependency[Principal], accounts: NamedDependency[Accounts]) -> User:
    with problems():
        return await accounts.require_admin(principal)


def route_dependencies() -> dict[str, Provide]:
    """``principal`` (the bearer token's) and ``admin`` (that principal, checked to be an admin)."""
    return {"principal": Provide(_principal), "admin": Provide(_admin)}


def _token_response(tokens: Tokens) -> TokenResponse:
    return TokenResponse(
        access_token=tokens.access_token,
        expires_in=tokens.expires_in,
        refresh_token=tokens.refresh_token,
        refresh_expires_in=tokens.refresh_expires_in,
    )


@post("/v1/login", status_code=HTTP_200_OK, tags=["auth"])
async def login(
    request: Request[Any, Any, Any],
    data: JSONBody[LoginRequest],
    accounts: NamedDependency[Accounts],
    login_throttle: NamedDependency[Throttle],
) -> TokenResponse:
    """Exchange an email and password for a signed access token and a refresh token (a session).

    401 for an unknown email, a wrong password or a disabled account alike; 429 with
    `Retry-After` after repeated failures for the account from the caller's address, when the
    account is under attack and the caller's address never logged in to it (a wait of a minute
    at most), or when the caller's address has made too many attempts; 503 with `Retry-After`
    when too many password checks are already waiting.
    """
    with problems():
        login_throttle.check(request)
        tokens = await accounts.login(data.email, data.password, login_throttle.address(request))
    return _token_response(tokens)


@post("/v1/refresh", status_code=HTTP_200_OK, tags=["auth"])
async def refresh(data: JSONBody[RefreshRequest], accounts: NamedDependency[Accounts]) -> TokenResponse:
    """Exchange a refresh token for a new access token and a new refresh token (rotation).

    The refresh token sent is used up. Sent again later, it ends its whole session (someone
    else holds a copy); sent again within seconds, as two tabs refreshing at once do, it gets
    tokens of the same session. 401 with a `detail` saying why for an unknown, expired, used or
    ended token, and for a disabled or deleted account.
    """
    with problems():
        return _token_response(await accounts.refresh(data.refresh_token))


@post("/v1/logout", status_code=HTTP_204_NO_CONTENT, tags=["auth"])
async def logout(data: JSONBody[RefreshRequest], accounts: NamedDependency[Accounts]) -> None:
    """End the session of a refresh token (any of its tokens, used or not). 204 also when the
    token is unknown or its session already ended: there is nothing left to end."""
    with problems():
        await accounts.logout(data.refresh_token)


@get("/.well-known/jwks.json", media_type="application/jwk-set+json", tags=["auth"])
async def jwks(issuer: NamedDependency[TokenIssuer]) -> dict[str, Any]:
    """The public keys that verify this service's tokens (RFC 7517): the signing key and the
    keys that signed before it, until they are retired."""
    return issuer.jwks()


@get("/v1/revocations", tags=["auth"])
async def revocations(
    revocation_log: NamedDependency[Revocations],
    after: Annotated[int, QueryParameter(ge=0, description="The last `seq` you have; 0 for all.")] = 0,
    limit: Annotated[int, QueryParameter(ge=1, le=5000, description="How many at most.")] = 1000,
) -> RevocationPage:
    """The revocation log, for verifiers of access tokens (the gateway), from `after` on.

    Each entry names a session whose access tokens must be refused until `expires_at`. A
    verifier reads it all at start, then asks for what follows its last `seq` every second or
    so. Numbers appear in order: having seen `seq` N means having seen every one below it.
    """
    found = await revocation_log.after(after, limit + 1)
    return RevocationPage(
        revocations=[
            RevocationEntry(seq=entry.seq, subject=entry.subject, expires_at=entry.expires_at)
            for entry in found[:limit]
        ],
        more=len(found) > limit,
    )


@post("/v1/me/password", status_code=HTTP_204_NO_CONTENT, tags=["auth"])
async def change_password(
    request: Request[Any, Any, Any],
    data: JSONBody[PasswordChange],
    principal: NamedDependency[Principal],
    accounts: NamedDependency[Accounts],
    login_throttle: NamedDependency[Throttle],
) -> None:
    """Change the caller's password; needs the current one as well as the bearer token.

    403 for a wrong current password (it counts towards the account's lockout, like a failed
    login); 401 without a valid token or for a disabled account. Every session of the user
    ends, this one included: log in again with the new password.
    """
    with problems():
        login_throttle.check(request)
        await accounts.change_password(
            principal, data.current_password, data.new_password, login_throttle.address(request)
        )


@post("/v1/users", status_code=HTTP_201_CREATED, tags=["users"], description=_ADMIN)
async def create_user(
    data: JSONBody[NewUser], admin: NamedDependency[User], accounts: NamedDependency[Accounts]
) -> UserResponse:
    """Create a user (409 if the email is taken)."""
    with problems():
        user = await accounts.create(data.email, data.password, is_admin=data.admin)
    log.info("admin %s created user %s%s", admin.id, user.id, " (admin)" if user.is_admin else "")
    return _user_response(user)


@post("/v1/users/{user_id:int}/disable", status_code=HTTP_200_OK, tags=["users"], description=_ADMIN)
async def disable_user(
    user_id: FromPath[int], admin: NamedDependency[User], accounts: NamedDependency[Accounts]
) -> UserResponse:
    """Disable a user: their logins fail from now on, like a wrong password's, and every
    session of theirs ends."""
    with problems():
        user = await accounts.set_active(user_id, active=False)
    log.info("admin %s disabled user %s", admin.id, user.id)
    return _user_response(user)


@post("/v1/users/{user_id:int}/enable", status_code=HTTP_200_OK, tags=["users"], description=_ADMIN)
async def enable_user(
    user_id: FromPath[int], admin: NamedDependency[User], accounts: NamedDependency[Accounts]
) -> UserResponse:
    """Enable a disabled user again."""
    with problems():
        user = await accounts.set_active(user_id, active=True)
    log.info("admin %s enabled user %s", admin.id, user.id)
    return _user_response(user)


@delete("/v1/users/{user_id:int}", status_code=HTTP_204_NO_CONTENT, tags=["users"], description=_ADMIN)
async def delete_user(
    user_id: FromPath[int], admin: NamedDependency[User], accounts: NamedDependency[Accounts]
) -> None:
    """Delete a user (404 if there is none); every session of theirs ends."""
    with problems():
        await accounts.delete(user_id)
    log.info("admin %s deleted user %s", admin.id, user_id)


@post("/v1/register", status_code=HTTP_201_CREATED, tags=["users"])
async def register(
    request: Request[Any, Any, Any],
    data: JSONBody[Registration],
    accounts: NamedDependency[Accounts],
    registration_throttle: NamedDependency[Throttle],
) -> UserResponse:
    """Create an account for yourself (only where the operator enabled self-registration).

    409 if the email is taken; 429 with `Retry-After` when the caller's address has registered
    too often.
    """
    with problems():
        registration_throttle.check(request)
        return _user_response(await accounts.create(data.email, data.password))


def account_routes(*, registration: bool) -> list[HTTPRouteHandler]:
    """Every route but the probes; ``/v1/register`` only when self-registration is enabled."""
    routes = [
        login,
        refresh,
        logout,
        jwks,
        revocations,
        change_password,
        create_user,
        disable_user,
        enable_user,
        delete_user,
    ]
    return [*routes, register] if registration else routes
