"""Signed download links: a job's MP3 fetched with no bearer token, by whoever holds the link.

A link names one job and one stored MP3 and carries its expiry, signed with a key the
services that make links (the notifier for emails, the gateway for job views, later the
webhook sender) share with the gateway, which checks them. It is a compact JWT (HS256,
PyJWT) with its own audience, so no other token is accepted as a link and a link is no
token anywhere else. A link is revoked by deleting its job: the gateway serves it only while
the job and that MP3 still exist.

Expiry times are rounded up to the hour, so every link made for a file within the same hour
is the same URL: a page that polls a job keeps one player source, and caches keep working.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

import jwt
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from common.settings import ServiceSettings

__all__ = [
    "DEV_LINK_KEY",
    "DownloadLink",
    "ExpiredLink",
    "InvalidLink",
    "LinkSettings",
    "LinkSigner",
    "SignedLink",
    "download_path",
]

DEV_LINK_KEY = "vidmp3-development-link-key-refused-in-production"  # public on purpose: production refuses it
_AUDIENCE = "vidmp3-download"
_ALGORITHM = "HS256"
_MIN_KEY_BYTES = 32
_ROUNDING = 3600


class LinkSettings(ServiceSettings):
    """The signing key of download links and how long they last (``VIDMP3_LINK_*``)."""

    link_key: SecretStr = SecretStr(DEV_LINK_KEY)
    """Secret that signs download links (at least 32 bytes; ``vidmp3_link_key`` in the secrets
    directory). Every service that makes or checks links needs the same one."""
    link_previous_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    """Keys that signed before ``link_key``: their links still open until they expire.
    Comma-separated (or a JSON list)."""
    link_lifetime_hours: float = Field(default=7 * 24, gt=0)
    """How long a link works, at most (less when its file expires sooner)."""

    @field_validator("link_previous_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: Any) -> Any:
        if isinstance(value, str):
            stripped = value.strip()
            if stripped.startswith("["):
                return json.loads(stripped)
            return [item.strip() for item in stripped.split(",") if item.strip()]
        return value

    def unsafe_defaults(self) -> list[str]:
        unsafe = super().unsafe_defaults()
        key = self.link_key.get_secret_value()
        if key == DEV_LINK_KEY:
            unsafe.append("link_key (the development key)")
        elif len(key.encode()) < _MIN_KEY_BYTES:
            unsafe.append(f"link_key (shorter than {_MIN_KEY_BYTES} bytes)")
        return unsafe

    def link_signer(self) -> LinkSigner:
        return LinkSigner(
            self.link_key.get_secret_value(),
            previous_keys=[key.get_secret_value() for key in self.link_previous_keys],
            lifetime=timedelta(hours=self.link_lifetime_hours),
        )


class InvalidLink(ValueError):
    """Not a link these services signed (forged, cut short, signed with an unknown key)."""


class ExpiredLink(InvalidLink):
    """A genuine link past its expiry."""


@dataclass(frozen=True)
class DownloadLink:
    """What a verified link grants: the MP3 ``file_id`` of job ``job_id``, until ``expires_at``."""

    job_id: UUID
    file_id: str
    expires_at: datetime


@dataclass(frozen=True)
class SignedLink:
    token: str
    expires_at: datetime

    @property
    def path(self) -> str:
        """Where the gateway serves it (prefix the public URL for an absolute link)."""
        return download_path(self.token)


def download_path(token: str) -> str:
    return f"/v1/downloads/{token}"


class LinkSigner:
    """Signs links with ``key`` and accepts those signed with it or any of ``previous_keys``."""

    def __init__(self, key: str, *, previous_keys: list[str] | None = None, lifetime: timedelta) -> None:
        if not key:
            raise ValueError("the link key is empty")
        self._key, self._keys, self._lifetime = key, [key, *(previous_keys or [])], lifetime

    def sign(
        self, job_id: UUID, file_id: str, *, not_after: datetime | None = None, now: datetime | None = None
    ) -> SignedLink:
        """A link to ``file_id`` of ``job_id`` for the configured lifetime, or until ``not_after``
        (when the file expires) if that is sooner."""
        moment = (now or datetime.now(UTC)) + self._lifetime
        expires = datetime.fromtimestamp(math.ceil(moment.timestamp() / _ROUNDING) * _ROUNDING, UTC)
        if not_after is not None:
            expires = min(expires, not_after.astimezone(UTC).replace(microsecond=0))
        claims = {"aud": _AUDIENCE, "sub": str(job_id), "fid": file_id, "exp": int(expires.timestamp())}
        return SignedLink(jwt.encode(claims, self._key, algorithm=_ALGORITHM), expires)

    def verify(self, token: str) -> DownloadLink:
        """What ``token`` grants; ``ExpiredLink`` past its time, ``InvalidLink`` for anything else."""
        for key in self._keys:
            try:
                claims = jwt.decode(
                    token,
                    key,
                    algorithms=[_ALGORITHM],
                    audience=_AUDIENCE,
                    options={"require": ["exp", "sub", "fid", "aud"]},
                )
            except jwt.ExpiredSignatureError:
                raise ExpiredLink("the link has expired") from None
            except jwt.InvalidSignatureError:
                continue  # maybe signed with an earlier key
            except jwt.InvalidTokenError as error:
                raise InvalidLink(f"not a download link ({error})") from None
            return _granted(claims)
        raise InvalidLink("the link's signature does not match")


def _granted(claims: dict[str, Any]) -> DownloadLink:
    try:
        return DownloadLink(
            job_id=UUID(str(claims["sub"])),
            file_id=str(claims["fid"]),
            expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
        )
    except (ValueError, TypeError):
        raise InvalidLink("the link names no job") from None
