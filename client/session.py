"""A session that renews itself: the access token lives minutes, the refresh token days, so the
client renews the access token before it expires (and when the server refuses it), and a
multi-GB upload or an hour's ``--wait`` goes on.

The server rotates refresh tokens: each works once, and a used one sent again revokes the whole
session. So a renewal happens under the credential store's lock, re-reads the store first (another
command may have renewed already), and stores the new pair (atomically, 0600) before using it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Generator
from typing import Any

import httpx

from client.api import problem_error, transport_errors
from client.config import Credentials, TokenStore
from client.exits import CliError, ExitCode

__all__ = ["RefreshingAuth", "SessionKeeper", "credentials_from"]

_TIMEOUT = httpx.Timeout(30.0, connect=5.0)


def credentials_from(answer: dict[str, Any], email: str) -> Credentials:
    """The session a login or renewal answered (``access_token``, ``expires_in``, and
    ``refresh_token``, ``refresh_expires_in`` where the server issues them)."""
    now = time.time()
    refresh_in = answer.get("refresh_expires_in")
    return Credentials(
        token=str(answer["access_token"]),
        email=email,
        expires_at=now + float(answer.get("expires_in", 0)),
        refresh_token=answer.get("refresh_token"),
        refresh_expires_at=None if refresh_in is None else now + float(refresh_in),
        issued_at=now,
    )


class SessionKeeper:
    """One server's session, kept valid."""

    def __init__(self, server: str, store: TokenStore, *, transport: httpx.BaseTransport | None = None) -> None:
        self.server, self.store, self._transport = server, store, transport
        self.fixed = os.environ.get("VIDMP3_API_KEY", "").strip() or os.environ.get("VIDMP3_TOKEN", "").strip() or None
        """An API key (``VIDMP3_API_KEY``) or a token (``VIDMP3_TOKEN``) from the environment (CI,
        scripts): used as it is, never renewed; the key wins when both are set."""

    def _ended(self, why: str) -> CliError:
        return CliError(f"{why}: log in again.", ExitCode.AUTH, hint="run: vidmp3 login")

    def _current(self) -> Credentials:
        credentials = self.store.load(self.server)
        if credentials is None:
            raise CliError(f"You are not logged in to {self.server}.", ExitCode.AUTH, hint="run: vidmp3 login")
        return credentials

    def access_token(self) -> str:
        """A token valid for a while yet: the stored one, or a renewed one."""
        if self.fixed:
            return self.fixed
        credentials = self._current()
        if not credentials.due():
            return credentials.token
        if credentials.renewable:
            return self.renew(credentials.token)
        if credentials.expired:
            raise self._ended(f"Your session with {self.server} has expired ({credentials.email})")
        return credentials.token

    @property
    def renewable(self) -> bool:
        return self.fixed is None

    def renew(self, stale: str) -> str:
        """Renew the session whose access token ``stale`` is due or was refused; another
        command's renewal, if it came first, is used instead of spending the token again."""
        with self.store.locked():
            credentials = self._current()
            if credentials.token != stale and not credentials.due():
                return credentials.token  # renewed meanwhile by another command
            if not credentials.renewable or credentials.refresh_token is None:
                raise self._ended(f"Your session with {self.server} has expired ({credentials.email})")
            response = self._post("/v1/auth/refresh", credentials.refresh_token)
            if response.status_code == 401:
                self.store.forget(self.server)
                raise self._ended(f"Your session with {self.server} has ended")
            if response.status_code != 200:
                raise problem_error(response)
            renewed = credentials_from(response.json(), credentials.email)
            self.store.save(self.server, renewed)  # before use: the old refresh token is spent
            return renewed.token

    def _post(self, path: str, refresh_token: str) -> httpx.Response:
        headers = {"User-Agent": "vidmp3-cli"}
        with transport_errors(self.server), httpx.Client(timeout=_TIMEOUT, transport=self._transport) as http:
            return http.post(f"{self.server}{path}", json={"refresh_token": refresh_token}, headers=headers)

    def revoke(self) -> bool:
        """End the session on the server (its refresh token stops working) and forget it here;
        whether there was one."""
        with self.store.locked():
            credentials = self.store.load(self.server)
            if credentials is None:
                return False
            if credentials.refresh_token is not None and credentials.renewable:
                response = self._post("/v1/auth/logout", credentials.refresh_token)
                # 401: already revoked or expired, which is what logging out wants
                if response.status_code >= 400 and response.status_code != 401:
                    raise problem_error(response)
            return self.store.forget(self.server)


class RefreshingAuth(httpx.Auth):
    """Sends the session's access token, renewed when due; a request the server refuses with 401
    is sent again once with a renewed token when its body can be sent again (an upload's
    streamed body cannot: its 401 reaches the caller, whose next request has the new token)."""

    def __init__(self, keeper: SessionKeeper) -> None:
        self.keeper = keeper

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self.keeper.access_token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code != 401 or not self.keeper.renewable:
            return
        renewed = self.keeper.renew(token)
        if isinstance(request.stream, httpx.ByteStream):
            request.headers["Authorization"] = f"Bearer {renewed}"
            yield request
