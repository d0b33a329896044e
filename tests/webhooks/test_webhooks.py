"""Webhooks against the real stack: endpoints registered through the API, deliveries verified
with the ``standardwebhooks`` library by a real receiver, retries, callbacks, refusals."""

from __future__ import annotations

import base64
import uuid
from pathlib import Path

import httpx
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.system import System, wait_for
from tests.webhooks.receiver import Received, Receiver

pytestmark = pytest.mark.timeout(600)


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _register(system: System, token: str, url: str, **fields: object) -> dict[str, object]:
    response = httpx.post(f"{system.gateway}/v1/webhooks", json={"url": url, **fields}, headers=_auth(token))
    assert response.status_code == 201, response.text
    created: dict[str, object] = response.json()
    return created


def _upload(system: System, token: str, video: Path, **fields: str) -> httpx.Response:
    with video.open("rb") as file:
        return httpx.post(
            f"{system.gateway}/v1/jobs",
            headers=_auth(token),
            files={"file": ("clip.mp4", file, "video/mp4")},
            data=fields,
            timeout=120,
        )


def _verified(secret: str, received: Received) -> dict[str, object]:
    event: dict[str, object] = Webhook(secret).verify(received.body, received.headers)
    return event


def test_an_endpoint_gets_queued_converting_and_ready_signed_and_downloads_the_mp3(
    system: System, receiver: Receiver, sample_video: tuple[Path, float]
) -> None:
    token = system.new_user_token()
    endpoint = _register(system, token, receiver.url("/all"))
    secret = str(endpoint["secret"])
    assert secret.startswith("whsec_")
    job_id = _upload(system, token, sample_video[0]).json()["job_id"]

    wait_for(lambda: "job.ready" in receiver.types("/all", job_id), timeout=180)
    got = receiver.got("/all", job_id)
    types = [r.event["type"] for r in got]
    assert {"job.queued", "job.converting", "job.ready"} <= set(types), types
    for received in got:
        event = _verified(secret, received)
        assert event["schema_version"] == 1
        assert received.webhook_id.startswith("msg_")
        with pytest.raises(WebhookVerificationError):
            Webhook("whsec_" + "A" * 43 + "=").verify(received.body, received.headers)
    ready = next(r.event for r in got if r.event["type"] == "job.ready")["data"]
    download = httpx.get(ready["download_url"], timeout=60)  # no token: the signed link is enough
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("audio/mpeg")
    assert download.content[:3] == b"ID3"
    assert ready["filename"] == "clip.mp3"
    assert ready["download_expires_at"]

    log = httpx.get(f"{system.gateway}/v1/webhooks/{endpoint['id']}/deliveries", headers=_auth(token)).json()
    mine = [item for item in log["items"] if item["job_id"] == job_id]
    assert {item["event_type"] for item in mine} >= {"job.queued", "job.converting", "job.ready"}
    delivered = [item for item in mine if item["state"] == "delivered"]
    assert delivered
    assert all(
        item["attempts"][0]["status_code"] == 200 and item["attempts"][0]["latency_ms"] >= 0 for item in delivered
    )

    listed = httpx.get(f"{system.gateway}/v1/webhooks", headers=_auth(token)).json()
    assert [item["id"] for item in listed["items"]] == [endpoint["id"]]
    assert "secret" not in listed["items"][0]


def test_a_receiver_failing_three_times_gets_the_event_once_it_recovers_with_the_same_id(
    system: System, receiver: Receiver, sample_video: tuple[Path, float]
) -> None:
    token = system.new_user_token()
    receiver.answers["/flaky"] = lambda _received, before: 500 if before < 3 else 200
    endpoint = _register(system, token, receiver.url("/flaky"), event_types=["job.ready"])
    job_id = _upload(system, token, sample_video[0]).json()["job_id"]

    wait_for(lambda: len(receiver.got("/flaky", job_id)) >= 4, timeout=240)
    got = receiver.got("/flaky", job_id)
    assert {r.event["type"] for r in got} == {"job.ready"}
    assert len({r.webhook_id for r in got}) == 1  # every attempt is the same delivery
    assert len({r.body for r in got}) == 1
    for received in got:
        _verified(str(endpoint["secret"]), received)

    def delivered() -> dict[str, object] | None:
        log = httpx.get(f"{system.gateway}/v1/webhooks/{endpoint['id']}/deliveries", headers=_auth(token)).json()
        items = [i for i in log["items"] if i["job_id"] == job_id and i["state"] == "delivered"]
        return items[0] if items else None

    item = wait_for(delivered, timeout=60)
    assert item["attempt_count"] == 4
    assert [a["status_code"] for a in reversed(item["attempts"])] == [500, 500, 500, 200]


