"""The auth service's HTTP API: log in for a token, publish the keys that verify tokens, manage users."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from litestar import Litestar
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig

from auth.apikeys import ApiKeys
from auth.database import Database
from auth.hashing import HashingSlots
from auth.key_routes import KEY_ROUTES
from auth.keys import KeyDirectory, SigningKeys, StaticKeys
from auth.lockouts import Lockouts
from auth.migrations import AUTH_SCHEMA
from auth.passwords import Passwords
from auth.refresh import RefreshPolicy
from auth.revocations import Revocations
from auth.routes import account_routes, route_dependencies
from auth.service import Accounts
from auth.sessions import Sessions
from auth.settings import AuthSettings
from auth.throttling import GuessingPolicy, LockoutPolicy, TokenBuckets
from auth.tokens import TokenIssuer
from auth.users import Users
from auth.web import BearerTokens, Throttle
from common.http import health_routes, log_exception, metrics_middleware, problem_details

__all__ = ["create_app", "guessing_policy", "refresh_policy", "signing_keys"]

log = logging.getLogger(__name__)

_PRUNE_SECONDS = 600.0


def signing_keys(settings: AuthSettings) -> SigningKeys:
    if settings.signing_key_dir is not None:
        return KeyDirectory(
            settings.signing_key_dir,
            reload_seconds=settings.signing_key_reload_seconds,
            activation_seconds=settings.signing_key_activation_seconds,
        )
    if settings.signing_key_file is not None:
        return StaticKeys.from_files(settings.signing_key_file, settings.previous_signing_key_files)
    log.warning("no VIDMP3_SIGNING_KEY_FILE: signing with a key made now; tokens end with this process")
    return StaticKeys(Ed25519PrivateKey.generate())


def guessing_policy(settings: AuthSettings) -> GuessingPolicy:
    return GuessingPolicy(
        per_address=LockoutPolicy(
            threshold=settings.lockout_threshold,
            base_seconds=settings.lockout_base_seconds,
            max_seconds=settings.lockout_max_seconds,
            reset_seconds=settings.lockout_reset_seconds,
        ),
        per_account=LockoutPolicy(
            threshold=settings.slowdown_threshold,
            base_seconds=settings.slowdown_base_seconds,
            max_seconds=settings.slowdown_max_seconds,
            reset_seconds=settings.lockout_reset_seconds,
        ),
        known_address_seconds=settings.known_address_days * 86400,
    )


def refresh_policy(settings: AuthSettings) -> RefreshPolicy:
    return RefreshPolicy(
        token_seconds=settings.refresh_token_days * 86400,
        session_seconds=settings.session_max_days * 86400,
        reuse_grace_seconds=settings.refresh_reuse_grace_seconds,
        per_user=settings.sessions_per_user,
        access_seconds=settings.token_ttl_seconds,
    )


async def _prune_forever(sessions: Sessions, revocations: Revocations, api_keys: ApiKeys) -> None:
    """Expired refresh tokens, sessions, revocations and API keys go, a batch every ten minutes."""
    while True:
        try:
            if removed := await sessions.prune() + await revocations.prune() + await api_keys.prune():
                log.info("removed %d expired refresh tokens, sessions, revocations and API keys", removed)
        except Exception as error:  # MySQL away: try again next round
            log.warning("pruning sessions failed: %s", error)
        await asyncio.sleep(_PRUNE_SECONDS)


def create_app(settings: AuthSettings | None = None) -> Litestar:
    settings = settings or AuthSettings.load()
    issuer = TokenIssuer(
        signing_keys(settings),
        issuer=settings.token_issuer,
        audience=settings.token_audience,
        ttl_seconds=settings.token_ttl_seconds,
    )
    database = Database(settings.mysql_url.get_secret_value(), settings.mysql_pool_size)
    revocations = Revocations(database)
    sessions = Sessions(database, refresh_policy(settings), hooks=revocations)
    api_keys = ApiKeys(database, revocations, per_user=settings.api_keys_per_user)
    hashing = HashingSlots(settings.password_hashing_concurrency, settings.password_hashing_queue)
    accounts = Accounts(
        Users(database), Passwords(), issuer, Lockouts(database, guessing_policy(settings)), sessions, hashing=hashing
    )
    login_throttle = Throttle(
        TokenBuckets(settings.login_attempts_burst, settings.login_attempts_per_minute / 60),
        settings.trusted_proxies,
        "too many attempts from this address",
    )
    registration_throttle = Throttle(
        TokenBuckets(settings.registrations_burst, settings.registrations_per_hour / 3600),
        settings.trusted_proxies,
        "too many registrations from this address",
    )
    bearer = BearerTokens(issuer, issuer_name=settings.token_issuer, audience=settings.token_audience)

    tasks: list[asyncio.Task[None]] = []

    async def migrate() -> None:
        await AUTH_SCHEMA.migrate(database)

    async def start_pruning() -> None:
        tasks.append(asyncio.create_task(_prune_forever(sessions, revocations, api_keys)))

    async def stop_pruning() -> None:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        hashing.close()

    singletons = {
        "accounts": accounts,
        "issuer": issuer,
        "revocation_log": revocations,
        "api_keys": api_keys,
        "bearer": bearer,
        "login_throttle": login_throttle,
        "registration_throttle": registration_throttle,
    }
    return Litestar(
        route_handlers=[
            *account_routes(registration=settings.registration_enabled),
            *KEY_ROUTES,
            *health_routes(ready=[database.ping]),
        ],
        dependencies={
            **{name: Provide(_constant(value), sync_to_thread=False) for name, value in singletons.items()},
            **route_dependencies(),
        },
        on_startup=[migrate, start_pruning],
        on_shutdown=[stop_pruning, database.close],
        middleware=[metrics_middleware("auth")],
        plugins=[problem_details()],
        after_exception=[log_exception],
        openapi_config=OpenAPIConfig(title="vidmp3 auth", version="1.0.0"),
    )


def _constant(value: Any) -> Callable[[], Any]:
    return lambda: value
