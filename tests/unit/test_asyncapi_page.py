"""The AsyncAPI page: everything the document says is on it, it loads nothing from elsewhere,
and it is well-formed HTML whose links all land."""

from __future__ import annotations

import copy
import json
import re
from html import unescape
from html.parser import HTMLParser

import pytest

from common.asyncapi import document
from contracts import RoutingKey
from gateway.asyncapi_html import render_page, topic_matches

DOCUMENT = document()


def _plain(html: str) -> str:
    """The text of ``html`` without its tags, as a reader sees it."""
    return unescape(re.sub(r"<[^>]+>", "", html))


PAGE = render_page(DOCUMENT, raw_links=[("YAML", "asyncapi.yaml")])
TEXT = unescape(PAGE)
VOID = {"meta", "br", "link", "img", "hr", "input"}


class _Tree(HTMLParser):
    """Tags, attributes and nesting errors of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.errors: list[str] = []
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += [(tag, name, value) for name, value in attrs]
        if tag not in VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.open[-1:] or 'nothing'}")
        else:
            self.open.pop()


def _parse(page: str) -> _Tree:
    tree = _Tree()
    tree.feed(page)
    tree.close()
    return tree


TREE = _parse(PAGE)


def test_the_page_is_well_formed() -> None:
    assert TREE.errors == []
    assert TREE.open == []
    ids = [value for _, name, value in TREE.attributes if name == "id"]
    assert len(ids) == len(set(ids)), "duplicate ids"


def test_every_link_on_the_page_lands_on_it_or_next_to_it() -> None:
    ids = {value for _, name, value in TREE.attributes if name == "id"}
    hrefs = [value or "" for _, name, value in TREE.attributes if name == "href"]
    assert hrefs
    for href in hrefs:
        if href.startswith("#"):
            assert href[1:] in ids, f"link to a missing anchor {href}"
        else:
            assert href == "asyncapi.yaml"  # the raw_links given, relative to /docs/


def test_the_page_loads_nothing_and_runs_nothing() -> None:
    """Readable behind a firewall and with scripts off: no script, no external stylesheet,
    font or image, nothing with a source."""
    assert not {"script", "link", "img", "iframe", "object", "embed"} & set(TREE.tags)
    assert not [a for a in TREE.attributes if a[1] == "src" or a[1].startswith("on")]
    assert "@import" not in PAGE
    assert "url(" not in PAGE


@pytest.mark.parametrize("key", list(RoutingKey))
def test_every_event_is_shown_with_its_fields_and_examples(key: RoutingKey) -> None:
    name, schema = next(
        (n, s)
        for n, s in DOCUMENT["components"]["schemas"].items()
        if s.get("properties", {}).get("type", {}).get("const") == key
    )
    section = TEXT[TEXT.index(f'id="schema-{name}"') :]
    section = section[: section.index("<h3", 10)] if "<h3" in section[10:] else section
    assert schema["description"] in _plain(section)
    for field, spec in schema["properties"].items():
        assert f"<code>{field}</code>" in section
        assert spec["description"].replace("`", "") in _plain(section)
    for message in DOCUMENT["components"]["messages"].values():
        for example in message["examples"]:
            if example["payload"].get("type") == key:
                assert example["summary"] in section
                assert json.dumps(example["payload"], indent=2, sort_keys=True) in section


def test_every_channel_server_and_queue_is_shown() -> None:
    for name, channel in DOCUMENT["channels"].items():
        assert f">{name} <small>" in PAGE
        assert channel["description"] in _plain(PAGE)
        queue = channel["bindings"]["amqp"].get("queue")
        if queue:
            assert f"<code>{queue['name']}</code>" in TEXT
    assert "<code>localhost:5672</code>" in TEXT
    assert "<code>/vidmp3</code>" in TEXT
    assert "<code>vidmp3.events</code> (topic)" in TEXT


def test_the_routing_table_says_who_sends_and_who_receives() -> None:
    table = TEXT[TEXT.index('id="routing"') : TEXT.index('id="events"')]
    row = table[table.index("<code>mp3.converted</code>") :].split("</tr>")[0]
    assert "mp3.converted:publish" in row
    assert "notifier.mp3-converted:consume" in row
    assert "projections.job-status:consume" in row
    assert "converter.video-uploaded:consume" not in row


def test_a_queue_bound_to_several_keys_receives_each() -> None:
    table = TEXT[TEXT.index('id="routing"') : TEXT.index('id="events"')]
    for key in ("job.cancelled", "job.deleted"):
        row = table[table.index(f"<code>{key}</code>") :].split("</tr>")[0]
        assert "converter.job-cancelled:consume" in row, key


def test_text_from_the_document_is_escaped() -> None:
    spec = copy.deepcopy(DOCUMENT)
    spec["info"]["description"] = "<script>alert(1)</script> and `<b>`"
    spec["components"]["schemas"]["JobDeleted"]["properties"]["requested_by"]["description"] = "<img src=x>"
    page = render_page(spec)
    assert "<script>" not in page
    assert "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<code>&lt;b&gt;</code>" in page


@pytest.mark.parametrize(
    ("pattern", "key", "matches"),
    [
        ("#", "mp3.converted", True),
        ("mp3.converted", "mp3.converted", True),
        ("mp3.converted", "mp3.converted.extra", False),
        ("mp3.*", "mp3.converted", True),
        ("*.converted", "conversion.started", False),
        ("conversion.#", "conversion.failed", True),
        ("video.uploaded", "videoXuploaded", False),
    ],
)
def test_topic_bindings_match_as_rabbitmq_matches_them(pattern: str, key: str, matches: bool) -> None:
    assert topic_matches(pattern, key) is matches
