"""API keys through the gateway, with every service running (issue 14): a person creates keys,
a program uses one as its bearer credential within its scopes, and a revoked or expired key
stops within seconds. The key itself is shown once and never logged."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import httpx
from mysql.connector.aio import MySQLConnection

from auth.database import connection_options
from tests.e2e.conftest import System, wait_for
from tests.e2e.test_flow import bearer, upload

WITHIN = 30.0
"""Generous deadline: the gateway reads the revocation log every second and keeps auth's answer
about a key 5 seconds; a busy machine may be slower. A gateway that never asked again would take
the key for ever."""

KEY_SHAPE = re.compile(r"^vmk_[0-9a-f]{12}_[A-Za-z0-9_-]{40,}$")


def create_key(system: System, token: str, name: str = "a script", **body: Any) -> dict[str, Any]:
    response = httpx.post(f"{system.gateway}/v1/keys", json={"name": name, **body}, headers=bearer(token))
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    return dict(response.json())


def jobs_status(system: System, credential: str) -> int:
    return httpx.get(f"{system.gateway}/v1/jobs", headers=bearer(credential)).status_code


def set_expiry(system: System, key_id: str, expires_at: float) -> None:
    async def update() -> None:
        connection = MySQLConnection(**connection_options(system.mysql_url))
        await connection.connect()
        try:
            cursor = await connection.cursor()
            await cursor.execute("UPDATE api_keys SET expires_at = %s WHERE id = %s", (expires_at, key_id))
            await cursor.close()
        finally:
            await connection.close()

    asyncio.run(update())


def test_a_key_creates_a_job_and_reads_it(system: System, sample_video: tuple[Path, float]) -> None:
    token = system.new_user_token()
    created = create_key(system, token, "upload script", expires_in_days=30)
    key = created["key"]
    assert KEY_SHAPE.match(key), key
    assert created["scopes"] == ["jobs:read", "jobs:write"]
    assert key.startswith(created["prefix"])
    assert len(created["prefix"]) < len(key) // 2
    assert created["expires_at"] is not None

    accepted = upload(system, key, "clip.mp4", sample_video[0].read_bytes())

    assert accepted.status_code == 202, accepted.text
    job_id = accepted.json()["job_id"]
    job = httpx.get(f"{system.gateway}/v1/jobs/{job_id}", headers=bearer(key))
    assert job.status_code == 200, job.text
    listed = httpx.get(f"{system.gateway}/v1/jobs", headers=bearer(key)).json()["items"]
    assert [item["job_id"] for item in listed] == [job_id]
    # the person sees the job the key made: it is theirs
    assert httpx.get(f"{system.gateway}/v1/jobs/{job_id}", headers=bearer(token)).status_code == 200


def test_keys_are_listed_without_their_secrets_and_record_their_use(system: System) -> None:
    token = system.new_user_token()
    first = create_key(system, token, "first", scopes=["jobs:read"])
    second = create_key(system, token, "second")
    assert jobs_status(system, first["key"]) == 200

    listed = httpx.get(f"{system.gateway}/v1/keys", headers=bearer(token))

    assert listed.status_code == 200, listed.text
    keys = listed.json()["keys"]
    assert [key["id"] for key in keys] == [second["id"], first["id"]], "newest first"
    assert all("key" not in key for key in keys)
    assert first["key"] not in listed.text
    assert second["key"] not in listed.text
    by_id = {key["id"]: key for key in keys}
    assert by_id[first["id"]]["last_used_at"] is not None
    assert by_id[second["id"]]["last_used_at"] is None
    assert by_id[first["id"]]["scopes"] == ["jobs:read"]
    # someone else sees none of them
    stranger = system.new_user_token()
    assert httpx.get(f"{system.gateway}/v1/keys", headers=bearer(stranger)).json()["keys"] == []
    refused = httpx.delete(f"{system.gateway}/v1/keys/{first['id']}", headers=bearer(stranger))
    assert refused.status_code == 404, refused.text


def test_a_read_only_key_cannot_create_a_job(system: System, sample_video: tuple[Path, float]) -> None:
    token = system.new_user_token()
    key = create_key(system, token, "status board", scopes=["jobs:read"])["key"]
    assert jobs_status(system, key) == 200

    refused = upload(system, key, "clip.mp4", sample_video[0].read_bytes())

    assert refused.status_code == 403, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "jobs:write" in refused.json()["detail"]
    tus = httpx.post(
        f"{system.gateway}/v1/uploads",
        headers={**bearer(key), "Tus-Resumable": "1.0.0", "Upload-Length": "10"},
    )
    assert tus.status_code == 403, tus.text


def test_a_key_cannot_manage_keys_or_act_as_admin(system: System) -> None:
    admin = system.login(*system.create_user(admin=True))
    key = create_key(system, admin, "admin's script")["key"]

    assert httpx.get(f"{system.gateway}/v1/keys", headers=bearer(key)).status_code == 403
    made = httpx.post(f"{system.gateway}/v1/keys", json={"name": "another"}, headers=bearer(key))
    assert made.status_code == 403, made.text
    assert "log in" in made.json()["detail"]
    everyone = httpx.get(f"{system.gateway}/v1/jobs", params={"all": "true"}, headers=bearer(key))
    assert everyone.status_code == 403, "a key never carries the admin role"
    assert httpx.get(f"{system.gateway}/v1/jobs", params={"all": "true"}, headers=bearer(admin)).status_code == 200


def test_a_revoked_key_gets_401_within_seconds(system: System) -> None:
    token = system.new_user_token()
    created = create_key(system, token)
    key = created["key"]
    assert jobs_status(system, key) == 200  # the gateway now keeps auth's answer for a while

    revoked = httpx.delete(f"{system.gateway}/v1/keys/{created['id']}", headers=bearer(token))

    assert revoked.status_code == 204, revoked.text
    wait_for(lambda: jobs_status(system, key) == 401, timeout=WITHIN)
    answer = httpx.get(f"{system.gateway}/v1/jobs", headers=bearer(key))
    assert "revoked" in answer.json()["detail"]
    assert answer.headers["www-authenticate"].startswith("Bearer")
    again = httpx.delete(f"{system.gateway}/v1/keys/{created['id']}", headers=bearer(token))
    assert again.status_code == 404, again.text
    assert created["id"] not in httpx.get(f"{system.gateway}/v1/keys", headers=bearer(token)).text


def test_an_expired_key_gets_401(system: System) -> None:
    token = system.new_user_token()
    created = create_key(system, token, expires_in_days=1)
    assert jobs_status(system, created["key"]) == 200

    set_expiry(system, created["id"], 1.0)  # as if its day had passed

    wait_for(lambda: jobs_status(system, created["key"]) == 401, timeout=WITHIN)
    answer = httpx.get(f"{system.gateway}/v1/jobs", headers=bearer(created["key"]))
    assert "expired" in answer.json()["detail"]


def test_a_made_up_or_mangled_key_gets_401(system: System) -> None:
    token = system.new_user_token()
    key = create_key(system, token)["key"]

    for wrong in (key[:-1] + ("A" if key[-1] != "A" else "B"), "vmk_000000000000_nothing", "vmk_", key[:30]):
        answer = httpx.get(f"{system.gateway}/v1/jobs", headers=bearer(wrong))
        assert answer.status_code == 401, (wrong, answer.text)
        assert "not valid" in answer.json()["detail"]


def test_bad_key_requests_get_problems_in_words(system: System) -> None:
    token = system.new_user_token()
    for body in ({"name": ""}, {"name": "x", "scopes": ["admin"]}, {"name": "x", "expires_in_days": 0}, {}):
        answer = httpx.post(f"{system.gateway}/v1/keys", json=body, headers=bearer(token))
        assert answer.status_code == 400, (body, answer.text)
        assert answer.json()["detail"], body
    bad_id = httpx.delete(f"{system.gateway}/v1/keys/not-an-id", headers=bearer(token))
    assert bad_id.status_code in (400, 404), bad_id.text


def test_the_key_is_never_logged(system: System, sample_video: tuple[Path, float]) -> None:
    token = system.new_user_token()
    created = create_key(system, token, "logged script")
    key = created["key"]
    secret = key.split("_", 2)[2]
    assert upload(system, key, "clip.mp4", sample_video[0].read_bytes()).status_code == 202
    assert jobs_status(system, key[:-2] + "xx") == 401
    revoked = httpx.delete(f"{system.gateway}/v1/keys/{created['id']}", headers=bearer(token))
    assert revoked.status_code == 204
    wait_for(lambda: jobs_status(system, key) == 401, timeout=WITHIN)

    logs = {path.name: path.read_text(errors="replace") for path in system.stack.log_dir.glob("*.log")}

    assert any(created["id"] in text for text in logs.values()), "the key's id is logged"
    for name, text in logs.items():
        assert secret not in text, f"the key's secret is in {name}"
