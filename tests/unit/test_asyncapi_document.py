"""The AsyncAPI document is complete, and what is committed is what the code generates.

Every routing key must have its event type, its line in the overview, an example, a
description and a channel that sends it; every channel and message a description, every
message valid examples. ``missing_parts`` is what ``python -m common.asyncapi check`` runs in
CI; the mutations below show it notices each kind of gap.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from common.asyncapi import document, render
from common.asyncapi_contents import NOT_SENT_YET, describe_system, missing_parts
from common.event_examples import EXAMPLES, examples_of
from contracts import RoutingKey
from contracts.snapshots import event_types
from contracts.topology import Queues

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = document()


def test_the_committed_asyncapi_yaml_is_what_the_code_generates() -> None:
    committed = (ROOT / "asyncapi.yaml").read_text(encoding="utf-8")
    assert render(DOCUMENT) == committed, "asyncapi.yaml is stale: run ./run asyncapi and commit it"


def test_the_document_is_the_same_on_every_build() -> None:
    assert document() == DOCUMENT


def test_the_document_does_not_depend_on_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The production gateway serves it: its VIDMP3_* variables (production mode, settings of
    its own) must neither change the document nor stop it from being built."""
    monkeypatch.setenv("VIDMP3_ENVIRONMENT", "production")
    monkeypatch.setenv("VIDMP3_SMTP_PORT", "not a port")
    monkeypatch.setenv("VIDMP3_PREFETCH", "64")
    assert document() == DOCUMENT


def test_the_document_misses_nothing() -> None:
    assert missing_parts(DOCUMENT) == []


def test_every_routing_key_is_an_event_type_and_every_event_type_has_one() -> None:
    assert {str(event_type.model_fields["type"].default) for event_type in event_types()} == set(RoutingKey)


@pytest.mark.parametrize("key", list(RoutingKey))
def test_every_event_type_is_documented(key: RoutingKey) -> None:
    assert f"`{key}`" in DOCUMENT["info"]["description"]
    assert examples_of(key), f"no example of {key} in common.event_examples"
    schema = next(
        s
        for s in DOCUMENT["components"]["schemas"].values()
        if s.get("properties", {}).get("type", {}).get("const") == key
    )
    assert schema["description"].startswith("Sent when")
    assert all(field.get("description") for field in schema["properties"].values())
    channels = [
        c for c in DOCUMENT["channels"].values() if c["address"] == key and c["bindings"]["amqp"]["is"] == "routingKey"
    ]
    assert bool(channels) is (key not in NOT_SENT_YET)


def test_the_overview_lists_every_queue_and_the_dead_letter_path() -> None:
    overview = describe_system()
    for queue in Queues.ALL:
        assert f"`{queue.name}`" in overview
    assert "`<queue>.dead`" in overview
    assert "5 s, 30 s, 2 min, 10 min, 30 min" in overview


def test_examples_are_fixed_so_the_document_is_stable() -> None:
    ids = [event.event_id for _, event in EXAMPLES]
    assert len(set(ids)) == len(ids)
    assert all(str(event_id).startswith("9b1d7c1e-") for event_id in ids)


def test_channels_and_operations_name_the_service_that_owns_them() -> None:
    owners = {name: channel["tags"][0]["name"] for name, channel in DOCUMENT["channels"].items()}
    assert owners["video.uploaded:publish"] == "gateway"
    assert owners["converter.video-uploaded:consume"] == "converter"
    assert owners["notification.sent:publish"] == "notifier"
    assert owners["projections.watchdog.conversion.failed:publish"] == "projections"
    assert {name: op["tags"][0]["name"] for name, op in DOCUMENT["operations"].items()} == owners


def _drop_senders(key: str) -> Callable[[dict[str, Any]], None]:
    def mutate(spec: dict[str, Any]) -> None:
        for name in [n for n, c in spec["channels"].items() if c["address"] == key and n.endswith(":publish")]:
            del spec["channels"][name]
            del spec["operations"][name]

    return mutate


def _set(path: list[str], value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(spec: dict[str, Any]) -> None:
        node = spec
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = value

    return mutate


def _unlist(key: str) -> Callable[[dict[str, Any]], None]:
    def mutate(spec: dict[str, Any]) -> None:
        spec["info"]["description"] = spec["info"]["description"].replace(f"`{key}`", key)

    return mutate


_MESSAGE = "mp3.converted:publish:Message"


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (_drop_senders("mp3.converted"), "mp3.converted: no channel sends it"),
        (_set(["components", "messages", _MESSAGE, "examples"], []), f"message {_MESSAGE} has no example"),
        (_set(["components", "messages", _MESSAGE, "description"], ""), f"message {_MESSAGE} has no description"),
        (
            _set(
                ["components", "messages", _MESSAGE, "examples"], [{"name": "x", "payload": {"type": "mp3.converted"}}]
            ),
            "is not a valid event",
        ),
        (_set(["components", "schemas", "JobDeleted", "description"], ""), "schema JobDeleted has no description"),
        (_unlist("job.deleted"), "job.deleted: not listed in the overview"),
        (_set(["channels", "notification.sent:publish", "description"], ""), "channel notification.sent:publish has"),
        (_set(["channels", "notification.sent:publish", "tags"], []), "names no service"),
        (
            _set(["channels", "converter.job-cancelled:consume", "x-routing-keys"], ["job.cancelled"]),
            "does not list every routing key converter.job-cancelled is bound to",
        ),
        (_drop_senders("conversion.progress"), "conversion.progress: no channel sends it"),
    ],
)
def test_missing_parts_notices_each_kind_of_gap(mutate: Callable[[dict[str, Any]], None], expected: str) -> None:
    spec = copy.deepcopy(DOCUMENT)
    mutate(spec)
    problems = missing_parts(spec)
    assert any(expected in problem for problem in problems), problems


def test_an_event_without_any_example_is_reported() -> None:
    spec = copy.deepcopy(DOCUMENT)
    for message in spec["components"]["messages"].values():
        message["examples"] = [e for e in message["examples"] if e["payload"].get("type") != "job.cancelled"] or [
            {"name": "other", "payload": EXAMPLES[0][1].model_dump(mode="json")}
        ]
    assert "job.cancelled: no example" in missing_parts(spec)
