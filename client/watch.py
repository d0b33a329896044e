"""Follow a job live: the gateway's server-sent events (``/v1/jobs/{id}/events``), reconnecting
when the stream drops, or plain polling of the job (``--poll``)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import httpx

from client.api import Api
from client.exits import CliError, ExitCode
from client.retrying import retrying, unreachable

__all__ = ["MP3_READY", "TERMINAL", "follow", "parse_events"]

TERMINAL = frozenset({"notified", "failed", "cancelled"})
MP3_READY = frozenset({"converted", "notified"})
_STREAM_TIMEOUT = httpx.Timeout(connect=5.0, read=60.0, write=10.0, pool=5.0)
"""The server sends a keep-alive comment every 15 s: a minute of silence is a dead stream."""


def parse_events(lines: Iterator[str]) -> Iterator[tuple[str, str]]:
    """``(event, data)`` of each server-sent event in ``lines`` (comments and ids skipped)."""
    event, data = "message", list[str]()
    for line in lines:
        if not line:
            if data:
                yield event, "\n".join(data)
            event, data = "message", list[str]()
        elif line.startswith(":"):
            continue
        else:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                event = value
            elif name == "data":
                data.append(value)


def follow(api: Api, job_id: UUID, *, poll: bool = False, until: frozenset[str] = TERMINAL) -> Iterator[dict[str, Any]]:
    """The job each time it changes, starting with how it is now, until its state is in ``until``."""
    changes = _polled(api, job_id) if poll else _streamed(api, job_id)
    for job in changes:
        yield job
        if job.get("state") in until:
            return


class _Reconnect(Exception):
    """The stream dropped after it had delivered events: connect again, with a fresh allowance."""


def _streamed(api: Api, job_id: UUID) -> Iterator[dict[str, Any]]:
    while True:  # the server ends a stream after its time limit without a final state: reconnect
        try:
            for attempt in retrying(unreachable):
                with attempt:
                    delivered = False
                    try:
                        with api.stream("GET", f"/v1/jobs/{job_id}/events", timeout=_STREAM_TIMEOUT) as response:
                            for event, data in parse_events(response.iter_lines()):
                                delivered = True
                                if event == "deleted":
                                    raise CliError(f"Job {job_id} was deleted.", ExitCode.NOT_FOUND)
                                if event == "status":
                                    job = json.loads(data)
                                    yield job
                                    if job.get("state") in TERMINAL:
                                        return
                    except CliError as error:
                        if delivered and unreachable(error):
                            raise _Reconnect from None
                        raise
        except _Reconnect:
            continue


def _polled(api: Api, job_id: UUID, interval: float = 1.0) -> Iterator[dict[str, Any]]:
    last = None
    while True:
        job = api.job(job_id)
        if job != last:
            last = job
            yield job
            if job.get("state") in TERMINAL:
                return
        time.sleep(interval)
