"""The AsyncAPI document as one self-contained HTML page, rendered on the server.

Integrators often read it behind a firewall: the page loads nothing (no script, no font, no
stylesheet from elsewhere) and works with JavaScript off. It shows the servers, which routing
key each event travels under, who sends and who receives it, every channel (its exchange and
routing key, or its queue), and every event: description, fields, examples. Pure: a document
in, text out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from html import escape
from typing import Any

__all__ = ["render_page", "render_webhooks_page", "topic_matches"]

_STYLE = """
body{font:15px/1.5 system-ui,sans-serif;margin:0 auto;max-width:70rem;padding:1rem 2rem;color:#1d1f21}
h1 small,h3 small{color:#666;font-weight:normal;font-size:.7em}
h2{border-bottom:2px solid #ddd;margin-top:2.5rem}h3{margin-top:2rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0}
th,td{border:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f4f4}code{background:#f4f4f4;padding:0 .2rem;border-radius:3px}
pre{background:#f7f7f7;border:1px solid #ddd;padding:.6rem;overflow-x:auto}
.tag{background:#e8f0fe;border-radius:3px;padding:0 .4rem;margin-right:.3rem}
nav ul{columns:2}
""".strip()


def _inline(text: str) -> str:
    """Escaped text with `backticks` as code."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", escape(text))


def _markdown(text: str) -> str:
    """The little Markdown the document's descriptions use: paragraphs, ``- `` lists, code."""
    blocks = []
    for block in text.strip().split("\n\n"):
        lines = [line.strip() for line in block.strip().splitlines()]
        if lines and all(line.startswith("- ") for line in lines):
            blocks.append("<ul>" + "".join(f"<li>{_inline(line[2:])}</li>" for line in lines) + "</ul>")
        elif lines:
            blocks.append(f"<p>{_inline(' '.join(lines))}</p>")
    return "\n".join(blocks)


def _anchor(kind: str, name: str) -> str:
    return f"{kind}-" + re.sub(r"[^A-Za-z0-9_.-]", "-", name)


def _link(kind: str, name: str, text: str | None = None) -> str:
    return f'<a href="#{_anchor(kind, name)}">{escape(text or name)}</a>'


def _ref_name(item: dict[str, Any]) -> str:
    return str(item.get("$ref", "")).rsplit("/", 1)[-1]


def _tags(item: dict[str, Any]) -> str:
    return "".join(f'<span class="tag">{escape(str(tag.get("name")))}</span>' for tag in item.get("tags") or [])


def _table(headers: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def topic_matches(pattern: str, routing_key: str) -> bool:
    """Whether a topic binding ``pattern`` (``*`` one word, ``#`` any words) takes ``routing_key``."""
    words = [re.escape(word) for word in pattern.split(".")]
    regex = r"\.".join(words).replace(r"\#", ".*").replace(r"\*", r"[^.]+")
    return re.fullmatch(regex, routing_key) is not None


def _type(schema: dict[str, Any]) -> str:
    """A field's type, in words, with links to named types."""
    if "$ref" in schema:
        return _link("schema", _ref_name(schema))
    if "const" in schema:
        return f"<code>{escape(json.dumps(schema['const']))}</code> (always)"
    for union in ("anyOf", "oneOf"):
        if union in schema:
            return " or ".join(_type(option) for option in schema[union])
    kind = str(schema.get("type", "any"))
    if kind == "array":
        return "array of " + _type(schema.get("items", {}))
    return escape(kind) + (f" ({escape(str(schema['format']))})" if "format" in schema else "")


def _constraints(schema: dict[str, Any]) -> list[str]:
    words = {"minimum": "at least", "maximum": "at most", "minLength": "length at least", "maxLength": "length at most"}
    found = [f"{label} {schema[key]}" for key, label in words.items() if key in schema]
    if "enum" in schema:
        found.append("one of " + ", ".join(f"<code>{escape(json.dumps(value))}</code>" for value in schema["enum"]))
    if "default" in schema and "const" not in schema:
        found.append(f"default <code>{escape(json.dumps(schema['default']))}</code>")
    for option in schema.get("anyOf", []):
        found += _constraints(option)
    return found


def _fields(schema: dict[str, Any]) -> str:
    required = set(schema.get("required", []))
    rows = []
    # required fields first: what a producer must send
    ordered = sorted(schema.get("properties", {}).items(), key=lambda item: (item[0] not in required, item[0]))
    for name, field in ordered:
        description = _inline(str(field.get("description", "")))
        constraints = _constraints(field)
        if constraints:
            description += f"<br><small>{escape('; ').join(constraints)}</small>"
        rows.append([f"<code>{escape(name)}</code>", _type(field), "yes" if name in required else "no", description])
    return _table(["field", "type", "required", "description"], rows)


def _servers(spec: dict[str, Any]) -> str:
    rows = [
        [
            escape(name),
            escape(f"{server.get('protocol', '')} {server.get('protocolVersion', '')}".strip()),
            f"<code>{escape(str(server.get('host', '')))}</code>",
            f"<code>{escape(str(server.get('pathname', '')))}</code>",
            _inline(str(server.get("description", ""))),
        ]
        for name, server in sorted(spec.get("servers", {}).items())
    ]
    return _table(["server", "protocol", "host", "virtual host", "description"], rows)


class _Index:
    """Who sends and who receives what, read off the document's channels and operations."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.channels: dict[str, dict[str, Any]] = spec.get("channels", {})
        self.messages: dict[str, dict[str, Any]] = spec.get("components", {}).get("messages", {})
        self.schemas: dict[str, dict[str, Any]] = spec.get("components", {}).get("schemas", {})
        self.actions: dict[str, str] = {
            _ref_name(operation.get("channel", {})): str(operation.get("action", ""))
            for operation in spec.get("operations", {}).values()
        }

    def routing_key(self, schema_name: str) -> str | None:
        const = self.schemas.get(schema_name, {}).get("properties", {}).get("type", {}).get("const")
        return None if const is None else str(const)

    def is_queue(self, channel: dict[str, Any]) -> bool:
        return bool(channel.get("bindings", {}).get("amqp", {}).get("is") == "queue")

    def senders(self, routing_key: str) -> list[str]:
        return sorted(
            name
            for name, channel in self.channels.items()
            if self.actions.get(name) == "send" and channel.get("address") == routing_key
        )

    def receivers(self, routing_key: str) -> list[str]:
        return sorted(
            name
            for name, channel in self.channels.items()
            if self.is_queue(channel) and any(topic_matches(key, routing_key) for key in _bindings(channel))
        )

    def messages_of(self, schema_name: str) -> list[str]:
        """Messages whose payload is the schema, or one of several schemas that include it."""
        found = []
        for name, message in self.messages.items():
            payload = _ref_name(message.get("payload", {}))
            options = [_ref_name(option) for option in self.schemas.get(payload, {}).get("oneOf", [])]
            if schema_name == payload or schema_name in options:
                found.append(name)
        return sorted(found)

    def channel_of(self, message_name: str) -> str | None:
        for name, channel in self.channels.items():
            if any(_ref_name(ref) == message_name for ref in channel.get("messages", {}).values()):
                return name
        return None

    def events(self) -> list[str]:
        """Payload schemas that are events (they have a routing key), in routing-key order."""
        names = [name for name in self.schemas if self.routing_key(name) is not None]
        return sorted(names, key=lambda name: str(self.routing_key(name)))


def _bindings(channel: dict[str, Any]) -> list[str]:
    """The routing keys a queue's channel is bound to: all of them where the document lists
    them (``x-routing-keys``), else its address."""
    return [str(key) for key in channel.get("x-routing-keys") or [channel.get("address", "")]]


def _channel_links(index: _Index, names: list[str]) -> str:
    return (
        ", ".join(f"{_link('channel', name)} {_tags(index.channels.get(name, {}))}" for name in names)
        or "<em>none</em>"
    )


def _routing(index: _Index) -> str:
    rows = []
    for name in index.events():
        key = str(index.routing_key(name))
        rows.append(
            [
                f"<code>{escape(key)}</code>",
                _link("schema", name),
                _channel_links(index, index.senders(key)),
                _channel_links(index, index.receivers(key)),
            ]
        )
    return _table(["routing key", "event", "sent on", "received from queue"], rows)


def _channel(index: _Index, name: str, channel: dict[str, Any]) -> str:
    amqp = channel.get("bindings", {}).get("amqp", {})
    address = f"<code>{escape(str(channel.get('address', '')))}</code>"
    if index.is_queue(channel):
        queue = amqp.get("queue", {})
        where = [
            ["queue", f"<code>{escape(str(queue.get('name', '')))}</code> (durable: {queue.get('durable')})"],
            ["bound to routing keys", ", ".join(f"<code>{escape(key)}</code>" for key in _bindings(channel))],
        ]
    else:
        exchange = amqp.get("exchange", {})
        where = [
            ["exchange", f"<code>{escape(str(exchange.get('name', '')))}</code> ({escape(str(exchange.get('type')))})"],
            ["routing key", address],
        ]
    messages = [_link("message", _ref_name(ref)) for ref in channel.get("messages", {}).values()]
    rows = [
        [
            "operation",
            escape(
                {"send": "the service sends", "receive": "the service receives"}.get(index.actions.get(name, ""), "?")
            ),
        ],
        *where,
        ["messages", ", ".join(messages)],
    ]
    return (
        f'<h3 id="{_anchor("channel", name)}">{escape(name)} <small>{_tags(channel)}</small></h3>\n'
        f"{_markdown(str(channel.get('description', '')))}\n"
        + "<table><tbody>"
        + "".join(f"<tr><th>{escape(label)}</th><td>{value}</td></tr>" for label, value in rows)
        + "</tbody></table>"
    )


def _examples(index: _Index, routing_key: str) -> str:
    """Every example of the event, from whichever message shows it, each once."""
    seen: dict[str, dict[str, Any]] = {}
    for _, message in sorted(index.messages.items()):
        for example in message.get("examples") or []:
            payload = example.get("payload") or {}
            if payload.get("type") == routing_key:
                seen.setdefault(json.dumps(payload, sort_keys=True), example)
    return "".join(
        f"<p><strong>Example:</strong> {_inline(str(example.get('summary', example.get('name', ''))))}</p>"
        f"<pre>{escape(json.dumps(example.get('payload'), indent=2, sort_keys=True))}</pre>"
        for example in seen.values()
    )


def _message_list(index: _Index, schema_name: str) -> str:
    """The messages carrying ``schema_name``; each message's anchor sits under its own payload."""
    items = []
    for message_name in index.messages_of(schema_name):
        channel = index.channel_of(message_name)
        where = f" on {_link('channel', channel)}" if channel else ""
        own = _ref_name(index.messages[message_name].get("payload", {})) == schema_name
        anchor = f' id="{_anchor("message", message_name)}"' if own else ""
        text = f"<code>{escape(message_name)}</code>" if own else _link("message", message_name)
        items.append(f"<li{anchor}>{text}{where}</li>")
    return "<ul>" + "".join(items) + "</ul>"


def _event(index: _Index, name: str) -> str:
    schema = index.schemas[name]
    message_names = index.messages_of(name)
    first = index.messages.get(message_names[0], {}) if message_names else {}
    key = str(index.routing_key(name))
    return (
        f'<h3 id="{_anchor("schema", name)}">{escape(name)} <small><code>{escape(key)}</code></small></h3>\n'
        f"{_markdown(str(schema.get('description', '')))}\n"
        f"<p>Content type <code>{escape(str(first.get('contentType', 'application/json')))}</code>; "
        f"correlation id at <code>{escape(str(first.get('correlationId', {}).get('location', '')))}</code>.</p>\n"
        + _fields(schema)
        + f"<p>Messages carrying it:</p>{_message_list(index, name)}"
        + ("" if index.senders(key) else "<p><strong>No service sends it yet.</strong></p>")
        + _examples(index, key)
    )


def _other_schema(index: _Index, name: str) -> str:
    schema = index.schemas[name]
    parts = [f'<h3 id="{_anchor("schema", name)}">{escape(name)}</h3>', _markdown(str(schema.get("description", "")))]
    if "properties" in schema:
        parts.append(_fields(schema))
    if "enum" in schema:
        parts.append("<p>One of: " + ", ".join(f"<code>{escape(str(v))}</code>" for v in schema["enum"]) + "</p>")
    for union in ("oneOf", "anyOf"):
        if union in schema:
            parts.append("<p>One of: " + ", ".join(_type(option) for option in schema[union]) + "</p>")
    message_names = index.messages_of(name)
    if message_names:
        parts.append(f"<p>Messages carrying it:</p>{_message_list(index, name)}")
        parts.append(_markdown(str(index.messages[message_names[0]].get("description", ""))))
    return "\n".join(parts)


def render_page(spec: dict[str, Any], *, raw_links: Iterable[tuple[str, str]] = ()) -> str:
    """The whole page; ``raw_links`` are (text, href) pairs shown under the title."""
    info = spec.get("info", {})
    index = _Index(spec)
    events = index.events()
    others = sorted(name for name in index.schemas if name not in events)
    title = f"{info.get('title', 'AsyncAPI')} {info.get('version', '')}".strip()
    links = " · ".join(f'<a href="{escape(href)}">{escape(text)}</a>' for text, href in raw_links)
    toc = (
        '<nav><ul><li><a href="#servers">Servers</a></li><li><a href="#routing">Routing keys</a></li>'
        + "".join(f"<li>{_link('schema', name)}</li>" for name in events)
        + '<li><a href="#channels">Channels</a></li><li><a href="#types">Other types</a></li></ul></nav>'
    )
    sections = [
        f"<h1>{escape(title)} <small>AsyncAPI {escape(str(spec.get('asyncapi', '')))}</small></h1>",
        f"<p>{links}</p>" if links else "",
        toc,
        _markdown(str(info.get("description", ""))),
        '<h2 id="services">Services</h2>',
        _table(
            ["service", "what it does"],
            [[_tags({"tags": [tag]}), _inline(str(tag.get("description", "")))] for tag in info.get("tags") or []],
        ),
        '<h2 id="servers">Servers</h2>',
        _servers(spec),
        '<h2 id="routing">Routing keys</h2>',
        "<p>Who sends each event, and which queues receive it.</p>",
        _routing(index),
        '<h2 id="events">Events</h2>',
        *(_event(index, name) for name in events),
        '<h2 id="channels">Channels</h2>',
        *(_channel(index, name, channel) for name, channel in sorted(index.channels.items())),
        '<h2 id="types">Other types</h2>',
        *(_other_schema(index, name) for name in others),
    ]
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}: events</title>\n<style>\n{_STYLE}\n</style>\n</head>\n<body>\n"
        + "\n".join(section for section in sections if section)
        + "\n</body>\n</html>\n"
    )


def render_webhooks_page(spec: dict[str, Any], *, raw_links: Iterable[tuple[str, str]] = ()) -> str:
    """The public webhook events' document as a page: what an endpoint receives, each event's
    fields and examples, and every type they use."""
    info = spec.get("info", {})
    schemas: dict[str, Any] = spec.get("components", {}).get("schemas", {})
    messages: dict[str, Any] = spec.get("components", {}).get("messages", {})
    title = f"{info.get('title', 'Webhooks')} {info.get('version', '')}".strip()
    links = " · ".join(f'<a href="{escape(href)}">{escape(text)}</a>' for text, href in raw_links)
    first: dict[str, Any] = next(iter(messages.values()), {})
    headers: dict[str, Any] = first.get("headers", {})
    sections = [
        f"<h1>{escape(title)} <small>AsyncAPI {escape(str(spec.get('asyncapi', '')))}</small></h1>",
        f"<p>{links}</p>" if links else "",
        "<nav><ul>"
        + "".join(f"<li>{_link('schema', name, str(m.get('name', name)))}</li>" for name, m in messages.items())
        + "</ul></nav>",
        _markdown(str(info.get("description", ""))),
        '<h2 id="headers">Headers of every delivery</h2>',
        _fields(headers),
        '<h2 id="events">Events</h2>',
    ]
    for name, message in messages.items():
        sections += [
            f'<h3 id="{_anchor("schema", name)}">{escape(name)} <small><code>{escape(str(message.get("name")))}</code>'
            "</small></h3>",
            _markdown(str(message.get("description", ""))),
            _fields(schemas.get(name, {})),
        ]
        for example in message.get("examples") or []:
            payload = json.dumps(example.get("payload"), indent=2, sort_keys=True)
            sections.append(f"<p>Example: {escape(str(example.get('summary', '')))}</p><pre>{escape(payload)}</pre>")
    sections.append('<h2 id="types">Types they use</h2>')
    for name in sorted(set(schemas) - set(messages)):
        schema = schemas[name]
        sections.append(f'<h3 id="{_anchor("schema", name)}">{escape(name)}</h3>')
        sections.append(_markdown(str(schema.get("description", ""))))
        if "properties" in schema:
            sections.append(_fields(schema))
        if "enum" in schema:
            sections.append(
                "<p>One of: " + ", ".join(f"<code>{escape(str(v))}</code>" for v in schema["enum"]) + "</p>"
            )
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>\n{_STYLE}\n</style>\n</head>\n<body>\n"
        + "\n".join(section for section in sections if section)
        + "\n</body>\n</html>\n"
    )
