"""A real HTTP receiver for webhook tests: an ``http.server`` on a free loopback port, in a
thread, keeping every request it gets; each path answers as the test tells it to."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Received", "Receiver", "receiving"]


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: str

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


Answer = Callable[[Received, int], int]
"""Given a request and how many times its webhook-id came to this path before, the status to answer."""


class Receiver:
    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.answers: dict[str, Answer] = {}
        self._lock = threading.Lock()
        self.port = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def got(self, path: str, job_id: str | None = None) -> list[Received]:
        with self._lock:
            return [
                r for r in self.requests if r.path == path and (job_id is None or r.event["data"]["job_id"] == job_id)
            ]

    def types(self, path: str, job_id: str) -> list[str]:
        return [r.event["type"] for r in self.got(path, job_id)]

    def _handle(self, received: Received) -> int:
        with self._lock:
            before = sum(
                1
                for r in self.requests
                if r.path == received.path and r.headers.get("webhook-id") == received.webhook_id
            )
            self.requests.append(received)
        answer = self.answers.get(received.path)
        return 200 if answer is None else answer(received, before)


@contextmanager
def receiving() -> Iterator[Receiver]:
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length).decode()
            headers = {key.lower(): value for key, value in self.headers.items()}
            status = receiver._handle(Received(self.path, headers, body))
            payload = b'{"ok": true}' if status < 300 else b'{"error": "not now"}'
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the sender was killed or gave up waiting: what it sent is recorded

        def log_message(self, format: str, *args: object) -> None:
            pass  # quiet: the test reads what it got

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
