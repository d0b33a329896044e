"""MongoDB (or a wire-compatible server such as FerretDB) clients for the services."""

from __future__ import annotations

from pymongo import AsyncMongoClient, MongoClient

from common.settings import MongoSettings

__all__ = ["create_async_client", "create_client"]

_TIMEOUTS = {"serverSelectionTimeoutMS": 10_000, "connectTimeoutMS": 10_000}


def create_async_client(settings: MongoSettings) -> AsyncMongoClient:
    """An asyncio client; it connects lazily, on first use."""
    return AsyncMongoClient(settings.mongo_url.get_secret_value(), tz_aware=True, **_TIMEOUTS)


def create_client(settings: MongoSettings) -> MongoClient:
    """A blocking client, for work that runs in worker threads (PyAV reads and writes)."""
    return MongoClient(settings.mongo_url.get_secret_value(), tz_aware=True, **_TIMEOUTS)
