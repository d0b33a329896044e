"""Resumable uploads over tus 1.0.0: a dropped connection, a killed client or a full day
between two runs cost only the bytes in flight.

Each unfinished upload's URL is kept in a state file named by the server, the file's path,
size and modification time and the options (a changed file starts a new upload); running
the same command again asks the server (HEAD) how far it got and goes on from there.
"""

from __future__ import annotations

import base64
import hashlib
import json
import mimetypes
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx

from client.api import Api, problem_error
from client.config import read_json, state_dir, write_private
from client.exits import CliError, ExitCode
from client.retrying import ATTEMPTS, retrying

__all__ = ["TUS_VERSION", "Throttle", "UploadResult", "UploadStates", "Uploader", "encode_metadata"]

TUS_VERSION = "1.0.0"
_TUS = {"Tus-Resumable": TUS_VERSION}
_READ_SIZE = 256 * 1024
_PATCH_TIMEOUT = httpx.Timeout(connect=5.0, read=300.0, write=60.0, pool=5.0)
"""The PATCH completing an upload waits while the server checks the media and queues the job."""


def encode_metadata(values: Mapping[str, str]) -> str:
    """``Upload-Metadata``: ``key base64(value)`` pairs, comma-separated."""
    return ",".join(f"{key} {base64.b64encode(value.encode()).decode()}" for key, value in values.items())


@dataclass(frozen=True)
class UploadResult:
    file: Path
    job_id: UUID
    upload_url: str
    size: int
    resumed_from: int
    """Bytes the server already had when this run started (0: a new upload)."""


