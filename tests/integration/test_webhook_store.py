"""The webhook store against the real FerretDB: the per-user bound holds under concurrent
registrations, a delivery is stored once however often it is made, and each endpoint's log
keeps its size, newest first."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from pymongo.asynchronous.database import AsyncDatabase

from common.outbound import Outcome
from common.webhook_deliveries import Delivery, DeliveryLog, DeliveryState, delivery_id
from common.webhook_endpoints import EndpointRegistry, TooManyEndpoints


async def test_concurrent_registrations_never_pass_the_limit(mongo_database: AsyncDatabase) -> None:
    registry = EndpointRegistry(mongo_database, max_per_owner=5)
    owner = f"user-{uuid.uuid4()}"

    async def register(n: int) -> bool:
        try:
            await registry.create(
                owner_id=owner, owner_email="a@example.com", url=f"https://x/{n}", event_types=["job.ready"]
            )
        except TooManyEndpoints:
            return False
        return True

    results = await asyncio.gather(*(register(n) for n in range(12)))
    assert sum(results) == 5
    mine = await registry.of_owner(owner)
    assert len(mine) == 5
    await registry.delete(mine[0])
    assert await register(99)
    assert not await register(100)


def _delivery(endpoint: str, n: int) -> Delivery:
    event = uuid.uuid5(uuid.NAMESPACE_URL, f"{endpoint}/{n}")
    return Delivery(
        delivery_id=delivery_id(event, endpoint),
        target=endpoint,
        url=None,
        job_id=uuid.uuid4(),
        event_id=event,
        event_type="job.ready",
        body=f'{{"n": {n}}}',
        created_at=datetime.now(UTC),
    )


async def test_a_delivery_is_stored_once_and_the_log_keeps_its_size_newest_first(mongo_database: AsyncDatabase) -> None:
    log = DeliveryLog(mongo_database, size=10)
    endpoint = f"ep_{uuid.uuid4().hex}"
    first, new = await log.create(_delivery(endpoint, 0))
    assert new
    again, new_again = await log.create(_delivery(endpoint, 0))
    assert not new_again
    assert again.delivery_id == first.delivery_id
    await log.record(first, Outcome(200, 12.5), at=datetime.now(UTC))
    for n in range(1, 25):
        stored, _ = await log.create(_delivery(endpoint, n))
        await log.record(stored, Outcome(200, 1.0), at=datetime.now(UTC))

    recent = await log.recent(endpoint, limit=100)
    assert [number for number, _ in recent] == list(range(24, 14, -1))
    assert recent[0][1].body == '{"n": 24}'
    assert all(d.state is DeliveryState.DELIVERED for _, d in recent)
    assert await log.get(first.delivery_id) is None  # left the log: removed, as it was finished
    page = await log.recent(endpoint, limit=3, before=20)
    assert [number for number, _ in page] == [19, 18, 17]
