"""Read a request body as it arrives, within a size limit, telling a dropped client apart."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from litestar import Request
from litestar.exceptions import ClientException

from gateway.wording import size_words

__all__ = ["ClientDisconnected", "TooLarge", "body_chunks"]


class ClientDisconnected(Exception):
    """The client went away before sending the whole body; nobody reads the answer."""


class TooLarge(ClientException):
    """More than the limit: 413."""

    status_code = 413


async def body_chunks(request: Request[Any, Any, Any], limit: int) -> AsyncIterator[bytes]:
    """The body's chunks; ``TooLarge`` before reading if ``Content-Length`` announces more than
    ``limit`` bytes, or as soon as more arrive.

    Unlike ``Request.stream()``, a disconnect is ``ClientDisconnected`` (not a 500), so a
    resumable upload can keep what arrived before it.
    """
    if (announced := request.content_length) is not None and announced > limit:
        raise TooLarge(f"The upload is over the size limit ({size_words(limit)}).")
    received = 0
    while True:
        message = await request.receive()
        if message["type"] != "http.request":
            raise ClientDisconnected  # "http.disconnect", the only other message of a request
        if chunk := message.get("body", b""):
            received += len(chunk)
            if received > limit:
                raise TooLarge(f"The upload is over the size limit ({size_words(limit)}).")
            yield chunk
        if not message.get("more_body", False):
            return
