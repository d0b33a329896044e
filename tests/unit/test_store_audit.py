"""Which queries the layout allows: a primary-key access, a collection small by design, or the
first document of a collection; anything else on a growing collection is reported."""

from __future__ import annotations

from bson import ObjectId

from common.storage_layout import is_primary_key_filter
from common.store_audit import Query, shape, violations


def query(collection: str, filter_: dict, *, limit: int = 0, is_sorted: bool = False, command: str = "find") -> Query:
    return Query("gateway[1]", command, collection, shape(filter_), is_primary_key_filter(filter_), limit, is_sorted)


def test_only_a_lone_id_equal_to_a_value_is_a_primary_key_filter() -> None:
    assert is_primary_key_filter({"_id": "job:00000001"})
    assert is_primary_key_filter({"_id": ObjectId()})
    assert not is_primary_key_filter({"_id": {"$in": ["a", "b"]}})
    assert not is_primary_key_filter({"_id": "a", "version": 3})
    assert not is_primary_key_filter({"files_id": ObjectId(), "n": 2})
    assert not is_primary_key_filter({})
    assert not is_primary_key_filter(None)


def test_the_shape_keeps_keys_and_operators_not_values() -> None:
    assert shape({"_id": {"$in": ["a", "b"]}, "n": 2}) == {"_id": {"$in": ["str", "str"]}, "n": "int"}


def test_growing_collections_are_read_by_key_only() -> None:
    allowed = [
        query("job_status", {"_id": "x"}, limit=1),
        query("outbox", {}),  # small by design
        query("uploads", {"_id": "x", "lease": "y"}, command="update"),
        query("events", {}, limit=1),  # the first document, unsorted
    ]
    refused = [
        query("mp3s.chunks", {"files_id": ObjectId(), "n": {"$gte": 1}}),
        query("events", {"job_id": "j"}, limit=1, is_sorted=True),
        query("job_status", {"owner_id": "1"}, limit=20),
        query("events", {}, limit=1, is_sorted=True),
        query("job_status", {"_id": "x", "version": 2}, command="update"),
    ]

    assert violations(allowed) == []
    assert violations(refused + refused) == refused
