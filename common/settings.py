"""Settings every service shares, read from ``VIDMP3_*`` environment variables.

Secrets may also come from files: point ``VIDMP3_SECRETS_DIR`` at a directory holding one
file per setting, named like its variable (``vidmp3_rabbit_url``, ``vidmp3_mysql_url``, ...;
case does not matter), as Docker and Kubernetes mount them.
Development defaults work on one box; in production mode a service refuses to start while
any of them is still in place.
"""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Self
from urllib.parse import parse_qs, unquote, urlsplit

from pydantic import SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["BrokerSettings", "Environment", "MongoSettings", "ServiceSettings", "UnsafeSettingsError"]

DEV_RABBIT_URL = "amqp://guest:guest@127.0.0.1:5672/vidmp3"
DEV_MONGO_URL = "mongodb://127.0.0.1:27017/"


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class UnsafeSettingsError(ValueError):
    """A development default is in place where production needs a real value."""


class ServiceSettings(BaseSettings):
    """What every service process needs: where to listen and how to behave."""

    model_config = SettingsConfigDict(env_prefix="VIDMP3_", extra="ignore")

    environment: Environment = Environment.DEVELOPMENT
    log_level: str = "INFO"
    host: str = "127.0.0.1"
    port: int = 8000
    metrics_host: str | None = None
    """Where ``/metrics`` listens; by default where the service does (``host``)."""
    metrics_port: int | None = None
    """The port of ``/metrics``, a listener of its own: never the service's port, which may be
    public. By default the service's port + 1000; 0 serves no metrics."""
    http_header_timeout_seconds: float = 10.0
    """A request's headers must arrive within this (408 and the connection closed otherwise)."""
    http_body_timeout_seconds: float = 30.0
    """While a request body is sent, each window this long must bring ``http_body_min_bytes``."""
    http_body_min_bytes: int = 16 * 1024
    """Fewer body bytes in a window (about 550 bytes a second by default) close the connection."""

    @property
    def metrics_address(self) -> tuple[str, int] | None:
        """(host, port) of the metrics listener, or ``None`` when it is off."""
        port = self.port + 1000 if self.metrics_port is None else self.metrics_port
        return None if port == 0 else (self.metrics_host or self.host, port)

    @classmethod
    def load(cls) -> Self:
        """Read the settings from the environment (and the secrets directory, if any)."""
        return cls(_secrets_dir=os.environ.get("VIDMP3_SECRETS_DIR"))  # type: ignore[call-arg]

    def unsafe_defaults(self) -> list[str]:
        """Names of settings still holding a development default."""
        return []

    @model_validator(mode="after")
    def _refuse_unsafe_defaults_in_production(self) -> Self:
        if self.environment is Environment.PRODUCTION and (unsafe := self.unsafe_defaults()):
            raise UnsafeSettingsError(
                f"refusing to start in production with development defaults for: {', '.join(unsafe)}"
            )
        return self


def _credentials(url: str) -> tuple[str, str]:
    """The user name and password in ``url`` (empty when absent); any scheme, several hosts too."""
    userinfo, at, _ = urlsplit(url).netloc.rpartition("@")
    if not at:
        return "", ""
    user, _, password = userinfo.partition(":")
    return unquote(user), unquote(password)


# Mongo mechanisms that authenticate without a password in the URL (a certificate, the cloud's identity)
_PASSWORDLESS_MONGO = frozenset({"MONGODB-X509", "MONGODB-AWS", "MONGODB-OIDC"})


class BrokerSettings(ServiceSettings):
    rabbit_url: SecretStr = SecretStr(DEV_RABBIT_URL)
    prefetch: int = 8

    def unsafe_defaults(self) -> list[str]:
        unsafe = super().unsafe_defaults()
        user, password = _credentials(self.rabbit_url.get_secret_value())
        if not user or not password:
            unsafe.append("rabbit_url (no user name and password)")
        elif user == "guest":
            unsafe.append("rabbit_url (guest account)")
        return unsafe


class MongoSettings(ServiceSettings):
    mongo_url: SecretStr = SecretStr(DEV_MONGO_URL)
    mongo_database: str = "vidmp3"
    mongo_command_log: Path | None = None
    """A directory where every query sent to the store is recorded (``common.store_audit``):
    for tests and audits."""

    def unsafe_defaults(self) -> list[str]:
        unsafe = super().unsafe_defaults()
        url = self.mongo_url.get_secret_value()
        user, password = _credentials(url)
        mechanism = {value.upper() for value in parse_qs(urlsplit(url).query).get("authMechanism", [])}
        if not (user and password) and not mechanism & _PASSWORDLESS_MONGO:
            unsafe.append("mongo_url (no user name and password)")
        return unsafe
