"""``vidmp3 keys`` against the running system, and the CLI working with a key alone
(``VIDMP3_API_KEY``), as a script on a server would run it."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import System, wait_for
from tests.e2e.test_cli import Cli
from tests.e2e.test_flow import bearer


@pytest.fixture
def logged_in(system: System, tmp_path: Path) -> Cli:
    cli = Cli(home=tmp_path / "home", server=system.gateway)
    cli.login(*system.create_user())
    return cli


def test_keys_are_created_listed_and_revoked_from_the_command_line(
    logged_in: Cli, system: System, tmp_path: Path, sample_video: tuple[Path, float]
) -> None:
    created = logged_in("keys", "create", "backup script", "--scope", "jobs:read", "--scope", "jobs:write")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert key.startswith("vmk_"), "the key alone on stdout"
    assert "only time" in created.stderr

    listed = logged_in.json("keys", "list")
    assert [item["name"] for item in listed] == ["backup script"]
    assert key not in logged_in("keys", "list").stdout
    key_id = listed[0]["id"]
    assert key_id in logged_in("keys", "list").stdout

    # a script elsewhere, with the key and nothing else
    script = Cli(home=tmp_path / "script", server=system.gateway)
    uploaded = script.json("upload", str(sample_video[0]), VIDMP3_API_KEY=key)
    assert uploaded[0]["job_id"]
    assert script.json("jobs", VIDMP3_API_KEY=key)["items"][0]["job_id"] == uploaded[0]["job_id"]
    refused = script("keys", "list", VIDMP3_API_KEY=key)
    assert refused.returncode == 3, refused.stdout + refused.stderr
    assert "log in" in refused.stderr

    revoked = logged_in("keys", "revoke", key_id)
    assert revoked.returncode == 0, revoked.stderr
    assert logged_in.json("keys", "list") == []
    wait_for(lambda: script("jobs", VIDMP3_API_KEY=key).returncode == 3, timeout=30.0)
    assert "revoked" in script("jobs", VIDMP3_API_KEY=key).stderr


def test_a_read_only_key_with_an_expiry(logged_in: Cli, system: System) -> None:
    created = logged_in.json("keys", "create", "status board", "--scope", "jobs:read", "--expires-in", "7")
    assert created["scopes"] == ["jobs:read"]
    assert created["expires_at"] is not None
    assert httpx.get(f"{system.gateway}/v1/jobs", headers=bearer(created["key"])).status_code == 200

    wrong = logged_in("keys", "create", "x", "--scope", "admin")
    assert wrong.returncode == 2
    assert "not one of" in wrong.stderr
    not_an_id = logged_in("keys", "revoke", "nonsense")
    assert not_an_id.returncode == 2
    unknown = logged_in("keys", "revoke", "000000000000")
    assert unknown.returncode == 4, unknown.stderr
