"""The projection rebuilt from the event store equals the live one, after real traffic."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.e2e.conftest import System, wait_for
from tests.e2e.test_flow import upload, wait_terminal


def test_the_rebuild_command_finds_the_live_view_identical(system: System, sample_video: tuple[Path, float]) -> None:
    token = system.new_user_token()
    job_id = upload(system, token, "rebuild.mp4", sample_video[0].read_bytes()).json()["job_id"]
    wait_terminal(system, token, job_id)

    def rebuild() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "projections", "rebuild"],
            env=system.stack.config.environment("projections"),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    # jobs of earlier tests may still be settling: compare once the system is quiet
    result = wait_for(lambda: (r := rebuild()).returncode == 0 and r, timeout=240, interval=2)
    assert " 0 different, 0 only in the live view, 0 only rebuilt" in result.stdout, result.stdout