def test_a_redelivered_event_carries_the_same_webhook_id(
    system: System, receiver: Receiver, sample_video: tuple[Path, float]
) -> None:
    token = system.new_user_token()
    endpoint = _register(system, token, receiver.url("/again"), event_types=["job.queued"])
    job_id = _upload(system, token, sample_video[0]).json()["job_id"]
    first = wait_for(lambda: receiver.got("/again", job_id), timeout=120)[0]
    redeliver = httpx.post(
        f"{system.gateway}/v1/webhooks/{endpoint['id']}/deliveries/{first.webhook_id}/redeliver", headers=_auth(token)
    )
    assert redeliver.status_code == 202, redeliver.text
    again = wait_for(lambda: receiver.got("/again", job_id)[1:], timeout=120)[0]
    assert again.webhook_id == first.webhook_id
    assert again.body == first.body
    _verified(str(endpoint["secret"]), again)

    stranger = system.new_user_token()
    refused = httpx.post(
        f"{system.gateway}/v1/webhooks/{endpoint['id']}/deliveries/{first.webhook_id}/redeliver",
        headers=_auth(stranger),
    )
    assert refused.status_code == 404


def test_a_jobs_callback_url_gets_its_events_signed_with_the_secret_answered_once(
    system: System, receiver: Receiver, sample_video: tuple[Path, float]
) -> None:
    token = system.new_user_token()
    accepted = _upload(system, token, sample_video[0], callback_url=receiver.url("/callback"))
    assert accepted.status_code == 202, accepted.text
    body = accepted.json()
    secret, job_id = body["callback_secret"], body["job_id"]
    assert secret.startswith("whsec_")
    wait_for(lambda: "job.ready" in receiver.types("/callback", job_id), timeout=180)
    for received in receiver.got("/callback", job_id):
        _verified(secret, received)
    status = httpx.get(f"{system.gateway}/v1/jobs/{job_id}", headers=_auth(token)).json()
    assert "callback_secret" not in status


@pytest.mark.parametrize(
    "url",
    ["http://10.1.2.3/hook", "http://192.168.1.20:8080/x", "http://169.254.169.254/latest", "http://127.0.0.2:9/x"],
)
def test_a_private_address_is_refused_unless_allowed(
    system: System, sample_video: tuple[Path, float], url: str
) -> None:
    token = system.new_user_token()
    response = httpx.post(f"{system.gateway}/v1/webhooks", json={"url": url}, headers=_auth(token))
    assert response.status_code == 422, response.text
    problem = response.json()
    assert "public internet" in problem["detail"]
    assert problem["errors"][0]["field"] == "url"
    upload = _upload(system, token, sample_video[0], callback_url=url)
    assert upload.status_code == 422, upload.text
    assert upload.json()["errors"][0]["field"] == "callback_url"
    assert httpx.get(f"{system.gateway}/v1/jobs", headers=_auth(token)).json()["items"] == []


def test_a_rotated_secret_and_the_previous_one_both_verify_during_the_grace_period(
    system: System, receiver: Receiver, sample_video: tuple[Path, float]
) -> None:
    token = system.new_user_token()
    endpoint = _register(system, token, receiver.url("/rotating"), event_types=["job.queued"])
    rotated = httpx.post(
        f"{system.gateway}/v1/webhooks/{endpoint['id']}/rotate-secret", json={"grace_hours": 1}, headers=_auth(token)
    )
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["secret"]
    assert new != endpoint["secret"]
    job_id = _upload(system, token, sample_video[0]).json()["job_id"]
    received = wait_for(lambda: receiver.got("/rotating", job_id), timeout=120)[0]
    assert len(received.headers["webhook-signature"].split(" ")) == 2
    _verified(new, received)
    _verified(str(endpoint["secret"]), received)


