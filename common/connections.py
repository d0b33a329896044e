"""Slow clients are cut off: uvicorn's HTTP/1.1 protocol with header and body read timeouts.

uvicorn (0.54, h11) bounds the idle time between two requests of a connection, nothing else:
a client that connects and sends nothing, sends its headers a byte at a time, or announces a
large body and trickles it, holds the connection (and its memory, and a task) for as long as
it likes. ``timed_h11`` adds the two bounds Apache's ``mod_reqtimeout`` has:

- the headers of a request must be complete within ``header_seconds`` of its first byte (or
  of the connection, for its first request), else the connection gets a 408 and is closed;
- while a request's body is being sent, every ``body_seconds`` window must bring at least
  ``body_min_bytes``, else the connection is closed (the application reads a disconnect).
  A window in which the server stopped reading (the application had not taken what arrived:
  flow control) does not count against the client.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["timed_h11"]

_REQUEST_TIMEOUT = b"HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"


class _WatchedFlow(FlowControl):
    """Flow control that remembers whether reading was paused since it was last asked."""

    def __init__(self, transport: asyncio.Transport) -> None:
        super().__init__(transport)
        self.paused_lately = False

    def pause_reading(self) -> None:
        self.paused_lately = True
        super().pause_reading()

    def take_paused_lately(self) -> bool:
        paused, self.paused_lately = self.paused_lately or self.read_paused, False
        return paused


def timed_h11(header_seconds: float, body_seconds: float, body_min_bytes: int) -> type[H11Protocol]:
    """uvicorn's h11 protocol with these timeouts, for ``uvicorn.run(http=...)``."""

    class TimedH11Protocol(H11Protocol):
        _header_timer: asyncio.TimerHandle | None = None
        _body_timer: asyncio.TimerHandle | None = None
        _body_bytes = 0

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self.flow = _WatchedFlow(transport)
            self._arm_header_timer()

        def connection_lost(self, exc: Exception | None) -> None:
            self._cancel_timers()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if self.conn.their_state is h11.IDLE and self._header_timer is None:
                self._arm_header_timer()  # the first byte of a request on a kept-alive connection
            super().data_received(data)
            if self.conn.their_state is not h11.IDLE and self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None
            if self.conn.their_state is h11.SEND_BODY:
                self._body_bytes += len(data)
                if self._body_timer is None:
                    self._body_bytes = 0
                    self._body_timer = self.loop.call_later(body_seconds, self._check_body)

        def _arm_header_timer(self) -> None:
            self._header_timer = self.loop.call_later(header_seconds, self._headers_too_slow)

        def _headers_too_slow(self) -> None:
            self._header_timer = None
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                self.logger.info("%s: no complete request headers within %g s, closing", self.client, header_seconds)
                self.transport.write(_REQUEST_TIMEOUT)
                self.transport.close()

        def _check_body(self) -> None:
            self._body_timer = None
            if self.conn.their_state is not h11.SEND_BODY or self.transport.is_closing():
                return
            flow: Any = self.flow
            if not flow.take_paused_lately() and self._body_bytes < body_min_bytes:
                self.logger.info(
                    "%s: %d body bytes in %g s, fewer than %d, closing",
                    self.client,
                    self._body_bytes,
                    body_seconds,
                    body_min_bytes,
                )
                self.transport.close()
                return
            self._body_bytes = 0
            self._body_timer = self.loop.call_later(body_seconds, self._check_body)

        def _cancel_timers(self) -> None:
            for timer in (self._header_timer, self._body_timer):
                if timer is not None:
                    timer.cancel()
            self._header_timer = self._body_timer = None

    return TimedH11Protocol
