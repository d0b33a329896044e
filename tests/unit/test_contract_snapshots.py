"""An event cannot change incompatibly without a schema version bump."""

from __future__ import annotations

import json
from typing import Any

import pytest

from contracts.snapshots import breaking_changes, current_schemas, snapshot_path

CURRENT = current_schemas()


@pytest.mark.parametrize(("event_type", "version"), sorted(CURRENT))
def test_each_event_matches_its_committed_schema(event_type: str, version: int) -> None:
    path = snapshot_path(event_type, version)
    assert path.exists(), (
        f"no committed schema for {event_type} v{version}: a new event or version; "
        "record it with `python -m contracts.snapshots write`"
    )
    committed = json.loads(path.read_text())
    current = CURRENT[(event_type, version)]
    if current == committed:
        return
    if problems := breaking_changes(committed, current):
        pytest.fail(
            f"{event_type} changed incompatibly ({'; '.join(problems)}) without a version bump: "
            "raise its schema_version (and keep serving the old one while consumers move)"
        )
    pytest.fail(f"{event_type} changed compatibly: record it with `python -m contracts.snapshots write`")


BASE: dict[str, Any] = {
    "properties": {"a": {"type": "string"}, "b": {"type": "integer", "description": "x"}},
    "required": ["a"],
}


@pytest.mark.parametrize(
    ("new", "breaking"),
    [
        (BASE, False),
        ({**BASE, "properties": {**BASE["properties"], "c": {"type": "string"}}}, False),
        ({**BASE, "properties": {**BASE["properties"], "b": {"type": "integer", "description": "y"}}}, False),
        ({**BASE, "properties": {"a": {"type": "string"}}}, True),
        ({**BASE, "properties": {**BASE["properties"], "a": {"type": "integer"}}}, True),
        (
            {"properties": {**BASE["properties"], "c": {"type": "string"}}, "required": ["a", "c"]},
            True,
        ),
    ],
)
def test_what_counts_as_breaking(new: dict[str, Any], breaking: bool) -> None:
    assert bool(breaking_changes(BASE, new)) is breaking
