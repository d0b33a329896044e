"""Every service's /metrics, scraped after a job went through, counts it where it should; it
answers on a port of its own, never on the service's (the gateway's is public)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from common.stack import SERVICES
from tests.e2e.test_flow import upload, wait_terminal
from tests.system import System


@pytest.mark.parametrize("service", SERVICES)
def test_metrics_are_not_on_the_service_port(system: System, service: str) -> None:
    assert httpx.get(f"{system.stack.config.url(service)}/metrics").status_code == 404
    assert httpx.get(system.stack.config.metrics_url(service)).status_code == 200


def scrape(system: System, service: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = httpx.get(system.stack.config.metrics_url(service))
    assert response.status_code == 200, service
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    wanted = set(labels.items())
    return sum(v for (n, found), v in samples.items() if n == name and wanted <= found)


def test_a_finished_job_is_counted_by_every_service(system: System, sample_video: tuple[Path, float]) -> None:
    before = {service: scrape(system, service) for service in SERVICES}
    token = system.new_user_token()

    job_id = upload(system, token, "counted.mp4", sample_video[0].read_bytes()).json()["job_id"]
    assert wait_terminal(system, token, job_id)["state"] == "notified"
    after = {service: scrape(system, service) for service in SERVICES}

    def grew(service: str, name: str, by: float = 1, **labels: str) -> bool:
        return value(after[service], name, **labels) - value(before[service], name, **labels) >= by

    assert grew("gateway", "http_requests_total", path="/v1/jobs", method="POST", status_code="202")
    assert grew("gateway", "http_requests_total", path="/v1/jobs/{job_id}", method="GET")
    assert grew("auth", "http_requests_total", path="/v1/login", method="POST")
    assert grew("converter", "converter_jobs_total", result="converted")
    assert grew("converter", "converter_conversion_seconds_count")
    assert grew("converter", "converter_audio_seconds_total", by=sample_video[1] - 0.1)
    assert grew("converter", "converter_storage_bytes_read_total", by=1)
    assert grew("notifier", "notifier_emails_total", result="sent")
    assert grew("projections", "projection_events_total", by=4)
    assert grew("projections", "projection_lag_seconds_count", by=4)
