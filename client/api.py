"""The gateway's REST API over httpx, with every failure turned into a ``CliError``: the
problem document's ``title`` and ``detail`` for people, an exit code for scripts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any
from uuid import UUID

import httpx

from client.exits import CliError, ExitCode, exit_code_for_status

__all__ = ["Api", "problem_error", "transport_errors"]

_TIMEOUT = httpx.Timeout(30.0, connect=5.0)


def problem_error(response: httpx.Response) -> CliError:
    """The ``CliError`` of an error answer: the problem's ``detail`` (written for people) as
    the message, never a library's words; the whole problem is kept for ``--json``."""
    problem: Any = None
    with suppress(ValueError):
        problem = response.json()
    if not isinstance(problem, dict):
        problem = None
    detail = str((problem or {}).get("detail") or "").strip()
    message = detail or f"The server answered {response.status_code} {response.reason_phrase}.".replace(" .", ".")
    status = response.status_code
    hint = None
    if status == 401:
        hint = "run: vidmp3 login"
    elif status == 429:
        hint = f"retry in {response.headers.get('retry-after', 'a few')} seconds"
    return CliError(message, exit_code_for_status(status), status=status, hint=hint, problem=problem)


@contextmanager
def transport_errors(server: str) -> Iterator[None]:
    """Network failures as ``CliError`` (exit 7): the server is down, slow or gone mid-way."""
    try:
        yield
    except (httpx.ConnectError, httpx.ConnectTimeout):
        raise CliError(
            f"Cannot reach {server}: nothing answers there.",
            ExitCode.UNREACHABLE,
            hint="is the server running? set --server or VIDMP3_SERVER",
        ) from None
    except httpx.TimeoutException:
        raise CliError(f"{server} did not answer in time.", ExitCode.UNREACHABLE) from None
    except httpx.TransportError:
        raise CliError(f"The connection to {server} broke off.", ExitCode.UNREACHABLE) from None


class Api:
    """One server, one session (``auth``: its token, renewed as needed), one connection pool."""

    def __init__(
        self, server: str, auth: httpx.Auth | None = None, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.server = server.rstrip("/")
        self.http = httpx.Client(
            base_url=self.server, headers={"User-Agent": "vidmp3-cli"}, auth=auth, timeout=_TIMEOUT, transport=transport
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def call(self, method: str, path: str, *, ok: tuple[int, ...] = (200,), **kwargs: Any) -> httpx.Response:
        """Send one request; any status outside ``ok`` raises its ``CliError``."""
        with transport_errors(self.server):
            response = self.http.request(method, path, **kwargs)
        if response.status_code not in ok:
            raise problem_error(response)
        return response

    @contextmanager
    def stream(
        self, method: str, path: str, *, ok: tuple[int, ...] = (200,), **kwargs: Any
    ) -> Iterator[httpx.Response]:
        """A streamed answer (downloads, events); network failures mid-way are ``CliError`` too."""
        with transport_errors(self.server), self.http.stream(method, path, **kwargs) as response:
            if response.status_code not in ok:
                response.read()
                raise problem_error(response)
            yield response

    def login(self, email: str, password: str) -> dict[str, Any]:
        return dict(self.call("POST", "/v1/auth/login", json={"email": email, "password": password}).json())

    def job(self, job_id: UUID) -> dict[str, Any]:
        return dict(self.call("GET", f"/v1/jobs/{job_id}").json())

    def jobs(self, *, limit: int = 20, cursor: str | None = None, everyone: bool = False) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        if everyone:
            params["all"] = "true"
        return dict(self.call("GET", "/v1/jobs", params=params).json())

    def cancel(self, job_id: UUID) -> dict[str, Any]:
        return dict(self.call("POST", f"/v1/jobs/{job_id}/cancel").json())

    def delete(self, job_id: UUID) -> None:
        self.call("DELETE", f"/v1/jobs/{job_id}", ok=(204,))

    def create_key(self, name: str, scopes: list[str], expires_in_days: int | None) -> dict[str, Any]:
        body: dict[str, Any] = {"name": name, "scopes": scopes}
        if expires_in_days is not None:
            body["expires_in_days"] = expires_in_days
        return dict(self.call("POST", "/v1/keys", json=body, ok=(201,)).json())

    def keys(self) -> list[dict[str, Any]]:
        return list(self.call("GET", "/v1/keys").json()["keys"])

    def revoke_key(self, key_id: str) -> None:
        self.call("DELETE", f"/v1/keys/{key_id}", ok=(204,))
