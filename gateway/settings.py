import json
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, IPvAnyNetwork, field_validator
from pydantic_settings import NoDecode

from common.in_flight import InFlightLimit
from common.limits import MediaLimitSettings
from common.links import LinkSettings
from common.outbound import WebhookSettings
from common.retention import RetentionSettings
from common.settings import BrokerSettings, MongoSettings
from gateway.multipart import FormLimits

__all__ = ["GatewaySettings"]


class GatewaySettings(
    BrokerSettings, MongoSettings, MediaLimitSettings, LinkSettings, RetentionSettings, WebhookSettings
):
    """Settings of the gateway (``VIDMP3_*`` variables)."""

    port: int = 8000
    auth_url: str = "http://127.0.0.1:8001"
    """Where the auth service answers logins and publishes its JWKS."""
    token_issuer: str = "vidmp3-auth"  # noqa: S105 (a name, not a secret)
    token_audience: str = "vidmp3"  # noqa: S105
    trusted_proxies: Annotated[list[IPvAnyNetwork], NoDecode] = Field(default_factory=list)
    """Peers whose ``X-Forwarded-For`` names the client (a load balancer or ingress in front of the
    gateway): addresses or networks, comma-separated. None by default: the peer is the client.
    The client's address goes on to auth, whose login limits are per address."""
    token_leeway_seconds: float = Field(default=5.0, ge=0, le=60)
    """How far past its expiry an access token is still taken (clocks of auth and gateway differ
    a little); tests that let tokens expire set it to 0."""
    revocation_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    """How often the auth service's revocation log is read: a logout, a new password or a
    disabled user stops their access tokens within about this long."""
    revocation_max_stale_seconds: float = Field(default=60.0, gt=0)
    """How long tokens are still taken while the revocation log cannot be read (auth away);
    past it they get 503 until it is read again."""
    api_key_cache_seconds: float = Field(default=5.0, ge=0, le=60)
    """How long auth's answer about an API key is kept (a revoked key is refused sooner: the
    revocation log lists it)."""
    api_key_cache_size: int = Field(default=10_000, ge=1)
    """API keys whose answers are kept at most (the least recently used go first)."""
    api_key_burst: int = Field(default=60, ge=1)
    api_key_requests_per_minute: float = Field(default=600.0, gt=0)
    """Per API key, in each gateway process: ``api_key_burst`` requests at once, then this many a
    minute (429 with ``Retry-After`` beyond)."""
    max_upload_bytes: int = 2 * 1024**3
    """Largest video accepted, by either upload route (413 beyond it)."""
    max_form_fields: int = 32
    """Form fields a multipart upload may send besides its file (413 beyond)."""
    max_form_field_bytes: int = 16 * 1024
    """Bytes of those fields' values together (413 beyond)."""
    max_pending_uploads: int = 10
    """Unfinished resumable uploads one user may have at once (429 beyond)."""
    user_quota_bytes: int = Field(default=5 * 1024**3, gt=0)
    """Bytes a user's jobs may store together (videos not yet removed, MP3s not yet expired); an
    upload beyond it is refused (413, or 429 while unfinished jobs hold part of it)."""
    upload_idle_hours: float = 24.0
    """An unfinished resumable upload nobody added to for this long is removed."""
    stalled_upload_minutes: float = Field(default=15.0, gt=0)
    """A multipart upload that stored nothing for this long is taken as abandoned (its gateway
    died mid-way): the sweep removes its chunks. Far above the body read timeout."""
    outbox_relay_seconds: float = 5.0
    """How often events whose first publish failed are sent again."""
    web_modules_dir: Path | None = None
    """Where ``npm ci`` installed the web page's libraries; by default the checkout's ``node_modules``."""

    @property
    def form_limits(self) -> FormLimits:
        return FormLimits(
            max_fields=self.max_form_fields,
            max_field_bytes=self.max_form_field_bytes,
        )

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            stripped = value.strip()
            if stripped.startswith("["):
                return json.loads(stripped)
            return [item.strip() for item in stripped.split(",") if item.strip()]
        return value

    max_jobs_in_flight: int = Field(default=8, ge=1)
    """Work a user may have queued or converting at once, in units: a job counts 1, one with
    ``normalize`` counts ``normalize_job_units`` (429 beyond)."""
    normalize_job_units: int = Field(default=4, ge=1)
    """Units a job with loudness normalization counts (two passes over the audio: several
    times a plain job's CPU); at most ``max_jobs_in_flight``."""
    max_streams_per_user: int = Field(default=10, ge=1)
    """Status streams (``GET /v1/jobs/{id}/events``) a user may have open at once on one
    gateway process (429 beyond)."""
    max_stream_seconds: float = Field(default=900.0, gt=0, le=3600)
    """A status stream ends after this long, whatever the job does; clients reconnect."""

    @property
    def in_flight_limit(self) -> InFlightLimit:
        return InFlightLimit(self.max_jobs_in_flight, min(self.normalize_job_units, self.max_jobs_in_flight))
