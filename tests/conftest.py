"""Fixtures shared by every tier: the backing services and test media."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from pymongo import AsyncMongoClient, MongoClient
from pymongo.asynchronous.database import AsyncDatabase

from converter.samples import write_sample_video
from tests.services import Endpoints, provide_endpoints


@pytest.fixture(scope="session")
def mongo_database_name() -> str:
    """A database of its own for each test session, dropped afterwards."""
    return f"vidmp3_test_{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def endpoints(mongo_database_name: str) -> Iterator[Endpoints]:
    try:
        context = provide_endpoints()
        provided = context.__enter__()
    except RuntimeError as error:
        pytest.fail(str(error), pytrace=False)
    try:
        yield provided
        with MongoClient(provided.mongo_url) as client:
            client.drop_database(mongo_database_name)
    finally:
        context.__exit__(None, None, None)


@pytest.fixture
async def mongo_database(endpoints: Endpoints, mongo_database_name: str) -> AsyncIterator[AsyncDatabase]:
    client: AsyncMongoClient = AsyncMongoClient(endpoints.mongo_url, tz_aware=True)
    try:
        yield client[mongo_database_name]
    finally:
        await client.close()


@pytest.fixture
async def own_mongo_database(endpoints: Endpoints, mongo_database_name: str) -> AsyncIterator[AsyncDatabase]:
    """A database for one test alone, dropped after it: for a test that reads a whole collection
    (a sweep over every job), which the session's other tests' leftovers would upset."""
    client: AsyncMongoClient = AsyncMongoClient(endpoints.mongo_url, tz_aware=True)
    database = client[f"{mongo_database_name}_{uuid.uuid4().hex[:6]}"]
    try:
        yield database
    finally:
        await client.drop_database(database.name)
        await client.close()


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def sample_video(media_dir: Path) -> tuple[Path, float]:
    """A 3-second H.264 + AAC MP4 and the duration of its audio."""
    path = media_dir / "sample.mp4"
    return path, write_sample_video(path, seconds=3.0)
