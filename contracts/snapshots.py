"""Committed JSON schemas of every event, one file per type and schema version.

``python -m contracts.snapshots write`` records the current schemas; the contract tests
compare the code with them, so an event cannot change incompatibly without a version bump
(and a compatible change is recorded on purpose, not by accident).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, get_args

from contracts.events import Event

__all__ = ["DIRECTORY", "breaking_changes", "current_schemas", "snapshot_path"]

DIRECTORY = Path(__file__).parent / "schemas"


def event_types() -> list[Any]:
    union = get_args(Event)[0]
    return list(get_args(union))


def current_schemas() -> dict[tuple[str, int], dict[str, Any]]:
    """``(type, schema_version)`` to the JSON schema a consumer validates the event against."""
    result = {}
    for event_type in event_types():
        fields = event_type.model_fields
        key = (str(fields["type"].default), int(fields["schema_version"].default))
        result[key] = event_type.model_json_schema(mode="validation")
    return result


def snapshot_path(event_type: str, version: int) -> Path:
    return DIRECTORY / f"{event_type}.v{version}.json"


def breaking_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What in ``new`` breaks a consumer written against ``old`` (empty: compatible)."""
    problems = []
    old_fields, new_fields = old.get("properties", {}), new.get("properties", {})
    for name, schema in old_fields.items():
        if name not in new_fields:
            problems.append(f"field {name!r} removed")
        elif _without_docs(schema) != _without_docs(new_fields[name]):
            problems.append(f"field {name!r} changed")
    old_required, new_required = set(old.get("required", [])), set(new.get("required", []))
    for name in sorted(new_required - old_required):
        # events stored or queued without it no longer validate
        problems.append(f"new required field {name!r}" if name not in old_fields else f"field {name!r} now required")
    for name in sorted(old_required - new_required):
        if name in new_fields:  # consumers written against the old schema rely on it
            problems.append(f"field {name!r} no longer required")
    if _without_docs(old.get("$defs", {})) != _without_docs(new.get("$defs", {})):
        problems.append("a nested type changed")
    return problems


def _without_docs(schema: Any) -> Any:
    """The schema without the words: descriptions, titles and examples change nothing."""
    if isinstance(schema, dict):
        return {k: _without_docs(v) for k, v in schema.items() if k not in {"description", "title", "examples"}}
    if isinstance(schema, list):
        return [_without_docs(item) for item in schema]
    return schema


def write() -> None:
    DIRECTORY.mkdir(exist_ok=True)
    for (event_type, version), schema in current_schemas().items():
        snapshot_path(event_type, version).write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
        print(f"wrote {snapshot_path(event_type, version).name}")


if __name__ == "__main__":
    if sys.argv[1:] != ["write"]:
        raise SystemExit("usage: python -m contracts.snapshots write")
    write()
