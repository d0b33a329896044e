"""Requests to addresses users give (webhook endpoints, callbacks), made safely.

A user-given URL must not reach into the system's own network: its host is resolved once,
every address it resolves to must be public (not loopback, private, link-local, multicast,
reserved or unspecified) unless an allowed network holds it, and the request connects to
that very address (the name is not looked up again between the check and the connection,
so a second DNS answer cannot point elsewhere). TLS still checks the certificate against the
name. No redirect is followed, no proxy from the environment is used, every phase has a
timeout and at most ``max_response_bytes`` of the answer are read.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlsplit

import httpx
from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from common.settings import ServiceSettings

__all__ = [
    "DEFAULT_RETRY_DELAYS",
    "Destination",
    "IpNetwork",
    "Outcome",
    "UnsafeUrl",
    "WebhookSettings",
    "check_url",
    "post",
]

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_RETRY_DELAYS = (5.0, 30.0, 120.0, 600.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 28800.0)
"""Seconds before each further attempt of a webhook delivery: about 23.7 hours in all."""

_MAX_URL = 2048


def _split(value: Any) -> Any:
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.startswith("["):
            return json.loads(stripped)
        return [item.strip() for item in stripped.split(",") if item.strip()]
    return value


class WebhookSettings(ServiceSettings):
    """Webhooks: where they may go, how long a request may take, how often they are retried
    (``VIDMP3_WEBHOOK_*``)."""

    webhook_allowed_networks: Annotated[list[IpNetwork], NoDecode] = Field(default_factory=list)
    """Networks webhooks may reach although they are not public (comma-separated CIDRs, e.g.
    ``127.0.0.1/32`` for a single box or tests). Empty by default: only public addresses."""
    webhook_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    """How long a receiver may take to answer (each read, and sending the body)."""
    webhook_max_response_bytes: int = Field(default=16 * 1024, ge=0)
    """What is read of a receiver's answer at most (the start is kept in the delivery log)."""
    webhook_retry_delays: Annotated[list[float], NoDecode] = Field(default_factory=lambda: list(DEFAULT_RETRY_DELAYS))
    """Seconds before each further attempt (comma-separated); after the last, the delivery has failed."""
    webhook_max_endpoints: int = Field(default=10, ge=1, le=100)
    """Endpoints one user may register."""
    webhook_secret_grace_hours: float = Field(default=24.0, ge=0, le=24 * 7)
    """How long a rotated-out secret still signs deliveries (beside the new one), by default."""
    webhook_log_size: int = Field(default=100, ge=10, le=1000)
    """Deliveries kept in each endpoint's log (the oldest go first)."""

    @field_validator("webhook_allowed_networks", "webhook_retry_delays", mode="before")
    @classmethod
    def _split_lists(cls, value: Any) -> Any:
        return _split(value)


class UnsafeUrl(ValueError):
    """A URL webhooks must not go to; its message says why in plain words."""


@dataclass(frozen=True)
class Destination:
    """A checked URL and the one address it is sent to."""

    url: str
    host: str
    address: IpAddress


def _blocked(address: IpAddress, allowed: Sequence[IpNetwork]) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address.version == network.version and address in network for network in allowed):
        return False
    return (
        not address.is_global
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or address.is_loopback
        or address.is_link_local
        or address.is_private
    )


async def _resolve(host: str, port: int) -> list[IpAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout=5.0)
    except (OSError, TimeoutError):
        raise UnsafeUrl(f"The address {host} could not be found (no DNS answer): check the URL.") from None
    return list(dict.fromkeys(ipaddress.ip_address(str(info[4][0]).partition("%")[0]) for info in infos))


async def check_url(url: str, allowed: Sequence[IpNetwork]) -> Destination:
    """``url`` checked and resolved once; ``UnsafeUrl`` if it is not an http(s) URL or any of
    its addresses is not public (and not in ``allowed``)."""
    if len(url) > _MAX_URL:
        raise UnsafeUrl(f"The URL is longer than {_MAX_URL} characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeUrl("This is not a valid URL: it should look like https://example.com/hooks/vidmp3.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeUrl("The URL must start with https:// (or http://) and name a host.")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl("The URL must not hold a user name or password: use the signing secret to trust deliveries.")
    host = parts.hostname
    addresses = await _resolve(host, port or (443 if parts.scheme == "https" else 80))
    if not addresses:
        raise UnsafeUrl(f"The address {host} could not be found (no DNS answer): check the URL.")
    for address in addresses:
        if _blocked(address, allowed):
            raise UnsafeUrl(
                f"{host} leads to {address}, a private, local or reserved address: webhooks go only to "
                "addresses on the public internet."
            )
    return Destination(url=url, host=host, address=addresses[0])


@dataclass(frozen=True)
class Outcome:
    """What one attempt got: a status (``None`` when no answer came), how long it took, what failed."""

    status_code: int | None
    latency_ms: float
    error: str | None = None
    response_excerpt: str = ""

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def create_client(settings: WebhookSettings) -> httpx.AsyncClient:
    """The client webhook requests go through: no redirects, no proxies from the environment."""
    timeout = httpx.Timeout(settings.webhook_timeout_seconds, connect=settings.webhook_connect_timeout_seconds)
    return httpx.AsyncClient(
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
        limits=httpx.Limits(max_connections=50, max_keepalive_connections=0),
    )


async def post(
    client: httpx.AsyncClient,
    destination: Destination,
    body: bytes,
    headers: dict[str, str],
    *,
    max_response_bytes: int,
) -> Outcome:
    """POST ``body`` to ``destination``'s address; never raises for the receiver's sake."""
    parts = urlsplit(destination.url)
    target = httpx.URL(destination.url).copy_with(host=str(destination.address))
    host_header = parts.netloc.rpartition("@")[2]
    extensions = {"sni_hostname": destination.host} if parts.scheme == "https" else {}
    started = time.perf_counter()
    try:
        request = client.build_request(
            "POST",
            target,
            content=body,
            headers={**headers, "Host": host_header, "Content-Type": "application/json"},
            extensions=extensions,
        )
        response = await client.send(request, stream=True)
        try:
            excerpt = bytearray()
            async for chunk in response.aiter_raw():
                excerpt.extend(chunk[: max_response_bytes - len(excerpt)])
                if len(excerpt) >= max_response_bytes:
                    break  # enough: the rest is not read, the connection is closed
        finally:
            await response.aclose()
    except httpx.TimeoutException as error:
        return Outcome(None, _ms(started), f"no answer in time ({type(error).__name__})")
    except httpx.HTTPError as error:
        return Outcome(None, _ms(started), f"could not connect or send ({type(error).__name__}: {error})"[:300])
    status = response.status_code
    error_text = None
    if 300 <= status < 400:
        error_text = "answered with a redirect, which is not followed: give the final URL"
    elif not 200 <= status < 300:
        error_text = f"answered {status}"
    return Outcome(status, _ms(started), error_text, bytes(excerpt[:200]).decode("utf-8", "replace"))


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
