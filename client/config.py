"""Where the client keeps things: the tokens (per server) in the user's config directory,
readable by the user alone, and the state of unfinished uploads in the state directory."""

from __future__ import annotations

import json
import os
import tempfile
import time
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
    token: str
    email: str
    expires_at: float
    """Unix time the token stops working (the server's ``expires_in`` from the login)."""

    @property
    def expired(self) -> bool:
        return time.time() >= self.expires_at


class TokenStore:
    """Tokens by server URL in ``credentials.json`` (0600), so one user can use several
    servers; ``VIDMP3_TOKEN`` in the environment wins over the file (CI, scripts)."""

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

    def token(self, server: str) -> str:
        """The token to send to ``server``; ``CliError`` (exit 3) when there is none or it expired."""
        if environment := os.environ.get("VIDMP3_TOKEN", "").strip():
            return environment
        entry = self._servers().get(server)
        if not isinstance(entry, dict):
            raise CliError(f"not logged in to {server}", ExitCode.AUTH, hint="run: vidmp3 login")
        try:
            credentials = Credentials(**entry)
        except TypeError:
            raise CliError(
                f"the stored login for {server} is damaged", ExitCode.AUTH, hint="run: vidmp3 login"
            ) from None
        if credentials.expired:
            raise CliError(
                f"your session with {server} expired ({credentials.email})",
                ExitCode.AUTH,
                hint="run: vidmp3 login",
            )
        return credentials.token
