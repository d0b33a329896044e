"""``python -m common.deadletters``: see and replay what consumers gave up on.

    python -m common.deadletters list             how many are dead-lettered, per queue
    python -m common.deadletters show QUEUE       the messages of QUEUE's dead-letter queue
    python -m common.deadletters replay QUEUE     send them back to QUEUE for a fresh round of attempts

Replaying publishes a copy to the queue (attempt count reset) before acking the dead
letter, so a crash in between duplicates a message rather than losing it; consumers are
idempotent.
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

from common.consuming import ATTEMPT_HEADER
from common.settings import BrokerSettings
from contracts.topology import Queues, dead_letter_queue

__all__ = ["DeadLetter", "counts", "replay", "show"]


@dataclass(frozen=True)
class DeadLetter:
    message_id: str | None
    job_id: str | None
    type: str | None
    attempts: int
    reason: str | None
    body: bytes


def _queue_named(name: str) -> Any:
    for queue in Queues.ALL:
        if queue.name == name:
            return queue
    raise SystemExit(f"unknown queue {name!r}; one of: {', '.join(q.name for q in Queues.ALL)}")


def _dead_letter(message: AbstractIncomingMessage) -> DeadLetter:
    headers = message.headers or {}
    deaths = headers.get("x-death") or [{}]
    return DeadLetter(
        message_id=message.message_id,
        job_id=message.correlation_id,
        type=message.type,
        attempts=int(headers.get(ATTEMPT_HEADER, 1)),  # type: ignore[arg-type]
        reason=str(deaths[0].get("reason")) if isinstance(deaths, list) and deaths else None,  # type: ignore[union-attr]
        body=message.body,
    )


async def counts(channel: AbstractChannel) -> dict[str, int]:
    result = {}
    for queue in Queues.ALL:
        declared = await channel.declare_queue(dead_letter_queue(queue).name, passive=True)
        result[queue.name] = declared.declaration_result.message_count or 0
    return result


async def show(channel: AbstractChannel, queue_name: str, limit: int = 100) -> list[DeadLetter]:
    """Read up to ``limit`` dead letters without removing them."""
    dead = await channel.get_queue(dead_letter_queue(_queue_named(queue_name)).name)
    seen = []
    for _ in range(limit):
        message = await dead.get(fail=False, no_ack=False)
        if message is None:
            break
        seen.append((message, _dead_letter(message)))
    for message, _ in seen:
        await message.nack(requeue=True)
    return [letter for _, letter in seen]


async def replay(channel: AbstractChannel, queue_name: str) -> int:
    """Move every dead letter of ``queue_name`` back to it; returns how many."""
    queue = _queue_named(queue_name)
    dead = await channel.get_queue(dead_letter_queue(queue).name)
    moved = 0
    while (message := await dead.get(fail=False, no_ack=False)) is not None:
        headers = {k: v for k, v in (message.headers or {}).items() if k not in {ATTEMPT_HEADER, "x-death"}}
        await channel.default_exchange.publish(
            aio_pika.Message(
                message.body,
                headers=headers,
                content_type=message.content_type,
                message_id=message.message_id,
                correlation_id=message.correlation_id,
                type=message.type,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key=queue.name,
        )
        await message.ack()
        moved += 1
    return moved


async def _run(argv: list[str]) -> int:
    settings = BrokerSettings.load()
    connection = await aio_pika.connect_robust(settings.rabbit_url.get_secret_value())
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        match argv:
            case ["list"] | []:
                for name, count in (await counts(channel)).items():
                    print(f"{name:32} {count} dead-lettered")
            case ["show", name]:
                for letter in await show(channel, name):
                    body = letter.body.decode("utf-8", "replace")
                    summary = json.loads(body).get("type", "?") if body.startswith("{") else body[:60]
                    print(f"{letter.job_id}  {letter.type or summary}  attempts={letter.attempts}  {letter.reason}")
            case ["replay", name]:
                print(f"replayed {await replay(channel, name)} messages to {name}")
            case _:
                print(__doc__, file=sys.stderr)
                return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(_run(sys.argv[1:])))
