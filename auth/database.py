"""The auth service's MySQL connections: a small pool over mysql-connector-python's asyncio API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from mysql.connector.aio import MySQLConnection
from mysql.connector.aio.abstracts import MySQLConnectionAbstract

__all__ = ["Database", "connection_options"]


def connection_options(url: str) -> dict[str, Any]:
    """``mysql://user:password@host:port/database[?ssl-mode=disabled]`` as connector arguments."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    if parts.scheme != "mysql" or not parts.path.strip("/"):
        raise ValueError("the MySQL URL must look like mysql://user:password@host:3306/database")
    return {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 3306,
        "user": unquote(parts.username or ""),
        "password": unquote(parts.password or ""),
        "database": parts.path.strip("/"),
        "autocommit": True,
        "connection_timeout": 10,
        "ssl_disabled": query.get("ssl-mode", ["preferred"])[0].lower() == "disabled",
    }


class Database:
    """Up to ``pool_size`` autocommit connections, opened on demand and kept while healthy."""

    def __init__(self, url: str, pool_size: int = 5) -> None:
        self._options = connection_options(url)
        self._idle: list[MySQLConnectionAbstract] = []
        self._slots = asyncio.Semaphore(pool_size)

    @property
    def name(self) -> str:
        return str(self._options["database"])

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[MySQLConnectionAbstract]:
        async with self._slots:
            connection = self._idle.pop() if self._idle else await self._connect()
            try:
                if not await connection.is_connected():
                    await connection.reconnect()
                yield connection
            except BaseException:
                # closing also ends whatever transaction the failure left open
                await connection.close()
                raise
            self._idle.append(connection)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[MySQLConnectionAbstract]:
        """A connection inside ``START TRANSACTION``, committed when the block ends normally."""
        async with self.connection() as connection:
            await connection.start_transaction()
            yield connection
            await connection.commit()

    async def _connect(self) -> MySQLConnectionAbstract:
        connection = MySQLConnection(**self._options)
        await connection.connect()
        return connection

    async def close(self) -> None:
        while self._idle:
            await self._idle.pop().close()

    async def ping(self) -> None:
        async with self.connection() as connection, await connection.cursor() as cursor:
            await cursor.execute("SELECT 1")
            await cursor.fetchall()
