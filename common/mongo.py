"""MongoDB (or a wire-compatible server such as FerretDB) clients for the services."""

from __future__ import annotations

from typing import Any

from pymongo import AsyncMongoClient, MongoClient

from common.settings import MongoSettings

__all__ = ["Document", "create_async_client", "create_client"]

Document = dict[str, Any]
_TIMEOUT_MS = 10_000


def create_async_client(settings: MongoSettings) -> AsyncMongoClient[Document]:
    """An asyncio client; it connects lazily, on first use."""
    return AsyncMongoClient(
        settings.mongo_url.get_secret_value(),
        tz_aware=True,
        serverSelectionTimeoutMS=_TIMEOUT_MS,
        connectTimeoutMS=_TIMEOUT_MS,
    )


def create_client(settings: MongoSettings) -> MongoClient[Document]:
    """A blocking client, for work that runs in worker threads (PyAV reads and writes)."""
    return MongoClient(
        settings.mongo_url.get_secret_value(),
        tz_aware=True,
        serverSelectionTimeoutMS=_TIMEOUT_MS,
        connectTimeoutMS=_TIMEOUT_MS,
    )
