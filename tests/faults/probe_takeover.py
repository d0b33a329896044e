"""Why the converter's takeover is an insert: on FerretDB a conditional update lets several
concurrent takers "win" the same stale claim, an insert under a unique key lets exactly one.

    uv run python -m tests.faults.probe_takeover [--claims 20] [--takers 12]

Prints, per stale claim, how many of the concurrent takers won each way (its own database,
dropped afterwards). On MongoDB both ways give one winner; on FerretDB 1.24 the first does not.
"""

from __future__ import annotations

import argparse
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from threading import Barrier

from pymongo import MongoClient
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from tests.services import NATIVE


def conditional_update(database: Database, job: str, takers: int, pool: ThreadPoolExecutor) -> int:
    """The old way: read the stale claim, update it if it is still as read."""
    start = Barrier(takers)

    def take(n: int) -> int:
        start.wait()
        seen = database["claims"].find_one({"_id": job})
        assert seen is not None
        changed = database["claims"].update_one(
            {"_id": job, "renewed_at": seen["renewed_at"]}, {"$set": {"renewed_at": datetime.now(UTC), "by": n}}
        )
        return changed.modified_count

    return sum(pool.map(take, range(takers)))


def insert_next_attempt(database: Database, job: str, takers: int, pool: ThreadPoolExecutor) -> int:
    """The converter's way: insert attempt 2; the unique ``_id`` admits one."""
    start = Barrier(takers)

    def take(n: int) -> int:
        start.wait()
        try:
            database["attempts"].insert_one({"_id": f"{job}:2", "by": n})
        except DuplicateKeyError:
            return 0
        return 1

    return sum(pool.map(take, range(takers)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--claims", type=int, default=20)
    parser.add_argument("--takers", type=int, default=12)
    arguments = parser.parse_args()
    with MongoClient(NATIVE.mongo_url, tz_aware=True) as client:
        database = client[f"vidmp3_probe_{uuid.uuid4().hex[:8]}"]
        updated, inserted = [], []
        try:
            with ThreadPoolExecutor(arguments.takers) as pool:
                for _ in range(arguments.claims):
                    job = str(uuid.uuid4())
                    stale = datetime.now(UTC) - timedelta(minutes=5)
                    database["claims"].insert_one({"_id": job, "renewed_at": stale})
                    updated.append(conditional_update(database, job, arguments.takers, pool))
                    inserted.append(insert_next_attempt(database, job, arguments.takers, pool))
        finally:
            client.drop_database(database.name)
    print(f"{arguments.claims} stale claims, {arguments.takers} concurrent takers each")
    for name, winners in (("conditional update_one", updated), ("insert <job>:2", inserted)):
        print(
            f"{name:24} winners per claim {sorted(winners)}; claims won more than once: {sum(w > 1 for w in winners)}"
        )


if __name__ == "__main__":
    main()
