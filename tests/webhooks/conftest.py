"""Webhooks end to end: a system of their own (the webhook settings differ from the e2e
package's: loopback allowed, a retry schedule of seconds) and a real HTTP receiver."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.services import Endpoints
from tests.system import System, print_log_tails, running_system
from tests.webhooks.receiver import Receiver, receiving

WEBHOOK_ENV = {
    "VIDMP3_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.1/32",
    "VIDMP3_WEBHOOK_RETRY_DELAYS": "1,1,2,2,3",
    "VIDMP3_WEBHOOK_TIMEOUT_SECONDS": "5",
}


@pytest.fixture(scope="package")
def system(
    endpoints: Endpoints,
    mongo_database_name: str,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Iterator[System]:
    with running_system(
        endpoints, mongo_database_name, tmp_path_factory.mktemp("stack"), show_logs=False, **WEBHOOK_ENV
    ) as system:
        failed_before = request.session.testsfailed
        yield system
        if request.session.testsfailed > failed_before:
            print_log_tails(system.stack)


@pytest.fixture(scope="package")
def receiver() -> Iterator[Receiver]:
    with receiving() as receiver:
        yield receiver
