"""Run one command as a child process and measure it: wall time, CPU time, peak RSS, and how
busy the machine was meanwhile.

The command runs under ``bench/launch.py``, which takes its ``os.wait4`` resource usage: CPU
time including every descendant it waited for (MoviePy's ffmpeg processes, for one), and the
peak RSS of the largest of them. The machine's load is taken beside it: the 1-minute load
average when the command started, and the cores other work kept busy while it ran (all the
machine's busy CPU time in ``/proc/stat`` over that time, less the command's own, over its
wall time), since a figure taken on a busy shared machine is not one taken on a quiet one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["CommandFailed", "Run", "measure"]


class CommandFailed(RuntimeError):
    """The measured command exited with an error."""


@dataclass(frozen=True)
class Run:
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    report: dict[str, Any] = field(default_factory=dict)
    """What the command printed as JSON on its last line of output, if anything."""
    load_1m: float = 0.0
    """The machine's 1-minute load average when the command started."""
    others_busy: float = 0.0
    """Cores kept busy by other work while the command ran (0 to the number of cores)."""


_LAUNCH = Path(__file__).with_name("launch.py")


def measure(argv: list[str], *, cwd: Path | None = None) -> Run:
    load_1m = os.getloadavg()[0]
    busy_before = _busy_seconds()
    with tempfile.TemporaryDirectory() as scratch:
        usage_file = Path(scratch) / "usage.json"
        launch = [sys.executable, "-I", "-S", str(_LAUNCH), str(usage_file), *argv]
        done = subprocess.run(launch, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, check=False)  # noqa: S603
        if done.returncode != 0:
            stderr = done.stderr.decode(errors="replace")
            raise CommandFailed(f"{' '.join(argv)} exited with {done.returncode}:\n{stderr[-2000:]}")
        usage = json.loads(usage_file.read_text())
    busy = _busy_seconds() - busy_before
    return Run(
        wall_s=usage["wall_s"],
        cpu_s=usage["cpu_s"],
        peak_rss_mb=usage["peak_rss_kb"] / 1024,
        report=_last_json_line(done.stdout.decode(errors="replace")),
        load_1m=load_1m,
        others_busy=max(0.0, (busy - usage["cpu_s"]) / usage["wall_s"]) if usage["wall_s"] > 0 else 0.0,
    )


def _busy_seconds() -> float:
    """CPU seconds all cores have spent on anything but idling since boot (0 where there is no /proc)."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return 0.0
    ticks = [int(value) for value in fields]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle and iowait
    guest = sum(ticks[8:10])  # guest time is counted in user time already
    return (sum(ticks) - guest - idle) / os.sysconf("SC_CLK_TCK")


def _last_json_line(text: str) -> dict[str, Any]:
    lines = text.strip().splitlines()
    if not lines or not lines[-1].startswith("{"):
        return {}
    parsed: dict[str, Any] = json.loads(lines[-1])
    return parsed
