"""The client's one backoff: every retry (an upload's next request, a download, a dropped event
stream) waits the same way, through ``stamina``: exponential from half a second to eight,
with jitter, a few attempts in a row before the command gives up (and says how to resume)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from stamina import Attempt, retry_context
from stamina.instrumentation import set_on_retry_hooks

__all__ = ["ATTEMPTS", "retrying", "unreachable"]

ATTEMPTS = 6
"""Tries in a row (the first and five retries) before a command gives up for this run."""

# A command line prints its own messages: no stamina log lines or Prometheus counters.
set_on_retry_hooks([])


def retrying(
    on: type[Exception] | tuple[type[Exception], ...] | Callable[[Exception], bool], *, attempts: int = ATTEMPTS
) -> Iterable[Attempt]:
    """``for attempt in retrying(SomeError): with attempt: ...``: the block again after each
    ``on`` it raises (an exception type, or a test of the exception), waiting longer each
    time; the last one propagates."""
    return retry_context(on=on, attempts=attempts, timeout=None, wait_initial=0.5, wait_max=8.0, wait_jitter=0.5)


def unreachable(error: Exception) -> bool:
    """A failure worth another try: the server could not be reached, or the connection broke."""
    from client.exits import CliError, ExitCode

    return isinstance(error, CliError) and error.code is ExitCode.UNREACHABLE
