"""Sessions and their refresh tokens, as pure logic: what a presented refresh token is worth.

A login starts a session (the refresh token *family*). Each refresh token is used once: using
it returns a new one (rotation). A token used a second time means two parties hold it, so the
whole session ends (reuse detection), except within a few seconds of its rotation, where a
second use is taken for two browser tabs refreshing at once and answered with a token of the
same session. Clocks are passed in; storage is ``auth.sessions``.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "IssuedRefresh",
    "RefreshPolicy",
    "SessionEnded",
    "SessionState",
    "TokenState",
    "Verdict",
    "WhyEnded",
    "judge",
    "new_refresh_token",
    "refresh_token_hash",
]

_TOKEN_BYTES = 32


def new_refresh_token() -> str:
    """256 random bits, URL-safe: what the client holds (only its hash is stored)."""
    return secrets.token_urlsafe(_TOKEN_BYTES)


def refresh_token_hash(token: str) -> bytes:
    """How a refresh token is stored and found. A fast hash is enough: the token is random,
    not a password, so there is nothing to guess from its hash."""
    return hashlib.sha256(token.encode()).digest()


class WhyEnded(StrEnum):
    """Why a session ended (stored with it, and said to the client in plain words)."""

    UNKNOWN = "unknown"
    EXPIRED = "expired"
    LOGOUT = "logout"
    PASSWORD = "password"  # noqa: S105 (why a session ended, not a secret)
    DISABLED = "disabled"
    DELETED = "deleted"
    REUSE = "reuse"
    CROWDED = "crowded"
    RIGHTS = "rights"
    REVOKED = "revoked"

    @property
    def detail(self) -> str:
        return _DETAILS.get(self, "this session was ended; log in again")


_DETAILS = {
    WhyEnded.UNKNOWN: "this refresh token is not valid; log in again",
    WhyEnded.EXPIRED: "the session expired; log in again",
    WhyEnded.LOGOUT: "this session was signed out; log in again",
    WhyEnded.PASSWORD: "the password was changed, which ends every session; log in with the new password",
    WhyEnded.DISABLED: "the account is disabled",
    WhyEnded.DELETED: "the account no longer exists",
    WhyEnded.REUSE: (
        "this refresh token had already been used, so the session was ended to protect the account; log in again"
    ),
    WhyEnded.CROWDED: "this session was ended because the account started too many newer ones; log in again",
    WhyEnded.RIGHTS: "the account's rights changed, which ends every session; log in again",
}


class SessionEnded(Exception):
    """The refresh token gives no new tokens: ``why`` says what the client should do."""

    def __init__(self, why: WhyEnded) -> None:
        super().__init__(why.detail)
        self.why = why


@dataclass(frozen=True)
class RefreshPolicy:
    """How long refresh tokens and sessions last, and how crowded an account may get."""

    token_seconds: float = 30 * 86400.0
    """A refresh token expires this long after it was issued (each refresh slides it forward)."""
    session_seconds: float = 90 * 86400.0
    """A session ends this long after its login, however often it is refreshed."""
    reuse_grace_seconds: float = 10.0
    """A token used again this soon after its rotation gets a sibling instead of ending the
    session: two tabs of one browser refreshing with the same cookie at once."""
    per_user: int = 100
    """Sessions a user may have at once; a login beyond it ends their oldest."""
    access_seconds: float = 900.0
    """Lifetime of the access tokens issued with each refresh token (kept with the session, so
    ending it can say until when its access tokens must be refused)."""

    def token_expiry(self, session_expires_at: float, now: float) -> float:
        return min(now + self.token_seconds, session_expires_at)


@dataclass(frozen=True)
class IssuedRefresh:
    """A refresh token just issued (the only time it is seen in the clear)."""

    session_id: uuid.UUID
    user_id: int
    token: str
    expires_at: float


@dataclass(frozen=True)
class SessionState:
    user_id: int
    expires_at: float
    ended_at: float | None
    ended_why: WhyEnded | None


@dataclass(frozen=True)
class TokenState:
    expires_at: float
    rotated_at: float | None


class Verdict(StrEnum):
    ROTATE = "rotate"
    """Valid and unused: mark it used and issue its successor."""
    SIBLING = "sibling"
    """Used moments ago (concurrent refreshes): issue another successor, end nothing."""
    REUSED = "reused"
    """Used before, past the grace: end the session."""
    ENDED = "ended"
    """The session ended before: refuse, saying why."""
    EXPIRED = "expired"
    """The token or its session expired: refuse."""


def judge(session: SessionState, token: TokenState, now: float, policy: RefreshPolicy) -> Verdict:
    """What a presented refresh token earns."""
    if session.ended_at is not None:
        return Verdict.ENDED
    if now >= session.expires_at or now >= token.expires_at:
        return Verdict.EXPIRED
    if token.rotated_at is None:
        return Verdict.ROTATE
    if now - token.rotated_at <= policy.reuse_grace_seconds:
        return Verdict.SIBLING
    return Verdict.REUSED
