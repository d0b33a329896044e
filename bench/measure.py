"""Run one command as a child process and measure it: wall time, CPU time, peak RSS.

The command runs under ``bench/launch.py``, which takes its ``os.wait4`` resource usage: CPU
time including every descendant it waited for (MoviePy's ffmpeg processes, for one), and the
peak RSS of the largest of them.
"""

from __future__ import annotations

import json
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


_LAUNCH = Path(__file__).with_name("launch.py")


def measure(argv: list[str], *, cwd: Path | None = None) -> Run:
    with tempfile.TemporaryDirectory() as scratch:
        usage_file = Path(scratch) / "usage.json"
        launch = [sys.executable, "-I", "-S", str(_LAUNCH), str(usage_file), *argv]
        done = subprocess.run(launch, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, check=False)  # noqa: S603
        if done.returncode != 0:
            stderr = done.stderr.decode(errors="replace")
            raise CommandFailed(f"{' '.join(argv)} exited with {done.returncode}:\n{stderr[-2000:]}")
        usage = json.loads(usage_file.read_text())
    return Run(
        wall_s=usage["wall_s"],
        cpu_s=usage["cpu_s"],
        peak_rss_mb=usage["peak_rss_kb"] / 1024,
        report=_last_json_line(done.stdout.decode(errors="replace")),
    )


def _last_json_line(text: str) -> dict[str, Any]:
    lines = text.strip().splitlines()
    if not lines or not lines[-1].startswith("{"):
        return {}
    parsed: dict[str, Any] = json.loads(lines[-1])
    return parsed