def test_endpoints_are_bounded_per_user_and_private_to_their_owner(system: System, receiver: Receiver) -> None:
    token = system.new_user_token()
    made = [_register(system, token, receiver.url(f"/many/{n}")) for n in range(10)]
    eleventh = httpx.post(f"{system.gateway}/v1/webhooks", json={"url": receiver.url("/x")}, headers=_auth(token))
    assert eleventh.status_code == 429
    assert "delete one" in eleventh.json()["detail"]
    stranger = system.new_user_token()
    assert httpx.get(f"{system.gateway}/v1/webhooks/{made[0]['id']}", headers=_auth(stranger)).status_code == 404
    assert httpx.delete(f"{system.gateway}/v1/webhooks/{made[0]['id']}", headers=_auth(stranger)).status_code == 404
    assert httpx.delete(f"{system.gateway}/v1/webhooks/{made[0]['id']}", headers=_auth(token)).status_code == 204
    assert _register(system, token, receiver.url("/x"))["id"]
    assert len(httpx.get(f"{system.gateway}/v1/webhooks", headers=_auth(token)).json()["items"]) == 10


def test_an_endpoint_failing_every_attempt_is_disabled_and_its_owner_emailed(
    system: System, receiver: Receiver, sample_video: tuple[Path, float]
) -> None:
    token = system.new_user_token()
    receiver.answers["/down"] = lambda _received, _before: 503
    endpoint = _register(system, token, receiver.url("/down"), event_types=["job.queued"])
    job_id = _upload(system, token, sample_video[0]).json()["job_id"]

    def disabled() -> dict[str, object] | None:
        shown = httpx.get(f"{system.gateway}/v1/webhooks/{endpoint['id']}", headers=_auth(token)).json()
        return shown if not shown["enabled"] else None

    shown = wait_for(disabled, timeout=180)
    assert "failed" in str(shown["disabled_reason"])
    assert len(receiver.got("/down", job_id)) == 6  # the first attempt and one per delay
    emails = wait_for(
        lambda: [m for m in system.mailbox.messages if m["X-Vidmp3-Webhook-Endpoint"] == endpoint["id"]], timeout=60
    )
    assert "turned off" in emails[0]["Subject"]
    enabled = httpx.post(f"{system.gateway}/v1/webhooks/{endpoint['id']}/enable", headers=_auth(token))
    assert enabled.json()["enabled"] is True
    assert uuid.UUID(job_id)


def test_the_gateway_serves_the_public_webhook_document_beside_the_internal_one(system: System) -> None:
    committed = (Path(__file__).resolve().parents[2] / "asyncapi.webhooks.yaml").read_text(encoding="utf-8")
    served = httpx.get(f"{system.gateway}/docs/webhooks/asyncapi.yaml")
    assert served.status_code == 200
    assert served.text == committed
    page = httpx.get(f"{system.gateway}/docs/webhooks/asyncapi")
    assert page.headers["content-type"].startswith("text/html")
    assert "script-src" not in page.headers["content-security-policy"]
    assert "job.ready" in page.text
    assert "Internal events between the services" in page.text
    internal = httpx.get(f"{system.gateway}/docs/asyncapi").text
    assert "Webhook events (what integrators receive" in internal
    assert httpx.get(f"{system.gateway}/docs/webhooks/asyncapi.json").json()["info"]["title"] == "vidmp3 webhooks"


def _tus_metadata(**values: str) -> str:
    return ",".join(f"{key} {base64.b64encode(value.encode()).decode()}" for key, value in values.items())


def test_a_tus_upload_may_name_a_callback_and_gets_its_secret_in_a_header(
    system: System, receiver: Receiver, sample_video: tuple[Path, float]
) -> None:
    token = system.new_user_token()
    data = sample_video[0].read_bytes()
    headers = {**_auth(token), "Tus-Resumable": "1.0.0", "Upload-Length": str(len(data))}
    refused = httpx.post(
        f"{system.gateway}/v1/uploads",
        headers={**headers, "Upload-Metadata": _tus_metadata(filename="a.mp4", callback_url="http://10.0.0.7/x")},
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["field"] == "callback_url"
    created = httpx.post(
        f"{system.gateway}/v1/uploads",
        headers={**headers, "Upload-Metadata": _tus_metadata(filename="a.mp4", callback_url=receiver.url("/tus"))},
    )
    assert created.status_code == 201, created.text
    secret = created.headers["Callback-Secret"]
    patched = httpx.patch(
        f"{system.gateway}{created.headers['Location']}",
        headers={
            **_auth(token),
            "Tus-Resumable": "1.0.0",
            "Upload-Offset": "0",
            "Content-Type": "application/offset+octet-stream",
        },
        content=data,
        timeout=120,
    )
    assert patched.status_code == 204, patched.text
    job_id = created.headers["Location"].rsplit("/", 1)[1]
    received = wait_for(lambda: receiver.got("/tus", job_id), timeout=120)[0]
    assert _verified(secret, received)["type"] == "job.queued"
