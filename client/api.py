"""The gateway's REST API over httpx, with every failure turned into a ``CliError``: the
problem document's ``title`` and ``detail`` for people, an exit code for scripts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import httpx

from client.exits import CliError, ExitCode, exit_code_for_status

__all__ = ["Api", "job_id_argument", "problem_error", "transport_errors"]

_TIMEOUT = httpx.Timeout(30.0, connect=5.0)


def job_id_argument(text: str) -> UUID:
    """A job id as people paste it: the id, or a URL or path ending with it."""
    candidate = text.strip().rstrip("/").rsplit("/", 1)[-1]
    try:
        return UUID(candidate)
    except ValueError:
        raise CliError(f"{text!r} is not a job id (a UUID such as 3f0c2b7e-8a41-...)", ExitCode.USAGE) from None


def problem_error(response: httpx.Response) -> CliError:
    """The ``CliError`` of an error answer, from its RFC 9457 problem when it has one."""
    title, detail, fields = response.reason_phrase or f"HTTP {response.status_code}", "", []
    try:
        problem = response.json()
    except ValueError:
        problem = None
    if isinstance(problem, dict):
        title = str(problem.get("title") or title)
        detail = str(problem.get("detail") or "")
        errors = problem.get("errors")
        if isinstance(errors, list):
            fields = [
                f"{e['field']}: {e.get('message')}" if e.get("field") else str(e.get("message"))
                for e in errors
                if isinstance(e, dict) and e.get("message") and e.get("message") != detail
            ]
    message = f"{title}: {detail}" if detail and detail != title else title
    if fields:
        message += " (" + "; ".join(fields) + ")"
    status = response.status_code
    hint = None
    if status == 401:
        hint = "run: vidmp3 login"
    elif status == 429:
        hint = f"retry in {response.headers.get('retry-after', 'a few')} seconds"
    return CliError(message, exit_code_for_status(status), status=status, hint=hint)


@contextmanager
def transport_errors(server: str) -> Iterator[None]:
    """Network failures as ``CliError`` (exit 7): the server is down, slow or gone mid-way."""
    try:
        yield
    except (httpx.ConnectError, httpx.ConnectTimeout) as error:
        raise CliError(
            f"cannot reach {server} ({error})",
            ExitCode.UNREACHABLE,
            hint="is the server running? set --server or VIDMP3_SERVER",
        ) from None
    except httpx.TimeoutException:
        raise CliError(f"{server} did not answer in time", ExitCode.UNREACHABLE) from None
    except httpx.TransportError as error:
        raise CliError(f"the connection to {server} failed ({error})", ExitCode.UNREACHABLE) from None


class Api:
    """One server, one token, one connection pool."""

    def __init__(self, server: str, token: str | None = None, *, transport: httpx.BaseTransport | None = None) -> None:
        self.server = server.rstrip("/")
        headers = {"User-Agent": "vidmp3-cli"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.http = httpx.Client(base_url=self.server, headers=headers, timeout=_TIMEOUT, transport=transport)

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
