"""Who holds a conversion, and whether that process is known to be gone.

A worker's name is ``<host>:<pid>:<token>``, the token new with every process. A converter
that gets a job held by a process of its own host can tell at once whether that process is
dead (no such pid, or a zombie), or was an earlier life of its own pid (a restarted
container is pid 1 again): then the job is taken over without waiting out the lease. A
holder on another host, or a pid that is alive (perhaps reused), is only known gone once its
lease lapses.
"""

from __future__ import annotations

import os
import secrets
import socket
from functools import cache
from pathlib import Path

__all__ = ["holder_gone", "worker_name"]


@cache
def _token() -> str:
    return secrets.token_hex(4)


def worker_name() -> str:
    """This process's name as a holder of conversions."""
    return f"{socket.gethostname()}:{os.getpid()}:{_token()}"


def holder_gone(holder: str) -> bool:
    """Whether the process named ``holder`` is certainly not running any more."""
    host, _, rest = holder.partition(":")
    pid_text, _, token = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return bool(token) and token != _token()
    return not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:
        return True  # cannot tell: assume alive, the lease decides
    # "<pid> (<name>) <state> ...": a zombie (killed, not reaped yet) runs no more
    return stat.rpartition(")")[2].split()[0] != "Z"
