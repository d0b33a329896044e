"""In production mode every service refuses a store or broker URL that carries no credentials,
whatever it looks like, not only the development default."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from common.settings import BrokerSettings, MongoSettings

GOOD_RABBIT = "amqp://vidmp3:s3cret@rabbit.internal:5672/vidmp3"
GOOD_MONGO = "mongodb://vidmp3:s3cret@mongo.internal:27017/?authSource=admin"

NO_CREDENTIALS_MONGO = [
    "mongodb://mongo:27017/",  # deploy/compose.env's value
    "mongodb://localhost:27017/",
    "mongodb://127.0.0.1:27017/",
    "mongodb://mongo-0:27017,mongo-1:27017/?replicaSet=rs0",
    "mongodb+srv://cluster.example.com/",
    "mongodb://vidmp3@mongo:27017/",  # a user without a password
    "mongodb://:s3cret@mongo:27017/",
]
NO_CREDENTIALS_RABBIT = [
    "amqp://rabbitmq:5672/vidmp3",
    "amqp://guest:guest@rabbitmq:5672/vidmp3",
    "amqp://guest:other@127.0.0.1/",
    "amqps://vidmp3@rabbit.internal/",
    "amqp://localhost/",
]


@pytest.fixture(autouse=True)
def no_vidmp3_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("VIDMP3_"):
            monkeypatch.delenv(name)


@pytest.mark.parametrize("url", NO_CREDENTIALS_MONGO)
def test_a_mongo_url_without_credentials_is_unsafe(url: str) -> None:
    assert MongoSettings(mongo_url=url).unsafe_defaults() == ["mongo_url (no user name and password)"]  # type: ignore[arg-type]


@pytest.mark.parametrize("url", NO_CREDENTIALS_RABBIT)
def test_a_rabbit_url_without_credentials_or_with_the_guest_account_is_unsafe(url: str) -> None:
    assert [name.split(" ")[0] for name in BrokerSettings(rabbit_url=url).unsafe_defaults()] == ["rabbit_url"]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "url",
    [
        GOOD_MONGO,
        "mongodb://u%40x:p%3Aw@m1:27017,m2:27017/db?replicaSet=rs0",
        "mongodb+srv://vidmp3:s3cret@cluster.example.com/",
        "mongodb://mongo:27017/?authMechanism=MONGODB-X509&tls=true",
    ],
)
def test_a_mongo_url_with_credentials_is_accepted(url: str) -> None:
    assert MongoSettings(mongo_url=url).unsafe_defaults() == []  # type: ignore[arg-type]


def _start(service: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("VIDMP3_")}
    environment.update(VIDMP3_ENVIRONMENT="production", VIDMP3_PORT="0", **env)
    return subprocess.run(
        [sys.executable, "-m", service], env=environment, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize("service", ["gateway", "converter", "notifier", "projections"])
@pytest.mark.parametrize("mongo_url", ["mongodb://mongo:27017/", "mongodb://localhost:27017/"])
def test_every_service_refuses_to_start_on_a_mongo_url_without_credentials(service: str, mongo_url: str) -> None:
    started = _start(service, VIDMP3_MONGO_URL=mongo_url, VIDMP3_RABBIT_URL=GOOD_RABBIT)

    assert started.returncode != 0
    assert "refusing to start in production" in started.stderr
    assert "mongo_url (no user name and password)" in started.stderr
    assert "rabbit_url" not in started.stderr.split("refusing to start")[-1]


@pytest.mark.parametrize("service", ["gateway", "converter", "notifier", "projections"])
def test_every_service_refuses_to_start_on_a_rabbit_url_without_credentials(service: str) -> None:
    started = _start(service, VIDMP3_MONGO_URL=GOOD_MONGO, VIDMP3_RABBIT_URL="amqp://rabbitmq:5672/vidmp3")

    assert started.returncode != 0
    assert "rabbit_url (no user name and password)" in started.stderr
    assert "mongo_url" not in started.stderr.split("refusing to start")[-1]
