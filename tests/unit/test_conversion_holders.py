"""Whether the process holding a conversion is known to be gone."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

from converter.holders import holder_gone, worker_name


def test_this_process_and_other_hosts_are_not_known_gone() -> None:
    assert not holder_gone(worker_name())
    assert not holder_gone(f"elsewhere-{socket.gethostname()}:1:abc")
    assert not holder_gone("dead:1")  # a name without a pid of this host


def test_an_earlier_life_of_this_pid_is_gone() -> None:
    assert holder_gone(f"{socket.gethostname()}:{os.getpid()}:not-mine")


def test_a_killed_process_is_gone_even_before_it_is_reaped() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    name = f"{socket.gethostname()}:{child.pid}:token"
    try:
        assert not holder_gone(name)
        child.kill()
        # not reaped yet: a zombie still answers kill(pid, 0) but runs no more
        deadline = time.monotonic() + 10
        while not holder_gone(name) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert holder_gone(name)
    finally:
        child.wait()
    assert holder_gone(name)
