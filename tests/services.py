"""Where the tests find RabbitMQ, MongoDB and MySQL.

With a Docker engine (and ``VIDMP3_TEST_SERVICES`` not ``native``) they come from
testcontainers (``mongo:7``, ``rabbitmq:3-management``, ``mysql:8``). Otherwise they are the
native ones ``scripts/services up`` starts on loopback; one that does not answer fails the
run with how to start it, never a skip.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

__all__ = ["Endpoints", "PrivateFerretDB", "own_mysql_database", "own_vhost", "provide_endpoints"]

_HOW_TO_START = (
    "start the services with `scripts/services up` (it installs rabbitmq-server, mariadb-server and FerretDB)"
)


@dataclass(frozen=True)
class Endpoints:
    rabbit_url: str
    mongo_url: str
    mysql_url: str
    rabbitmqctl: Callable[..., None] | None = None
    """Runs ``rabbitmqctl`` against the broker (fault tests stop and start it), where allowed."""


NATIVE = Endpoints(
    rabbit_url=os.environ.get("VIDMP3_TEST_RABBIT_URL", "amqp://guest:guest@127.0.0.1:5672/vidmp3-test"),
    mongo_url=os.environ.get("VIDMP3_TEST_MONGO_URL", "mongodb://127.0.0.1:27017/"),
    mysql_url=os.environ.get(
        "VIDMP3_TEST_MYSQL_URL", "mysql://vidmp3:vidmp3-dev@127.0.0.1:3306/vidmp3_test?ssl-mode=disabled"
    ),
)


def _docker_engine() -> bool:
    if os.environ.get("VIDMP3_TEST_SERVICES", "auto") == "native" or shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode == 0


def _check_reachable(name: str, url: str) -> None:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 0), timeout=3):
            return
    except OSError as error:
        raise RuntimeError(
            f"{name} is not reachable at {parts.hostname}:{parts.port} ({error}): {_HOW_TO_START}"
        ) from None


@contextmanager
def _containers() -> Iterator[Endpoints]:
    from testcontainers.community.mongodb import MongoDbContainer
    from testcontainers.community.mysql import MySqlContainer
    from testcontainers.community.rabbitmq import RabbitMqContainer

    with ExitStack() as stack:
        mongo = stack.enter_context(MongoDbContainer("mongo:7"))
        rabbit = stack.enter_context(RabbitMqContainer("rabbitmq:3-management"))
        mysql = stack.enter_context(
            MySqlContainer("mysql:8", username="vidmp3", password="vidmp3-test", dbname="vidmp3_test")
        )

        # MySQL 8 serves TLS, which its default caching_sha2_password login needs from this connector
        def rabbitmqctl(*args: str) -> None:
            exit_code, output = rabbit.exec(["rabbitmqctl", *args])
            if exit_code != 0:
                raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed: {output!r}")

        yield Endpoints(
            rabbitmqctl=rabbitmqctl,
            rabbit_url=(
                f"amqp://{rabbit.username}:{rabbit.password}@{rabbit.get_container_host_ip()}:"
                f"{rabbit.get_exposed_port(rabbit.port)}/"
            ),
            mongo_url=mongo.get_connection_url(),
            mysql_url=(
                f"mysql://vidmp3:vidmp3-test@{mysql.get_container_host_ip()}:{mysql.get_exposed_port(3306)}/vidmp3_test"
            ),
        )


@contextmanager
def provide_endpoints() -> Iterator[Endpoints]:
    if _docker_engine():
        with _containers() as endpoints:
            yield endpoints
        return
    for name, url in (
        ("RabbitMQ", NATIVE.rabbit_url),
        ("MongoDB (FerretDB)", NATIVE.mongo_url),
        ("MySQL (MariaDB)", NATIVE.mysql_url),
    ):
        _check_reachable(name, url)
    with own_vhost(NATIVE) as with_vhost, own_mysql_database(with_vhost) as endpoints:
        yield endpoints


@contextmanager
def own_vhost(endpoints: Endpoints) -> Iterator[Endpoints]:
    """A RabbitMQ virtual host for this test session alone, where ``rabbitmqctl`` may make one.

    Sessions running at once (developers, CI jobs) then never consume each other's messages
    or compete for the projection's single active consumer. Without ``rabbitmqctl`` rights
    the shared ``vidmp3-test`` host is used.
    """
    rabbitmqctl = shutil.which("rabbitmqctl")
    vhost = f"vidmp3-test-{uuid.uuid4().hex[:8]}"

    def ctl(*args: str) -> bool:
        assert rabbitmqctl is not None
        return subprocess.run([rabbitmqctl, "-q", *args], capture_output=True, timeout=60, check=False).returncode == 0

    if rabbitmqctl is None or os.geteuid() != 0 or not ctl("add_vhost", vhost):
        yield endpoints
        return

    def control(*args: str) -> None:
        if not ctl(*args):
            raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed")

    try:
        ctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        parts = urlsplit(endpoints.rabbit_url)
        yield replace(endpoints, rabbit_url=parts._replace(path=f"/{vhost}").geturl(), rabbitmqctl=control)
    finally:
        ctl("delete_vhost", vhost)


@contextmanager
def own_mysql_database(endpoints: Endpoints) -> Iterator[Endpoints]:
    """A MySQL database for this test session alone (``vidmp3_test_<random>``), dropped afterwards.

    Sessions then never see each other's tables, nor the migrations another checkout of the
    code recorded. ``scripts/services up`` grants the test user every ``vidmp3_test_*`` name;
    where it may not create one, the shared database in the URL is used.
    """
    import mysql.connector

    parts = urlsplit(endpoints.mysql_url)
    name = f"vidmp3_test_{uuid.uuid4().hex[:8]}"
    login = {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 3306,
        "user": parts.username or "",
        "password": parts.password or "",
        "ssl_disabled": "ssl-mode=disabled" in parts.query,
    }
    try:
        with mysql.connector.connect(**login) as connection, connection.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE `{name}`")
    except mysql.connector.Error:
        yield endpoints
        return
    try:
        yield replace(endpoints, mysql_url=parts._replace(path=f"/{name}").geturl())
    finally:
        with mysql.connector.connect(**login) as connection, connection.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")


class PrivateFerretDB:
    """A FerretDB of a test's own (port, data directory), to stop and start at will without
    disturbing the one other test sessions share. Uses the binary ``scripts/services up``
    builds."""

    def __init__(self, data_dir: Path) -> None:
        self.binary = _ferretdb_binary()
        self.data_dir = data_dir
        self.port, self._debug_port = _free_port(), _free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/"

    def start(self, timeout: float = 30.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = (self.data_dir / "ferretdb.log").open("ab")
        self._process = subprocess.Popen(
            [
                str(self.binary),
                "--handler=sqlite",
                f"--sqlite-url=file:{self.data_dir}/",
                f"--state-dir={self.data_dir}",
                f"--listen-addr=127.0.0.1:{self.port}",
                f"--debug-addr=127.0.0.1:{self._debug_port}",
                "--telemetry=disable",
                "--log-level=WARN",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"FerretDB did not listen on {self.port} within {timeout} s: see {self.data_dir}")

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(5)
            self._process = None


def _ferretdb_binary() -> Path:
    state = Path(os.environ.get("VIDMP3_STATE_DIR", Path.home() / ".local" / "share" / "vidmp3"))
    binary = state / "bin" / "ferretdb"  # a link to the build ``scripts/services up`` made last
    if not binary.exists():
        raise RuntimeError(f"no FerretDB binary at {binary}: {_HOW_TO_START}")
    return binary


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
