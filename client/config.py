"""Where the client keeps things: the tokens (per server) in the user's config directory,
readable by the user alone, and the state of unfinished uploads in the state directory."""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import platformdirs

from client.exits import CliError, ExitCode

__all__ = [
    "DEFAULT_SERVER",
    "Credentials",
    "TokenStore",
    "config_dir",
    "state_dir",
    "write_private",
]

DEFAULT_SERVER = "http://127.0.0.1:8000"
_APP = "vidmp3"


def config_dir() -> Path:
    """``$XDG_CONFIG_HOME/vidmp3`` on Linux (``~/.config/vidmp3``)."""
    return Path(platformdirs.user_config_dir(_APP, appauthor=False))


def state_dir() -> Path:
    """``$XDG_STATE_HOME/vidmp3`` on Linux (``~/.local/state/vidmp3``)."""
    return Path(platformdirs.user_state_dir(_APP, appauthor=False))


def _private_dir(path: Path) -> Path:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)  # mkdir's mode is masked by the umask, and the directory may predate us
    return path


def write_private(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as JSON readable by the user alone (0600 in a 0700 directory),
    atomically: a reader never sees half a file, a crash never leaves one."""
    _private_dir(path.parent)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            json.dump(data, file, indent=2)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return None  # a damaged file is as good as none: the user logs in or uploads anew
    return data if isinstance(data, dict) else None


@dataclass(frozen=True)
class Credentials:
    """A server's session: the short-lived access token and the refresh token that renews it."""

    token: str
    email: str
    expires_at: float
    """Unix time the access token stops working (the server's ``expires_in``)."""
    refresh_token: str | None = None
    refresh_expires_at: float | None = None
    """Unix time the refresh token stops working; past it, only a login helps."""
    issued_at: float | None = None
    """When the access token was issued: its lifetime tells how early to renew it."""

    @property
    def expired(self) -> bool:
        return time.time() >= self.expires_at

    @property
    def renewable(self) -> bool:
        return self.refresh_token is not None and time.time() < (self.refresh_expires_at or float("inf"))

    def due(self, *, margin_seconds: float = 60.0) -> bool:
        """Whether to renew now: within a quarter of its lifetime (at most ``margin_seconds``)
        of expiring, so a request sent now still arrives with a valid token."""
        lifetime = self.expires_at - (self.issued_at or self.expires_at - 4 * margin_seconds)
        return time.time() >= self.expires_at - min(margin_seconds, lifetime / 4)


class TokenStore:
    """Sessions by server URL in ``credentials.json`` (0600, written whole and atomically), so
    one user can use several servers. ``locked`` serializes renewals across processes: a refresh
    token works once, and two commands renewing at the same time must not both spend it."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or config_dir() / "credentials.json"

    def _servers(self) -> dict[str, Any]:
        servers = (read_json(self.path) or {}).get("servers")
        return servers if isinstance(servers, dict) else {}

    def save(self, server: str, credentials: Credentials) -> None:
        servers = self._servers()
        servers[server] = asdict(credentials)
        write_private(self.path, {"servers": servers})

    def forget(self, server: str) -> bool:
        servers = self._servers()
        if servers.pop(server, None) is None:
            return False
        write_private(self.path, {"servers": servers})
        return True

    def load(self, server: str) -> Credentials | None:
        """The stored session of ``server``; ``None`` when there is none, ``CliError`` (exit 3)
        when it is damaged."""
        entry = self._servers().get(server)
        if not isinstance(entry, dict):
            return None
        try:
            return Credentials(**entry)
        except TypeError:
            raise CliError(
                f"The stored login for {server} is damaged.", ExitCode.AUTH, hint="run: vidmp3 login"
            ) from None

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the store's lock (a ``flock`` on a file beside it) for a read-renew-write."""
        lock = self.path.with_name(self.path.name + ".lock")
        lock.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock
