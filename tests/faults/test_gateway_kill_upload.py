"""A gateway killed mid-way through a multipart upload leaves no chunk behind once the sweep of
unsettled uploads has run (issue 12, finding 12: 18 and 9 orphan chunks were left before)."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from contextlib import suppress
from typing import Any

import httpx
from bson import ObjectId
from pymongo import MongoClient

from tests.e2e.test_flow import bearer
from tests.system import System, wait_for

BOUNDARY = "killed-mid-upload"
PIECE = 512 * 1024


def _unsettled(system: System) -> list[dict[str, object]]:
    config = system.stack.config
    with MongoClient(config.mongo_url) as client:
        return list(client[config.mongo_database]["unsettled_uploads"].find({}))


def _chunks(system: System, file_id: str) -> int:
    config = system.stack.config
    client: MongoClient[dict[str, Any]]
    with MongoClient(config.mongo_url) as client:
        database = client[config.mongo_database]
        chunks = database["videos.chunks"].count_documents({"files_id": ObjectId(file_id)})
        return chunks + database["videos.files"].count_documents({"_id": ObjectId(file_id)})


def test_a_gateway_killed_mid_upload_leaves_no_chunk_once_swept(system: System) -> None:
    token = system.new_user_token()
    before = {str(record["_id"]) for record in _unsettled(system)}
    go_on = threading.Event()

    def body() -> Iterator[bytes]:
        yield (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="cut.mp4"\r\n'
            "Content-Type: video/mp4\r\n\r\n"
        ).encode()
        for _ in range(12):  # 6 MiB: three batches of chunks stored
            yield b"\x01" * PIECE
        go_on.wait(120)  # the rest never comes: the gateway is killed meanwhile
        yield f"\r\n--{BOUNDARY}--\r\n".encode()

    def send() -> None:
        with suppress(httpx.HTTPError):  # the gateway dies under it
            httpx.post(
                f"{system.gateway}/v1/jobs",
                headers={**bearer(token), "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
                content=body(),
                timeout=120,
            )

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    try:
        records = wait_for(
            lambda: [r for r in _unsettled(system) if str(r["_id"]) not in before and int(r["stored"]) > 0],  # type: ignore[call-overload]
            timeout=60,
        )
        file_id = str(records[0]["_id"])
        system.kill("gateway")
        assert _chunks(system, file_id) > 0  # what the dead gateway left

        # a gateway that takes an upload silent for 3 s as abandoned sweeps it at start
        normal = system.stack.config
        system.stack.config = dataclasses.replace(
            normal, extra_env={**normal.extra_env, "VIDMP3_STALLED_UPLOAD_MINUTES": "0.05"}
        )
        try:
            system.start("gateway")
            wait_for(lambda: _chunks(system, file_id) == 0, timeout=60)
            wait_for(lambda: all(str(r["_id"]) != file_id for r in _unsettled(system)), timeout=30)
        finally:
            system.stack.stop("gateway")
            system.stack.config = normal
            system.start("gateway")
    finally:
        go_on.set()
        sender.join(10)
