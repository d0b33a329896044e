"""The store answers an ``_id`` lookup from its ``_id`` index, not by reading the collection.

The services' hot paths are primary-key accesses, which stay cheap only while the server
really uses that index. FerretDB 1.24's SQLite backend as
released does not (its filter and its index are written differently, so SQLite scans);
``scripts/services`` builds it with the filter written as the index is.
"""

from __future__ import annotations

import json

from pymongo.asynchronous.database import AsyncDatabase


async def _plan(database: AsyncDatabase, command: dict) -> str:
    explained = await database.command("explain", command)
    return json.dumps(explained.get("queryPlanner", explained), default=str)


async def test_an_id_lookup_uses_the_id_index(mongo_database: AsyncDatabase) -> None:
    collection = mongo_database["id_index_probe"]
    await collection.insert_many([{"_id": f"probe:{n:08d}", "n": n} for n in range(50)])
    build = await mongo_database.client.admin.command("buildInfo")

    for value in ("probe:00000007", "absent"):
        plan = await _plan(mongo_database, {"find": "id_index_probe", "filter": {"_id": value}})
        if "ferretdbVersion" in build:
            advice = (
                f"FerretDB {build['ferretdbVersion']} scans the collection for an _id lookup ({plan}): "
                "start the build `scripts/services up` makes (it restarts an older one)"
            )
            assert "USING INDEX" in plan, advice
            assert "detail=SCAN" not in plan, advice
        else:  # MongoDB: IDHACK (≤ 7), EXPRESS_IXSCAN (≥ 8) or an IXSCAN on _id
            assert any(stage in plan for stage in ("IDHACK", "EXPRESS", "IXSCAN")), plan
    assert await collection.find_one({"_id": "probe:00000007"}) == {"_id": "probe:00000007", "n": 7}
