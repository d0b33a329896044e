"""The gateway's copy of auth's revocation log: what it refuses, how it follows the log, and that
it refuses to vouch for tokens when the log is out of reach. Auth is stood in for by an
``httpx.MockTransport`` serving a list of entries."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from auth.schemas import RevocationEntry
from auth.tokens import InvalidToken, Principal
from gateway.revocations import RevocationFeed, RevocationList, RevocationsUnknown, SessionEnded

NOW = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


class Log:
    """Auth's ``GET /v1/revocations``: entries above ``after``, ``limit`` at a time."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []
        self.asked: list[int] = []
        self.down = False

    def add(self, subject: str, expires_at: float = NOW + 900) -> None:
        self.entries.append({"seq": len(self.entries) + 1, "subject": subject, "expires_at": expires_at})

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("auth is away", request=request)
        after, limit = int(request.url.params["after"]), int(request.url.params["limit"])
        self.asked.append(after)
        found = [entry for entry in self.entries if entry["seq"] > after]
        return httpx.Response(200, content=json.dumps({"revocations": found[:limit], "more": len(found) > limit}))


@pytest.fixture
def log() -> Log:
    return Log()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def monotonic() -> Clock:
    return Clock()


@pytest.fixture
def feed(log: Log, clock: Clock, monotonic: Clock) -> RevocationFeed:
    http = httpx.AsyncClient(transport=httpx.MockTransport(log))
    return RevocationFeed(
        http, "http://auth/v1/revocations", max_stale_seconds=30, page_size=2, clock=clock, monotonic=monotonic
    )


def token_of(session: str | None) -> Principal:
    return Principal("7", "ada@example.com", frozenset({"user"}), session_id=session)


def test_a_subject_is_revoked_until_its_entry_expires() -> None:
    revoked = RevocationList()
    revoked.apply(
        [
            RevocationEntry(seq=1, subject="session:a", expires_at=NOW + 10),
            RevocationEntry(seq=2, subject="session:b", expires_at=NOW - 1),
        ],
        NOW,
    )

    assert revoked.revoked("session:a", NOW + 9)
    assert not revoked.revoked("session:a", NOW + 10)
    assert not revoked.revoked("session:b", NOW), "already expired when read"
    assert revoked.last_seq == 2
    assert revoked.forget_expired(NOW + 11) == 1
    assert len(revoked) == 0


async def test_nothing_is_vouched_for_before_the_log_is_read(feed: RevocationFeed) -> None:
    with pytest.raises(RevocationsUnknown):
        feed.check(token_of("a"))
    with pytest.raises(ConnectionError):
        await feed.ready()


async def test_tokens_of_revoked_sessions_are_refused_and_others_taken(feed: RevocationFeed, log: Log) -> None:
    for subject in ("session:a", "session:b", "session:c", "key:9"):
        log.add(subject)

    await feed.catch_up()

    for session in ("a", "b", "c"):
        with pytest.raises(SessionEnded, match="has ended"):
            feed.check(token_of(session))
    feed.check(token_of("d"))
    feed.check(token_of(None))
    await feed.ready()
    assert log.asked == [0, 2], "pages of two, each after the last number seen"


async def test_the_follower_asks_only_for_what_is_new(feed: RevocationFeed, log: Log) -> None:
    log.add("session:a")
    await feed.catch_up()
    log.add("session:b")

    await feed.catch_up()

    assert log.asked == [0, 1]
    with pytest.raises(InvalidToken):
        feed.check(token_of("b"))


async def test_a_log_out_of_reach_for_too_long_stops_every_token(
    feed: RevocationFeed, log: Log, monotonic: Clock
) -> None:
    await feed.catch_up()
    log.down = True
    monotonic.now += 29
    with pytest.raises(httpx.ConnectError):
        await feed.catch_up()
    feed.check(token_of("a"))  # still within the bound

    monotonic.now += 2

    with pytest.raises(RevocationsUnknown):
        feed.check(token_of("a"))
    log.down = False
    await feed.catch_up()
    feed.check(token_of("a"))
