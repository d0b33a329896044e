"""Which processes listen on a TCP port, read from Linux's ``/proc``.

The one-box stack must not mistake another checkout's services (or anything else) on its
ports for its own: answering ``/health`` says nothing about whose code answers. The kernel
knows who holds a listening socket: ``/proc/net/tcp*`` maps the port to a socket inode, and
``/proc/<pid>/fd`` maps inodes to processes (those of the same user, or all of them as root).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Listener", "describe", "listening", "listening_pids"]

_LISTEN = "0A"
PROC = Path("/proc")


@dataclass(frozen=True)
class Listener:
    """A process, as a person deciding whether to stop it needs to see it."""

    pid: int
    command: str
    cwd: Path | None


def _listening_inodes(port: int) -> set[int]:
    inodes = set()
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(FileNotFoundError):
            for line in (PROC / "net" / table).read_text().splitlines()[1:]:
                fields = line.split()
                local, state, inode = fields[1], fields[3], int(fields[9])
                if state == _LISTEN and int(local.rsplit(":", 1)[1], 16) == port:
                    inodes.add(inode)
    return inodes


def listening(port: int) -> bool:
    """Whether any socket listens on ``port`` (on any address)."""
    return bool(_listening_inodes(port))


def listening_pids(port: int) -> set[int]:
    """The processes holding a socket that listens on ``port``; empty when none does, or
    when the holder is not visible to this user (check ``listening``)."""
    inodes = _listening_inodes(port)
    if not inodes:
        return set()
    pids = set()
    for process in PROC.iterdir():
        if not process.name.isdigit():
            continue
        with contextlib.suppress(OSError):  # gone meanwhile, or another user's
            for fd in (process / "fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:[") and int(target[8:-1]) in inodes:
                    pids.add(int(process.name))
                    break
    return pids


def describe(pid: int) -> Listener:
    """The command line and working directory of ``pid``, as far as they can be read."""
    try:
        command = (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        command = "?"
    try:
        cwd: Path | None = Path(os.readlink(PROC / str(pid) / "cwd"))
    except OSError:
        cwd = None
    return Listener(pid, command or "?", cwd)
