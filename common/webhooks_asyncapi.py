"""The public AsyncAPI document of the webhook events, for integrators: what vidmp3 POSTs to
their endpoints. Generated from ``contracts.webhooks`` (``python -m common.webhooks_asyncapi
write`` writes ``asyncapi.webhooks.yaml``, ``check`` fails when it is stale). The internal
document (``asyncapi.yaml``) describes the RabbitMQ queues between the services, which no
integrator can reach; this one describes only HTTP deliveries.

The same schemas and examples make the OpenAPI 3.1 ``webhooks`` of the gateway's document.
"""

from __future__ import annotations

import copy
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from contracts import FailureReason
from contracts import webhooks as public
from contracts.webhooks import WebhookEventType, webhook_event_models

__all__ = ["DESCRIPTION", "document", "examples", "inline_schema", "main", "render"]

_JOB = UUID("3f0c2b7e-8a41-4c4e-9d0b-6a5f1e2d3c4b")
_AT = datetime(2026, 5, 4, 10, 15, 30, tzinfo=UTC)
_BASE = "https://vidmp3.example.com"
_STATUS = f"{_BASE}/v1/jobs/{_JOB}"

DESCRIPTION = """\
The events vidmp3 sends to your webhook endpoints (registered with `POST /v1/webhooks`) and to a
job's `callback_url`: one HTTP POST per event, JSON, following
[Standard Webhooks](https://www.standardwebhooks.com/).

- Headers: `webhook-id` (the delivery's id: the same on every attempt and every repeat, so
  de-duplicate on it), `webhook-timestamp` (seconds since 1970 of this attempt) and
  `webhook-signature` (`v1,<base64 HMAC-SHA256 of id.timestamp.body>`, space-separated when two
  secrets sign during a rotation). Verify with the `standardwebhooks` library and your `whsec_`
  secret; refuse a timestamp more than 5 minutes off.
- Body: `type`, `event_id` (the same fact has the same id at every endpoint), `schema_version`,
  `timestamp` (when it happened) and `data`. Ignore fields you do not know: adding one is not a
  new version; anything else is.
- Answer 2xx within 10 seconds. Anything else (another status, a redirect, a timeout) is tried
  again after 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 2 h, 4 h, 8 h and 8 h (about a day); an
  endpoint failing all along is turned off and its owner emailed.
- Delivery is at least once and not in order: an event may come twice (same `webhook-id`), and a
  retried one may come after a later one; use `timestamp` and the job's state.

The internal events between the services are another document (`/docs/asyncapi`): integrators
cannot receive those.
"""

_HEADERS = {
    "type": "object",
    "required": ["webhook-id", "webhook-timestamp", "webhook-signature"],
    "properties": {
        "webhook-id": {
            "type": "string",
            "description": "The delivery's id, the same on every attempt: de-duplicate on it.",
            "examples": ["msg_6f1c0a9e8d7b4c3a9e2f1d0c8b7a6f5e"],
        },
        "webhook-timestamp": {
            "type": "string",
            "description": "When this attempt was made, in seconds since 1970 (UTC).",
            "examples": ["1777889730"],
        },
        "webhook-signature": {
            "type": "string",
            "description": "`v1,` and the base64 HMAC-SHA256 of `id.timestamp.body` under your secret; "
            "two, space-separated, during a secret rotation.",
            "examples": ["v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="],
        },
    },
}


def examples() -> dict[str, list[tuple[str, BaseModel]]]:
    """An example (summary, event) or two per event type."""
    job = {"job_id": _JOB, "status_url": _STATUS}

    def event_id(n: int) -> UUID:
        return UUID(f"9b1d7c1e-0f4a-4e55-8f0e-1c2d3e4f5a{n:02d}")

    return {
        WebhookEventType.JOB_QUEUED: [
            (
                "a video was uploaded",
                public.JobQueued(
                    event_id=event_id(1),
                    timestamp=_AT,
                    data=public.JobQueuedData(**job, filename="holiday.mp4", size_bytes=73_400_320),
                ),
            )
        ],
        WebhookEventType.JOB_CONVERTING: [
            (
                "conversion started",
                public.JobConverting(
                    event_id=event_id(2), timestamp=_AT, data=public.JobConvertingData(**job, percent=0)
                ),
            ),
            (
                "40 % done",
                public.JobConverting(
                    event_id=event_id(3), timestamp=_AT, data=public.JobConvertingData(**job, percent=41.5)
                ),
            ),
        ],
        WebhookEventType.JOB_READY: [
            (
                "the MP3 is ready",
                public.JobReady(
                    event_id=event_id(4),
                    timestamp=_AT,
                    data=public.JobReadyData(
                        **job,
                        filename="holiday.mp3",
                        size_bytes=14_400_417,
                        duration_seconds=600.0,
                        download_url=f"{_BASE}/v1/downloads/eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJhdWQiOi...",
                        download_expires_at=datetime(2026, 5, 11, 11, 0, tzinfo=UTC),
                    ),
                ),
            ),
            (
                "the MP3 is ready, split per chapter",
                public.JobReady(
                    event_id=event_id(4),
                    timestamp=_AT,
                    data=public.JobReadyData(
                        **job,
                        filename="lecture.mp3",
                        size_bytes=4_800_139,
                        duration_seconds=200.0,
                        download_url=f"{_BASE}/v1/downloads/eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJhdWQiOi...",
                        download_expires_at=datetime(2026, 5, 11, 11, 0, tzinfo=UTC),
                        parts=[
                            public.JobReadyPart(
                                number=number,
                                title=title,
                                filename=f"lecture - {number:02d} {title}.mp3",
                                start_seconds=start,
                                duration_seconds=length,
                                size_bytes=round(length * 24_000),
                                download_url=f"{_BASE}/v1/downloads/eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJmaWQiOi...",
                            )
                            for number, (title, start, length) in enumerate(
                                [("Welcome", 0.0, 45.0), ("Methods", 45.0, 155.0)], start=1
                            )
                        ],
                    ),
                ),
            ),
        ],
        WebhookEventType.JOB_FAILED: [
            (
                "the video has no sound",
                public.JobFailed(
                    event_id=event_id(5),
                    timestamp=_AT,
                    data=public.JobFailedData(
                        **job,
                        reason=FailureReason.NO_AUDIO_STREAM,
                        detail="The video has no sound, so there is nothing to turn into an MP3. Check that the "
                        "video plays with sound on your device, then upload it again.",
                    ),
                ),
            )
        ],
        WebhookEventType.JOB_CANCELLED: [
            (
                "cancelled by its owner",
                public.JobCancelled(event_id=event_id(6), timestamp=_AT, data=public.JobCancelledData(**job)),
            )
        ],
        WebhookEventType.JOB_EXPIRED: [
            (
                "its files passed their retention time",
                public.JobExpired(event_id=event_id(7), timestamp=_AT, data=public.JobExpiredData(**job)),
            )
        ],
        WebhookEventType.JOB_DELETED: [
            (
                "deleted by its owner",
                public.JobDeleted(event_id=event_id(8), timestamp=_AT, data=public.JobDeletedData(**job)),
            )
        ],
    }


