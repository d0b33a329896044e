"""In-memory stand-ins for the auth service's ports (users, lockouts, sessions), for testing
``auth.service.Accounts`` alone. The MySQL adapters are tested against MySQL in
``tests/integration``."""

from __future__ import annotations

import dataclasses
import uuid

from auth.emails import normalize_email
from auth.refresh import (
    IssuedRefresh,
    RefreshPolicy,
    SessionEnded,
    SessionState,
    TokenState,
    Verdict,
    WhyEnded,
    judge,
    new_refresh_token,
)
from auth.throttling import Attempt, Failures, GuessingPolicy, TooManyAttempts
from auth.users import User, UserExists

__all__ = ["Clock", "MemoryLockouts", "MemorySessions", "MemoryUsers"]


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


class MemoryUsers:
    def __init__(self) -> None:
        self.rows: dict[int, User] = {}
        self._next_id = 1

    async def create(self, email: str, password_hash: str, *, is_admin: bool = False) -> User:
        if await self.by_email(email) is not None:
            raise UserExists(email)
        user = User(self._next_id, normalize_email(email), password_hash, is_admin, True)
        self._next_id += 1
        self.rows[user.id] = user
        return user

    async def by_email(self, email: str) -> User | None:
        return next((user for user in self.rows.values() if user.email == normalize_email(email)), None)

    async def by_id(self, user_id: int) -> User | None:
        return self.rows.get(user_id)

    async def set_password_hash(self, user_id: int, password_hash: str) -> None:
        self.rows[user_id] = dataclasses.replace(self.rows[user_id], password_hash=password_hash)

    async def set_active(self, user_id: int, *, active: bool) -> bool:
        if user_id not in self.rows:
            return False
        self.rows[user_id] = dataclasses.replace(self.rows[user_id], is_active=active)
        return True

    async def set_admin(self, user_id: int, *, admin: bool) -> bool:
        if user_id not in self.rows:
            return False
        self.rows[user_id] = dataclasses.replace(self.rows[user_id], is_admin=admin)
        return True

    async def delete(self, user_id: int) -> bool:
        return self.rows.pop(user_id, None) is not None


class MemoryLockouts:
    """Failures and known addresses in dictionaries, judged by the same ``GuessingPolicy``."""

    def __init__(self, policy: GuessingPolicy, clock: Clock) -> None:
        self.policy, self.clock = policy, clock
        self.failures: dict[bytes, Failures] = {}
        self.known: dict[bytes, float] = {}

    async def begin_attempt(self, attempt: Attempt) -> TooManyAttempts | None:
        now = self.clock()
        account, address = self.failures.get(attempt.account), self.failures.get(attempt.address)
        known = self.known.get(attempt.address, -float("inf")) > now - self.policy.known_address_seconds
        if (refusal := self.policy.refusal(account, address, known=known, now=now)) is not None:
            return refusal
        self.failures[attempt.account] = self.policy.per_account.after_attempt(account, now)
        self.failures[attempt.address] = self.policy.per_address.after_attempt(address, now)
        return None

    async def succeeded(self, attempt: Attempt) -> None:
        self.failures.pop(attempt.account, None)
        self.failures.pop(attempt.address, None)
        self.known[attempt.address] = self.clock()


class MemorySessions:
    """Sessions and refresh tokens in dictionaries, judged by the same ``auth.refresh.judge``."""

    def __init__(self, users: MemoryUsers, policy: RefreshPolicy, clock: Clock) -> None:
        self.users, self.policy, self.clock = users, policy, clock
        self.sessions: dict[uuid.UUID, SessionState] = {}
        self.tokens: dict[str, tuple[uuid.UUID, TokenState]] = {}
        self.created: dict[uuid.UUID, float] = {}

    async def start(self, user: User) -> IssuedRefresh | None:
        current = self.users.rows.get(user.id)
        if current is None or not current.is_active or current.password_hash != user.password_hash:
            return None
        now = self.clock()
        session_id = uuid.uuid4()
        self.sessions[session_id] = SessionState(user.id, now + self.policy.session_seconds, None, None)
        self.created[session_id] = now
        issued = self._issue(session_id, now)
        going = sorted(
            (created, sid)
            for sid, created in self.created.items()
            if self.sessions[sid].user_id == user.id and self.sessions[sid].ended_at is None
        )
        for _, sid in going[: max(0, len(going) - self.policy.per_user)]:
            self._end(sid, WhyEnded.CROWDED)
        return issued

    def _issue(self, session_id: uuid.UUID, now: float) -> IssuedRefresh:
        session = self.sessions[session_id]
        token = new_refresh_token()
        expires_at = self.policy.token_expiry(session.expires_at, now)
        self.tokens[token] = (session_id, TokenState(expires_at, None))
        return IssuedRefresh(session_id, session.user_id, token, expires_at)

    def _end(self, session_id: uuid.UUID, why: WhyEnded) -> None:
        session = self.sessions[session_id]
        if session.ended_at is None:
            self.sessions[session_id] = dataclasses.replace(session, ended_at=self.clock(), ended_why=why)

    async def rotate(self, token: str) -> IssuedRefresh:
        if token not in self.tokens:
            raise SessionEnded(WhyEnded.UNKNOWN)
        session_id, state = self.tokens[token]
        session = self.sessions[session_id]
        now = self.clock()
        verdict = judge(session, state, now, self.policy)
        if verdict is Verdict.ROTATE:
            self.tokens[token] = (session_id, dataclasses.replace(state, rotated_at=now))
        if verdict in (Verdict.ROTATE, Verdict.SIBLING):
            return self._issue(session_id, now)
        if verdict is Verdict.REUSED:
            self._end(session_id, WhyEnded.REUSE)
            raise SessionEnded(WhyEnded.REUSE)
        if verdict is Verdict.ENDED:
            raise SessionEnded(session.ended_why or WhyEnded.REVOKED)
        raise SessionEnded(WhyEnded.EXPIRED)

    async def end(self, session_id: uuid.UUID, why: WhyEnded) -> None:
        self._end(session_id, why)

    async def end_by_token(self, token: str, why: WhyEnded = WhyEnded.LOGOUT) -> uuid.UUID | None:
        if token not in self.tokens:
            return None
        session_id = self.tokens[token][0]
        self._end(session_id, why)
        return session_id

    async def end_all(self, user_id: int, why: WhyEnded) -> int:
        going = [sid for sid, s in self.sessions.items() if s.user_id == user_id and s.ended_at is None]
        for session_id in going:
            self._end(session_id, why)
        return len(going)

    async def going(self, session_id: uuid.UUID) -> bool:
        session = self.sessions.get(session_id)
        return session is not None and session.ended_at is None and self.clock() < session.expires_at

    def count(self, user_id: int) -> int:
        """Sessions of the user that have not ended."""
        return sum(s.user_id == user_id and s.ended_at is None for s in self.sessions.values())
