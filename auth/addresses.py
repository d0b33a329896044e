"""Which client a request comes from, for per-address rate limits.

The connection's peer, unless the peer is a trusted proxy (the gateway): then the
``X-Forwarded-For`` list, read from the right, skipping trusted proxies. Entries left of the
first untrusted one were written by the client itself and are never believed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

__all__ = ["IPNetwork", "client_address", "rate_limit_key"]

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _parse(entry: str) -> IPAddress | None:
    """An address from a forwarded entry: ``1.2.3.4``, ``1.2.3.4:567``, ``::1``, ``[::1]:567``."""
    entry = entry.strip()
    if entry.startswith("["):
        entry = entry[1 : entry.find("]")] if "]" in entry else ""
    elif entry.count(":") == 1:
        entry = entry.partition(":")[0]
    try:
        address = ipaddress.ip_address(entry)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: IPAddress | None, proxies: Sequence[IPNetwork]) -> bool:
    return address is not None and any(address.version == net.version and address in net for net in proxies)


def client_address(peer: str | None, forwarded_for: Sequence[str], trusted_proxies: Sequence[IPNetwork]) -> str:
    """The client's address as text (the peer as given when it is not an IP address)."""
    peer_address = _parse(peer or "")
    if not _trusted(peer_address, trusted_proxies):
        return str(peer_address or peer or "unknown")
    client: IPAddress | None = peer_address
    entries = [entry for header in forwarded_for for entry in header.split(",")]
    for entry in reversed(entries):
        address = _parse(entry)
        if address is None:
            break  # a proxy we trust wrote nonsense: stop at the last address it vouched for
        client = address
        if not _trusted(address, trusted_proxies):
            break
    return str(client)


def rate_limit_key(address: str) -> str:
    """IPv6 clients get a /64 each (one subscriber's usual share), not one bucket per address."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)
