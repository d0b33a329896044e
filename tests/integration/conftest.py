from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from bson import ObjectId
from litestar.testing import AsyncTestClient
from pymongo import MongoClient
from pymongo.database import Database

from auth.app import create_app
from auth.database import Database as MysqlDatabase
from auth.migrations import AUTH_SCHEMA
from auth.passwords import Passwords
from auth.settings import AuthSettings
from auth.tokens import generate_key_pem
from auth.users import Users
from common.blobs import CHUNK_SIZE, Bucket
from tests.services import Endpoints


@pytest.fixture
def sync_database(endpoints: Endpoints, mongo_database_name: str) -> Iterator[Database]:
    with MongoClient(endpoints.mongo_url, tz_aware=True) as client:
        yield client[mongo_database_name]


def store_file(
    database: Database, bucket: str, data: bytes, *, chunk_size: int = CHUNK_SIZE, metadata: dict | None = None
) -> ObjectId:
    """Store ``data`` as a file of ``bucket`` the way the services do (``common.blobs``)."""
    writer = Bucket(database, bucket).writer("stored.bin", chunk_size=chunk_size)
    writer.write(data)
    writer.close(metadata or {})
    return writer.file_id


# --- the auth service's API, for the test modules that define their own ``settings`` ---------


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    """A fresh Ed25519 signing key."""
    path = tmp_path / "signing.pem"
    path.write_bytes(generate_key_pem())
    return path


@pytest.fixture
async def client(settings: AuthSettings) -> AsyncIterator[AsyncTestClient[Any]]:
    """The auth app under test, made from the module's ``settings``."""
    async with AsyncTestClient(app=create_app(settings)) as client:
        yield client


@pytest.fixture
async def users(endpoints: Endpoints) -> AsyncIterator[Users]:
    """The auth accounts, in the session's MySQL database (migrated)."""
    database = MysqlDatabase(endpoints.mysql_url, pool_size=1)
    await AUTH_SCHEMA.migrate(database)
    try:
        yield Users(database)
    finally:
        await database.close()


@pytest.fixture(scope="module")
def passwords() -> Passwords:
    return Passwords()