def _schemas() -> dict[str, Any]:
    _, top = models_json_schema(
        [(model, "validation") for model in webhook_event_models()], ref_template="#/components/schemas/{model}"
    )
    schemas: dict[str, Any] = top["$defs"]
    return schemas


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """``model``'s JSON schema with every reference replaced by what it names (for OpenAPI's
    ``webhooks``, whose schemas cannot point into another document)."""
    schemas = _schemas()

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(copy.deepcopy(schemas[node["$ref"].rsplit("/", 1)[1]]))
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    resolved: dict[str, Any] = resolve(copy.deepcopy(schemas[model.__name__]))
    return resolved


def document() -> dict[str, Any]:
    """The AsyncAPI 3.0 document of the webhook events."""
    models = webhook_event_models()
    all_examples = examples()
    messages: dict[str, Any] = {}
    for model in models:
        event_type = str(model.model_fields["type"].default)
        messages[model.__name__] = {
            "name": event_type,
            "title": model.__name__,
            "summary": (model.__doc__ or "").strip().splitlines()[0],
            "description": (model.__doc__ or "").strip(),
            "contentType": "application/json",
            "headers": _HEADERS,
            "payload": {"$ref": f"#/components/schemas/{model.__name__}"},
            "examples": [
                {
                    "name": f"{event_type}-{index}",
                    "summary": summary,
                    "payload": event.model_dump(mode="json"),
                    "headers": {
                        "webhook-id": "msg_6f1c0a9e8d7b4c3a9e2f1d0c8b7a6f5e",
                        "webhook-timestamp": "1777889730",
                        "webhook-signature": "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=",
                    },
                }
                for index, (summary, event) in enumerate(all_examples[event_type], start=1)
            ],
        }
    refs = [{"$ref": f"#/channels/endpoint/messages/{model.__name__}"} for model in models]
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "vidmp3 webhooks", "version": "1", "description": DESCRIPTION},
        "servers": {
            "endpoint": {
                "host": "your-receiver.example.com",
                "protocol": "https",
                "description": "Your endpoint's URL (or a job's callback_url).",
            }
        },
        "defaultContentType": "application/json",
        "channels": {
            "endpoint": {
                "address": "/",
                "title": "Your webhook endpoint",
                "description": "Each event is POSTed to the endpoint's URL as it is registered.",
                "servers": [{"$ref": "#/servers/endpoint"}],
                "messages": {model.__name__: {"$ref": f"#/components/messages/{model.__name__}"} for model in models},
                "bindings": {"http": {"bindingVersion": "0.3.0"}},
            }
        },
        "operations": {
            "sendJobEvents": {
                "action": "send",
                "title": "Tell your endpoint what happened to a job",
                "description": "vidmp3 POSTs each event; answer 2xx within 10 seconds.",
                "channel": {"$ref": "#/channels/endpoint"},
                "messages": refs,
                "bindings": {"http": {"method": "POST", "bindingVersion": "0.3.0"}},
            }
        },
        "components": {"messages": messages, "schemas": _schemas()},
    }


def render(spec: dict[str, Any] | None = None) -> str:
    import yaml

    return yaml.safe_dump(document() if spec is None else spec, sort_keys=True, allow_unicode=True, width=100)


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "write"
    target = Path(argv[1]) if len(argv) > 1 else Path("asyncapi.webhooks.yaml")
    rendered = render()
    if command == "write":
        target.write_text(rendered, encoding="utf-8")
        print(f"wrote {target}")
        return 0
    if command == "check":
        if target.exists() and target.read_text(encoding="utf-8") == rendered:
            print(f"{target} is up to date")
            return 0
        print(f"{target} is stale: run python -m common.webhooks_asyncapi write and commit it", file=sys.stderr)
        return 1
    print("usage: python -m common.webhooks_asyncapi write|check [PATH]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
