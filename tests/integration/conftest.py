from __future__ import annotations

from collections.abc import Iterator

import pytest
from bson import ObjectId
from pymongo import MongoClient
from pymongo.database import Database

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