class UploadStates:
    """One small JSON file per unfinished upload, in the user's state directory."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or state_dir() / "uploads"

    @staticmethod
    def key(server: str, path: Path, metadata: str) -> str:
        stat = path.stat()
        identity = [server, str(path.resolve()), stat.st_size, stat.st_mtime_ns, metadata]
        return hashlib.sha256(json.dumps(identity).encode()).hexdigest()[:32]

    def _path(self, key: str) -> Path:
        return self.directory / f"{key}.json"

    def load(self, key: str) -> dict[str, Any] | None:
        return read_json(self._path(key))

    def save(self, key: str, *, url: str, file: Path, offset: int, size: int) -> None:
        write_private(self._path(key), {"url": url, "file": str(file.resolve()), "offset": offset, "size": size})

    def forget(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


class Throttle:
    """Keeps an average rate of at most ``bytes_per_second`` (``None``: as fast as it goes)."""

    def __init__(self, bytes_per_second: float | None) -> None:
        self.rate = bytes_per_second
        self._start = time.monotonic()
        self._sent = 0

    def sent(self, count: int) -> None:
        if not self.rate:
            return
        self._sent += count
        ahead = self._sent / self.rate - (time.monotonic() - self._start)
        if ahead > 0:
            time.sleep(ahead)


class Uploader:
    def __init__(
        self,
        api: Api,
        states: UploadStates | None = None,
        *,
        chunk_size: int = 16 * 1024 * 1024,
        throttle: Throttle | None = None,
    ) -> None:
        self.api, self.states = api, states or UploadStates()
        self.chunk_size, self.throttle = chunk_size, throttle or Throttle(None)

    def upload(
        self,
        path: Path,
        options: Mapping[str, str],
        *,
        started: Callable[[int, int], None] = lambda *_: None,
        progress: Callable[[int], None] = lambda _: None,
    ) -> UploadResult:
        """Upload ``path`` (or finish uploading it); ``started(size, offset)`` once the
        starting offset is known, ``progress(offset)`` as bytes go out."""
        size = path.stat().st_size
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        metadata = encode_metadata({"filename": path.name, "filetype": kind, **options})
        key = self.states.key(self.api.server, path, metadata)
        url, offset, job = self._resume(key)
        if url is None:
            url, offset, job = self._create(size, metadata), 0, None
            self.states.save(key, url=url, file=path, offset=0, size=size)
        resumed_from = offset
        started(size, offset)
        while job is None:
            try:
                offset, job = self._next(url, path, offset, size, progress)
            except CliError as error:
                if error.status in (404, 410, 413, 422):  # the server dropped the upload
                    self.states.forget(key)
                raise
            self.states.save(key, url=url, file=path, offset=offset, size=size)
        self.states.forget(key)
        return UploadResult(file=path, job_id=job, upload_url=url, size=size, resumed_from=resumed_from)

    def _next(
        self, url: str, path: Path, offset: int, size: int, progress: Callable[[int], None]
    ) -> tuple[int, UUID | None]:
        """Send the next chunk; after a failure worth another try (network, 5xx, a busy upload,
        a refused token since renewed), ask the server where the upload stands and go on."""
        try:
            for attempt in retrying(_Retry):
                with attempt:
                    if attempt.num > 1:
                        offset, job = self._where(url)
                        progress(offset)
                        if job is not None:
                            return offset, job
                    return self._patch(url, path, offset, size, progress)
        except _Retry as retry:
            raise CliError(
                f"Uploading {path.name} failed {ATTEMPTS} times in a row ({retry}).",
                ExitCode.UNREACHABLE,
                hint="run the same command again to resume",
            ) from None
        raise AssertionError("retrying ends with a return or an exception")

    def _resume(self, key: str) -> tuple[str | None, int, UUID | None]:
        state = self.states.load(key)
        if not state or not isinstance(state.get("url"), str):
            return None, 0, None
        try:
            offset, job = self._where(state["url"])
        except CliError as error:
            if error.status == 404:  # expired or removed: start again
                self.states.forget(key)
                return None, 0, None
            raise
        except _Retry as retry:
            raise CliError(f"The upload cannot be resumed now ({retry}).", ExitCode.UNREACHABLE) from None
        return state["url"], offset, job

    def _create(self, size: int, metadata: str) -> str:
        response = self.api.call(
            "POST",
            "/v1/uploads",
            ok=(201,),
            headers={**_TUS, "Upload-Length": str(size), "Upload-Metadata": metadata},
        )
        return str(response.headers["location"])

    def _where(self, url: str) -> tuple[int, UUID | None]:
        """The server's offset for ``url``, and the job once the upload is complete."""
        try:
            response = self.api.http.head(url, headers=_TUS)
        except httpx.TransportError:
            raise _Retry("the connection broke off") from None
        if response.status_code >= 500 or response.status_code == 423:
            raise _Retry(f"the server answered {response.status_code}")
        if response.status_code != 200:
            raise problem_error(response)
        return int(response.headers["upload-offset"]), _job_of(response)

    def _patch(
        self, url: str, path: Path, offset: int, size: int, progress: Callable[[int], None]
    ) -> tuple[int, UUID | None]:
        length = min(self.chunk_size, size - offset)
        try:
            response = self.api.http.patch(
                url,
                content=self._read(path, offset, length, progress),
                headers={
                    **_TUS,
                    "Upload-Offset": str(offset),
                    "Content-Type": "application/offset+octet-stream",
                    "Content-Length": str(length),
                },
                timeout=_PATCH_TIMEOUT,
            )
        except httpx.TransportError:
            raise _Retry("the connection broke off") from None
        if response.status_code >= 500 or response.status_code in (409, 423):
            raise _Retry(f"the server answered {response.status_code}")
        if response.status_code == 401:  # the session was renewed meanwhile: a streamed body goes again
            raise _Retry("the server refused the session's token")
        if response.status_code != 204:
            raise problem_error(response)
        return int(response.headers["upload-offset"]), _job_of(response)

    def _read(self, path: Path, offset: int, length: int, progress: Callable[[int], None]) -> Iterator[bytes]:
        with path.open("rb") as file:
            file.seek(offset)
            left = length
            while left > 0:
                block = file.read(min(_READ_SIZE, left))
                if not block:
                    raise CliError(f"{path} got shorter while it was being uploaded.", ExitCode.ERROR)
                left -= len(block)
                self.throttle.sent(len(block))
                yield block
                offset += len(block)
                progress(offset)


class _Retry(Exception):
    """A failure worth another try after asking the server where the upload stands."""


def _job_of(response: httpx.Response) -> UUID | None:
    location = response.headers.get("job-location")
    return UUID(location.rstrip("/").rsplit("/", 1)[-1]) if location else None
