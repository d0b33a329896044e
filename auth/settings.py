import json
from pathlib import Path
from typing import Annotated, Any, Self
from urllib.parse import unquote, urlsplit

from pydantic import Field, IPvAnyNetwork, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode

from common.settings import ServiceSettings

__all__ = ["DEV_MYSQL_PASSWORD", "DEV_MYSQL_URL", "AuthSettings"]

DEV_MYSQL_PASSWORD = "vidmp3-dev"  # noqa: S105 - public on purpose: production refuses it
DEV_MYSQL_URL = f"mysql://vidmp3:{DEV_MYSQL_PASSWORD}@127.0.0.1:3306/vidmp3?ssl-mode=disabled"


class AuthSettings(ServiceSettings):
    """Settings of the auth service (``VIDMP3_*`` variables)."""

    port: int = 8001
    mysql_url: SecretStr = SecretStr(DEV_MYSQL_URL)
    mysql_pool_size: int = 5

    signing_key_file: Path | None = None
    """PEM file of the Ed25519 private key tokens are signed with. Without one (and without
    ``signing_key_dir``), development runs sign with a key made at start (tokens die with the
    process); production refuses."""
    previous_signing_key_files: Annotated[list[Path], NoDecode] = Field(default_factory=list)
    """Keys that signed before ``signing_key_file``: published, so their tokens verify until they
    expire; then drop them. Comma-separated (or a JSON list) in the variable."""
    signing_key_dir: Path | None = None
    """Instead of the files above: a directory of ``*.pem`` keys, re-read while running; the newest
    by name signs (see ``python -m auth rotate-key``)."""
    signing_key_reload_seconds: float = Field(default=10.0, gt=0)
    signing_key_activation_seconds: float = Field(default=30.0, ge=0)
    """How long a new key in ``signing_key_dir`` is only published before it signs: longer than
    ``signing_key_reload_seconds``, so every auth process publishes it first."""

    token_issuer: str = "vidmp3-auth"  # noqa: S105 - a name, not a secret ("token" trips the rule)
    token_audience: str = "vidmp3"  # noqa: S105 - likewise
    token_ttl_seconds: int = Field(default=900, gt=0)
    """Lifetime of an access token (`expires_in`); clients get the next from their refresh token."""
    refresh_token_days: float = Field(default=30.0, gt=0)
    """A refresh token expires this long after it was issued; each refresh issues a new one, so a
    session used at least this often lasts (up to ``session_max_days``)."""
    session_max_days: float = Field(default=90.0, gt=0)
    """A session ends this long after its login, however often it is refreshed."""
    refresh_reuse_grace_seconds: float = Field(default=10.0, ge=0, le=60)
    """A used refresh token sent again within this many seconds gets tokens of the same session
    (two tabs refreshing at once); later, it ends the session (someone else holds a copy)."""
    sessions_per_user: int = Field(default=100, ge=1)
    """Sessions a user may have at once; a login beyond this ends their oldest."""

    trusted_proxies: Annotated[list[IPvAnyNetwork], NoDecode] = Field(default_factory=list)
    """Peers whose ``X-Forwarded-For`` names the client: the gateway's addresses or networks,
    comma-separated. None by default: every peer is its own client, and nobody can claim
    another address. Set it to where the gateway connects from (the one-box stack sets
    127.0.0.1), and let nothing else reach auth."""
    login_attempts_burst: int = Field(default=20, ge=1)
    login_attempts_per_minute: float = Field(default=30.0, gt=0)
    """Per client address, over logins and password changes (a token bucket per process)."""
    lockout_threshold: int = Field(default=5, ge=1)
    lockout_base_seconds: float = Field(default=30.0, gt=0)
    lockout_max_seconds: float = Field(default=900.0, gt=0)
    lockout_reset_seconds: float = Field(default=3600.0, gt=0)
    """Per account and client address (existing account or not): ``lockout_threshold`` failures
    in a row from one address refuse that address for ``lockout_base_seconds``, doubling per
    further failure up to ``lockout_max_seconds``; forgotten ``lockout_reset_seconds`` after the
    last one, or at a login from that address. Other addresses are not locked out."""
    slowdown_threshold: int = Field(default=10, ge=1)
    slowdown_base_seconds: float = Field(default=1.0, gt=0)
    slowdown_max_seconds: float = Field(default=60.0, gt=0)
    """Per account, every address together: after ``slowdown_threshold`` failures in a row,
    attempts from addresses that never logged in to the account must wait
    ``slowdown_base_seconds`` after the previous one, doubling per further failure up to
    ``slowdown_max_seconds``. Addresses the account logged in from are not slowed."""
    known_address_days: float = Field(default=90.0, gt=0)
    """An address counts as the account's own this long after a login from it."""
    password_hashing_concurrency: int = Field(default=2, ge=1)
    """Password checks (Argon2id, 64 MiB each) running at once: 2 keeps auth under its 384 MiB
    Kubernetes limit (measured: bench/auth_logins.py)."""
    password_hashing_queue: int = Field(default=64, ge=0)
    """Password checks that may wait for a turn; beyond them a login gets 503 at once."""

    api_keys_per_user: int = Field(default=20, ge=1, le=1000)
    """API keys a user may hold at once (revoked and expired ones do not count)."""

    registration_enabled: bool = False
    """Whether anyone may create an account with ``POST /v1/register``."""
    registrations_burst: int = Field(default=5, ge=1)
    registrations_per_hour: float = Field(default=20.0, gt=0)

    @field_validator("previous_signing_key_files", "trusted_proxies", mode="before")
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            stripped = value.strip()
            if stripped.startswith("["):
                return json.loads(stripped)
            return [item.strip() for item in stripped.split(",") if item.strip()]
        return value

    @model_validator(mode="after")
    def _one_source_of_keys(self) -> Self:
        if self.signing_key_dir is not None and (self.signing_key_file is not None or self.previous_signing_key_files):
            raise ValueError("set signing_key_dir or signing_key_file (and previous_signing_key_files), not both")
        if self.previous_signing_key_files and self.signing_key_file is None:
            raise ValueError("previous_signing_key_files needs a signing_key_file that signs")
        return self

    def unsafe_defaults(self) -> list[str]:
        unsafe = super().unsafe_defaults()
        # the development password on any host or database, not just the default URL
        if unquote(urlsplit(self.mysql_url.get_secret_value()).password or "") == DEV_MYSQL_PASSWORD:
            unsafe.append("mysql_url (development password)")
        if self.signing_key_file is None and self.signing_key_dir is None:
            unsafe.append("signing_key_file (or signing_key_dir)")
        return unsafe
