"""End to end through the gateway, with every service running as its own process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.services import Endpoints
from tests.system import System, print_log_tails, running_system, wait_for

__all__ = ["System", "wait_for"]


@pytest.fixture(scope="package")
def system(
    endpoints: Endpoints,
    mongo_database_name: str,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Iterator[System]:
    with running_system(endpoints, mongo_database_name, tmp_path_factory.mktemp("stack"), show_logs=False) as system:
        failed_before = request.session.testsfailed
        yield system
        if request.session.testsfailed > failed_before:
            print_log_tails(system.stack)
