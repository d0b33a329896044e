"""The Kubernetes memory requests hold what the services really use: each service's resident
memory, read from its own /metrics after a job went through, stays under its request (what
the scheduler reserves) and well under its limit (past which the pod is killed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.stack import SERVICES
from tests.e2e.test_flow import upload, wait_terminal
from tests.e2e.test_metrics import scrape, value
from tests.system import System
from tests.unit.test_k8s_manifests import HEADROOM, container, deployments, module_run, quantity


def memory(service: str) -> tuple[float, float]:
    """The memory request and limit (bytes) of the deployment running ``service``."""
    (deployment,) = [d for d in deployments().values() if module_run(d) == service]
    resources = container(deployment)["resources"]
    return quantity(resources["requests"]["memory"]), quantity(resources["limits"]["memory"])


@pytest.fixture(scope="module")
def after_a_job(system: System, sample_video: tuple[Path, float]) -> dict[str, float]:
    token = system.new_user_token()
    job_id = upload(system, token, "measured.mp4", sample_video[0].read_bytes()).json()["job_id"]
    assert wait_terminal(system, token, job_id)["state"] == "notified"
    return {service: value(scrape(system, service), "process_resident_memory_bytes") for service in SERVICES}


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_uses_no_more_memory_than_its_deployment_requests(
    service: str, after_a_job: dict[str, float]
) -> None:
    rss = after_a_job[service]
    request, limit = memory(service)
    print(f"{service}: {rss / 1e6:.0f} MB resident; requests {request / 1e6:.0f} MB, limit {limit / 1e6:.0f} MB")

    assert rss > 10e6, f"{service}: no process_resident_memory_bytes in its /metrics"
    assert rss <= request, f"{service} uses {rss / 1e6:.0f} MB, more than the {request / 1e6:.0f} MB it requests"
    assert rss * HEADROOM <= limit
