"""A running system for end-to-end and fault tests: the five services as separate processes
over the real backing services, with a real SMTP server (aiosmtpd) receiving the emails."""

from __future__ import annotations

import asyncio
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import aio_pika
import httpx
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from pymongo import MongoClient

from common.stack import SERVICES, Stack, StackConfig
from contracts.topology import Queues, dead_letter_queue, due_queue
from tests.services import Endpoints


class Mailbox:
    """An aiosmtpd handler keeping every message it accepts; while ``out_of_service`` it
    answers as a mail server that is down for maintenance (421) and keeps nothing."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.refused = 0
        self.out_of_service = False
        self._lock = threading.Lock()

    async def handle_MAIL(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.out_of_service:
            self.refused += 1
            return "421 4.3.2 Service not available, closing transmission channel"
        envelope.mail_from = address
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        with self._lock:
            self.messages.append(message_from_bytes(envelope.original_content or b""))
        return "250 Message accepted for delivery"

    def for_job(self, job_id: str) -> list[Message]:
        with self._lock:
            return [m for m in self.messages if m["X-Vidmp3-Job-Id"] == job_id]


@dataclass
class System:
    stack: Stack
    mailbox: Mailbox
    smtp: Controller
    state_dir: Path
    mysql_url: str
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def gateway(self) -> str:
        return self.stack.config.url("gateway")

    def create_user(self, password: str = "correct horse battery staple", *, admin: bool = False) -> tuple[str, str]:
        """A new user made with the auth CLI; returns (email, password)."""
        email = f"user-{uuid.uuid4().hex[:10]}@example.com"
        result = subprocess.run(
            [sys.executable, "-m", "auth", "create-user", email, "--password-stdin", *(["--admin"] if admin else [])],
            input=password + "\n",
            capture_output=True,
            text=True,
            env=self.stack.config.environment("auth"),
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return email, password

    def login(self, email: str, password: str) -> str:
        response = httpx.post(f"{self.gateway}/v1/auth/login", json={"email": email, "password": password})
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def mp3_files(self, job_id: str) -> int:
        """How many MP3s are stored for ``job_id`` (exactly one once it converted)."""
        config = self.stack.config
        with MongoClient[dict[str, Any]](config.mongo_url) as client:
            return client[config.mongo_database]["mp3s.files"].count_documents({"metadata.job_id": job_id})

    def new_user_token(self) -> str:
        return self.login(*self.create_user())

    def orphan_chunks(self) -> int:
        """MP3 chunks that belong to no stored MP3 (left by a conversion cut short)."""
        config = self.stack.config
        with MongoClient[dict[str, Any]](config.mongo_url) as client:
            database = client[config.mongo_database]
            files = {document["_id"] for document in database["mp3s.files"].find({}, {"_id": 1})}
            # one pass: on FerretDB every query on chunks but by _id reads the whole collection
            owners = (chunk["files_id"] for chunk in database["mp3s.chunks"].find({}, {"files_id": 1, "_id": 0}))
            return sum(owner not in files for owner in owners)

    def kill(self, service: str) -> None:
        """SIGKILL ``service``: no shutdown hook runs, nothing is given back."""
        self.stack.stop(service, sig=signal.SIGKILL)

    def start(self, service: str) -> None:
        self.stack.start(service)

    def diagnosis(self, job_id: str) -> str:
        """What each service knows of ``job_id``, and the converter's slots: for a test that
        waited in vain, so a failure in CI says where the job stopped."""
        lines = []
        try:
            metrics = httpx.get(self.stack.config.metrics_url("converter"), timeout=10).text
            lines += [line for line in metrics.splitlines() if line.startswith(("converter_slots", "converter_conv"))]
        except httpx.HTTPError as error:
            lines.append(f"converter metrics unreadable: {error!r}")
        for queue in (Queues.CONVERTER.name, Queues.PROJECTIONS.name):
            try:
                lines.append(f"queue {queue}: {self.queued_messages(queue)} ready")
            except Exception as error:  # a diagnosis must not fail
                lines.append(f"queue {queue}: {error!r}")
        for service in SERVICES:
            log = self.stack.log_dir / f"{service}.log"
            if log.exists():
                text = log.read_text(errors="replace").splitlines()
                about = [line for line in text if job_id in line][-8:]
                lines += [f"--- {service}: lines about the job ---", *about]
                lines += [f"--- {service}: last lines ---", *text[-6:]]
        return "\n".join(lines)

    def queued_messages(self, queue: str) -> int:
        """Messages ``queue`` holds (ready, plus unacked ones of consumers that are gone)."""

        async def count() -> int:
            connection = await aio_pika.connect(self.stack.config.rabbit_url)
            async with connection:
                channel = await connection.channel()
                declared = await channel.declare_queue(queue, passive=True)
                return declared.declaration_result.message_count or 0

        return asyncio.run(count())


def _free_port_block(size: int) -> int:
    # a random start: test sessions running at once rarely probe the same ports
    start = 18_000 + random.randrange(0, 1000) * 10  # noqa: S311 (not a secret)
    for base in range(start, 30_000, 10):
        sockets = []
        try:
            for port in range(base, base + size):
                sock = socket.socket()
                sock.bind(("127.0.0.1", port))
                sockets.append(sock)
            return base
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise RuntimeError("no free block of ports")


async def _delete_queues(rabbit_url: str) -> None:
    """Leftovers of an earlier run must not feed this one."""
    connection = await aio_pika.connect(rabbit_url)
    async with connection:
        channel = await connection.channel()
        for queue in Queues.ALL:
            for name in (queue.name, dead_letter_queue(queue).name, due_queue(queue).name):
                await channel.queue_delete(name)


@contextmanager
def running_system(
    endpoints: Endpoints, database: str, state_dir: Path, *, show_logs: bool = True, **env: str
) -> Iterator[System]:
    """Start the system; on the way out stop it, and print its logs' tails if asked (failures).

    Access tokens last two hours unless ``env`` says otherwise: one stack serves a whole test
    package, longer than the default 15 minutes on a busy machine, and only the tests about
    expiry (which set a short lifetime) want a token to run out under them. Likewise every
    test logs in from 127.0.0.1, so the per-address login bucket is wide unless ``env`` narrows
    it (the tests of login protection do).
    """
    env = {"VIDMP3_TOKEN_TTL_SECONDS": "7200", "VIDMP3_LOGIN_ATTEMPTS_BURST": "1000", **env}
    asyncio.run(_delete_queues(endpoints.rabbit_url))
    mailbox = Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=_free_port_block(1))
    smtp.start()
    config = StackConfig(
        state_dir=state_dir,
        base_port=_free_port_block(2 * len(SERVICES)),  # the services', then their metrics ports
        rabbit_url=endpoints.rabbit_url,
        mongo_url=endpoints.mongo_url,
        mongo_database=database,
        mysql_url=endpoints.mysql_url,
        smtp_port=smtp.port,
        extra_env=env,
    )
    stack = Stack(config)
    system = System(stack=stack, mailbox=mailbox, smtp=smtp, state_dir=state_dir, mysql_url=endpoints.mysql_url)
    try:
        stack.start()
        yield system
    finally:
        stack.stop()
        smtp.stop()
        if show_logs:
            print_log_tails(stack)


def print_log_tails(stack: Stack, lines: int = 40) -> None:
    for service in SERVICES:
        log = stack.log_dir / f"{service}.log"
        if log.exists():
            tail = log.read_text(errors="replace").splitlines()[-lines:]
            sys.stderr.write(f"\n----- {service} log (last {lines} lines) -----\n" + "\n".join(tail) + "\n")


def wait_for(predicate, timeout: float = 60.0, interval: float = 0.2):  # type: ignore[no-untyped-def]
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s (last value: {last!r})")
