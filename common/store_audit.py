"""A record of every query a process sends the store, to prove the layout's rule holds.

With ``VIDMP3_MONGO_COMMAND_LOG=<directory>`` set, every client a service makes
(``common.mongo``) writes one JSON line per query command (``find``, ``update``, ``delete``,
``findAndModify``, ``count``, ``aggregate``, ``distinct``) to ``<directory>/<pid>.jsonl``: the
collection and the filter's shape (keys and operators, no values). ``violations`` then names
every query that filters a collection growing with use on anything but ``{"_id": value}``
(see ``common.storage_layout``). Off by default: for tests and audits, not production.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pymongo import monitoring

from common.storage_layout import SMALL_COLLECTIONS, is_primary_key_filter

__all__ = ["CommandLog", "Query", "read_log", "shape", "violations"]

_READS = {"find": "filter", "count": "query", "distinct": "query", "findAndModify": "query"}
_WRITES = {"update": "updates", "delete": "deletes"}


@dataclass(frozen=True)
class Query:
    process: str
    command: str
    collection: str
    filter: Any
    """The filter's shape: values replaced by their kind, keys and operators kept."""
    primary_key: bool
    """The filter is exactly ``{"_id": value}``."""
    limit: int = 0
    sorted: bool = False

    @property
    def allowed(self) -> bool:
        """A primary-key access, a collection small by design, or a bounded read of whatever
        comes first (``find({}).limit(n)``, unsorted: FerretDB reads n rows only)."""
        if self.primary_key or self.collection in SMALL_COLLECTIONS or self.collection.startswith("system."):
            return True
        return self.command == "find" and self.filter == {} and 0 < self.limit <= 1 and not self.sorted


def shape(value: Any) -> Any:
    """``value`` with every leaf replaced by its type's name: what the query asks, not for what."""
    if isinstance(value, Mapping):
        return {str(key): shape(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [shape(item) for item in value[:3]]
    return type(value).__name__


def _queries(command_name: str, command: Mapping[str, Any]) -> Iterator[tuple[Mapping[str, Any] | None, int, bool]]:
    if command_name in _READS:
        limit = int(command.get("limit") or (1 if command.get("singleBatch") else 0))
        yield command.get(_READS[command_name]) or {}, limit, bool(command.get("sort"))
    elif command_name in _WRITES:
        for statement in command.get(_WRITES[command_name]) or []:
            yield statement.get("q") or {}, int(statement.get("limit") or 0), False
    elif command_name == "aggregate":
        yield {"$aggregate": shape(command.get("pipeline"))}, 0, False


class CommandLog(monitoring.CommandListener):
    """Writes each query command's shape to ``<directory>/<pid>.jsonl`` (see the module)."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._path = directory / f"{os.getpid()}.jsonl"
        self._process = _process_name()
        self._lock = threading.Lock()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        name = event.command_name
        if name not in _READS and name not in _WRITES and name != "aggregate":
            return
        collection = str(event.command.get(name))
        lines = []
        for query, limit, is_sorted in _queries(name, event.command):
            record = Query(
                self._process, name, collection, shape(query), is_primary_key_filter(query), limit, is_sorted
            )
            lines.append(json.dumps(record.__dict__))
        with self._lock, self._path.open("a") as log:
            log.write("".join(f"{line}\n" for line in lines))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def _process_name() -> str:
    """``gateway`` for ``python -m gateway``, the script's name otherwise, with the pid."""
    script = Path(sys.argv[0]) if sys.argv and sys.argv[0] else Path("python")
    name = script.parent.name if script.name == "__main__.py" else script.name
    return f"{name}[{os.getpid()}]"


def read_log(directory: Path) -> list[Query]:
    return [Query(**json.loads(line)) for path in sorted(directory.glob("*.jsonl")) for line in path.open()]


def violations(queries: Iterable[Query]) -> list[Query]:
    """The queries that would read a whole collection growing with use, once each."""
    found: dict[str, Query] = {}
    for query in queries:
        if not query.allowed:
            found.setdefault(json.dumps([query.process, query.command, query.collection, query.filter]), query)
    return list(found.values())
