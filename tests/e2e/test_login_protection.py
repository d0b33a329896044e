"""Login protection through the gateway, against real auth and gateway processes (issue 12,
findings 3 and 4). Clients come from addresses of their own on the loopback network
(127.0.5.x), as different machines would.

A stack of this module's own (auth and gateway on free ports): the address limits are kept in
auth's memory, and these tests use them up on purpose.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from common.stack import Stack, StackConfig
from tests.services import Endpoints
from tests.system import _free_port_block

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def stack(endpoints: Endpoints, mongo_database_name: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    config = StackConfig(
        state_dir=tmp_path_factory.mktemp("login-protection"),
        base_port=_free_port_block(5),
        rabbit_url=endpoints.rabbit_url,
        mongo_url=endpoints.mongo_url,
        mongo_database=mongo_database_name,
        mysql_url=endpoints.mysql_url,
        # a slow refill: a burst of 25 attempts is over the limit however long they take
        extra_env={"VIDMP3_LOGIN_ATTEMPTS_PER_MINUTE": "1"},
    )
    stack = Stack(config)
    stack.start("auth", "gateway")
    try:
        yield stack
    finally:
        stack.stop("auth", "gateway")


def create_user(stack: Stack) -> str:
    email = f"protected-{uuid.uuid4().hex[:10]}@example.com"
    result = subprocess.run(
        [sys.executable, "-m", "auth", "create-user", email, "--password-stdin"],
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        env=stack.config.environment("auth"),
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return email


def client_at(stack: Stack, address: str) -> httpx.Client:
    """A client whose connections come from ``address``."""
    return httpx.Client(
        base_url=stack.config.url("gateway"), transport=httpx.HTTPTransport(local_address=address), timeout=60
    )


def log_in(client: httpx.Client, email: str, password: str, **headers: str) -> httpx.Response:
    return client.post("/v1/auth/login", json={"email": email, "password": password}, headers=headers)


def test_a_guesser_cannot_lock_the_owner_out(stack: Stack) -> None:
    """Finding 3: five wrong passwords gave the real owner 429, doubling up to 900 s; the email
    in capitals with a trailing space counted against the same lock."""
    email = create_user(stack)
    with client_at(stack, "127.0.5.10") as owner, client_at(stack, "127.0.5.66") as guesser:
        assert log_in(owner, email, PASSWORD).status_code == 200  # the owner's usual address
        guesses = [log_in(guesser, f"{email.upper()} ", f"guess {n}").status_code for n in range(8)]

        at_home = log_in(owner, email, PASSWORD)
        with client_at(stack, "127.0.5.77") as elsewhere:
            travelling = log_in(elsewhere, email, PASSWORD)

    assert guesses[:5] == [401] * 5
    assert guesses[5:] == [429] * 3, "the guesser's own address is locked out"
    assert at_home.status_code == 200, at_home.text
    assert travelling.status_code == 200, travelling.text


def test_a_rotating_forwarded_for_does_not_escape_the_address_limit(stack: Stack) -> None:
    """Finding 4: with a new X-Forwarded-For each time, 25 of 25 attempts went through the
    gateway (uvicorn believed the header from loopback, and auth believed the gateway)."""
    with client_at(stack, "127.0.0.1") as client:
        statuses = [
            log_in(client, f"nobody-{n}@example.com", "guess", **{"X-Forwarded-For": f"198.51.100.{n}"}).status_code
            for n in range(1, 26)
        ]

    assert statuses.count(429) >= 4, statuses
    assert set(statuses) <= {401, 429}


def test_a_proxy_the_gateway_trusts_names_the_client(stack: Stack, tmp_path: Path) -> None:
    """Behind a configured proxy (here, clients from 127.0.5.200) the header is believed: each
    client it names has a limit of its own, so one noisy client does not stop the others."""
    config = dataclasses.replace(
        stack.config,
        state_dir=tmp_path,
        base_port=_free_port_block(5),
        # a second gateway, in front of the module's auth
        extra_env={
            **stack.config.extra_env,
            "VIDMP3_TRUSTED_PROXIES": "127.0.5.200/32",
            "VIDMP3_AUTH_URL": stack.config.url("auth"),
        },
    )
    behind_proxy = Stack(config)
    behind_proxy.start("gateway")
    try:
        with httpx.Client(
            base_url=config.url("gateway"),
            transport=httpx.HTTPTransport(local_address="127.0.5.200"),
            timeout=60,
        ) as proxy:
            noisy = [
                log_in(proxy, f"nobody-{n}@example.com", "guess", **{"X-Forwarded-For": "203.0.113.9"}).status_code
                for n in range(22)
            ]
            quiet = log_in(proxy, "nobody-else@example.com", "guess", **{"X-Forwarded-For": "203.0.113.10"})
    finally:
        behind_proxy.stop("gateway")

    assert 429 in noisy
    assert quiet.status_code == 401, quiet.text
