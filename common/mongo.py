"""MongoDB (or a wire-compatible server such as FerretDB) clients for the services."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pymongo import AsyncMongoClient, MongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.database import Database

from common.settings import MongoSettings

__all__ = [
    "Document",
    "blocking_server_is_ferretdb",
    "create_async_client",
    "create_client",
    "is_ferretdb",
    "server_is_ferretdb",
]

Document = dict[str, Any]
_TIMEOUT_MS = 10_000
_REPLY_TIMEOUT_MS = 120_000
"""The longest a request waits for the server's reply: far beyond any single operation the
services make (lookups by id, a chunk, a page), so a request the server never answers
becomes an error the caller retries instead of a task (a conversion slot, a consumer's
prefetch) held forever."""


def _listeners(settings: MongoSettings) -> list[Any]:
    if settings.mongo_command_log is None:
        return []
    from common.store_audit import CommandLog  # tests and audits only

    return [CommandLog(settings.mongo_command_log)]


def create_async_client(settings: MongoSettings) -> AsyncMongoClient[Document]:
    """An asyncio client; it connects lazily, on first use."""
    return AsyncMongoClient(
        settings.mongo_url.get_secret_value(),
        tz_aware=True,
        serverSelectionTimeoutMS=_TIMEOUT_MS,
        connectTimeoutMS=_TIMEOUT_MS,
        socketTimeoutMS=_REPLY_TIMEOUT_MS,
        event_listeners=_listeners(settings),
    )


def create_client(settings: MongoSettings) -> MongoClient[Document]:
    """A blocking client, for work that runs in worker threads (PyAV reads and writes)."""
    return MongoClient(
        settings.mongo_url.get_secret_value(),
        tz_aware=True,
        serverSelectionTimeoutMS=_TIMEOUT_MS,
        connectTimeoutMS=_TIMEOUT_MS,
        socketTimeoutMS=_REPLY_TIMEOUT_MS,
        event_listeners=_listeners(settings),
    )


def is_ferretdb(build_info: Mapping[str, Any]) -> bool:
    """Whether ``buildInfo`` comes from FerretDB (it adds its own version), not MongoDB."""
    return "ferretdbVersion" in build_info


async def server_is_ferretdb(database: AsyncDatabase[Document]) -> bool:
    return is_ferretdb(await database.client.admin.command("buildInfo"))


def blocking_server_is_ferretdb(database: Database[Document]) -> bool:
    return is_ferretdb(database.client.admin.command("buildInfo"))
