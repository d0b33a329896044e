"""A 1 GB video through the gateway, up and down, with the gateway's memory watched.

    uv run python bench/gateway_upload.py [--limit-mb 150]      (or: just bench-gateway)

Starts the five services as the end-to-end tests do (their own RabbitMQ vhost and MongoDB
database, an in-process SMTP server), then, with a ~1 GB MP4 made once by ffmpeg and cached
in ~/.cache/vidmp3/bench (an hour of 320x240 H.264 at a constant 2.2 Mbit/s plus an hour of
AAC, the index written last, so the media check has to seek to the end):

1. uploads it as multipart/form-data, streamed from disk, asking for a 320 kbit/s MP3;
2. uploads it again resumably (tus) in 256 MiB PATCHes, dropping the connection once in
   the middle and going on from the offset HEAD reports; then deletes that job;
3. waits for the first job's MP3 (an hour at 320 kbit/s, ~144 MB), downloads it whole,
   then in ranges, and checks every range against the whole.

For each step it reports the wall time, the throughput and the gateway process's peak RSS
(``VmHWM`` in /proc/<pid>/status, reset before each step through /proc/<pid>/clear_refs), prints
a table and writes bench/results/gateway-upload-<time>.json. Exits 1 if any peak passes
``--limit-mb``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from pymongo import MongoClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.services import provide_endpoints  # noqa: E402
from tests.system import System, running_system  # noqa: E402

CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "vidmp3" / "bench"
SECONDS = 3600
_VIDEO = "testsrc2=size=320x240:rate=25"
_AUDIO = (
    "sine=frequency=440:sample_rate=44100[tone];anoisesrc=color=pink:amplitude=0.2:sample_rate=44100[noise];"
    "[tone][noise]amerge=inputs=2"
)
PIECE = 1024 * 1024
TUS = {"Tus-Resumable": "1.0.0"}


def big_video() -> Path:
    """The ~1 GB input, made with ffmpeg's lavfi sources the first time (about a minute)."""
    path = CACHE / "gateway-1g.mp4"
    if path.exists():
        return path
    ffmpeg = shutil.which("ffmpeg") or "/usr/bin/ffmpeg"
    CACHE.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial.mp4")
    print(f"making {path} (once) ...", flush=True)
    subprocess.run(  # noqa: S603
        [
            *(ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y"),
            *("-f", "lavfi", "-i", _VIDEO, "-f", "lavfi", "-i", _AUDIO, "-t", str(SECONDS)),
            *("-c:v", "libx264", "-preset", "ultrafast", "-b:v", "2200k", "-minrate", "2200k"),
            *("-maxrate", "2200k", "-bufsize", "2200k", "-x264-params", "nal-hrd=cbr"),
            *("-c:a", "aac", "-b:a", "128k", "-ac", "2", str(partial)),
        ],
        check=True,
    )
    partial.replace(path)
    return path


class Memory:
    """The gateway process's resident memory, from /proc."""

    def __init__(self, pid: int) -> None:
        self._status = Path(f"/proc/{pid}/status")
        self._clear_refs = Path(f"/proc/{pid}/clear_refs")

    def _field(self, name: str) -> float:
        for line in self._status.read_text().splitlines():
            if line.startswith(f"{name}:"):
                return int(line.split()[1]) / 1024  # kB -> MB
        raise RuntimeError(f"no {name} in {self._status}")

    def current_mb(self) -> float:
        return self._field("VmRSS")

    def peak_mb(self) -> float:
        return self._field("VmHWM")

    def reset_peak(self) -> bool:
        """Start a new peak from the current size (writing 5 to clear_refs); False if not allowed."""
        try:
            self._clear_refs.write_text("5")
        except OSError:
            return False
        return True


def file_pieces(path: Path, start: int, end: int, on_piece: Callable[[int], None] | None = None) -> Iterator[bytes]:
    with path.open("rb") as source:
        source.seek(start)
        position = start
        while position < end:
            piece = source.read(min(PIECE, end - position))
            if not piece:
                return
            position += len(piece)
            yield piece
            if on_piece is not None:
                on_piece(position)


class Dropped(Exception):
    """Raised by the body generator to drop the connection mid-PATCH."""


def multipart_upload(client: httpx.Client, video: Path) -> str:
    with video.open("rb") as source:
        response = client.post(
            "/v1/jobs", files={"file": ("an hour.mp4", source, "video/mp4")}, data={"bitrate_kbps": "320"}
        )
    response.raise_for_status()
    return str(response.json()["job_id"])


def tus_upload(client: httpx.Client, video: Path, patch_bytes: int) -> dict[str, Any]:
    size = video.stat().st_size
    created = client.post("/v1/uploads", headers={**TUS, "Upload-Length": str(size)})
    created.raise_for_status()
    location = created.headers["location"]
    offset, drops, patches = 0, 0, 0
    drop_at = size // 2
    while offset < size:
        end = min(size, offset + patch_bytes)

        def check_drop(position: int, dropping: bool = offset < drop_at < end) -> None:
            if dropping and position >= drop_at:
                raise Dropped

        headers = {
            **TUS,
            "Upload-Offset": str(offset),
            "Content-Type": "application/offset+octet-stream",
            "Content-Length": str(end - offset),
        }
        try:
            response = client.patch(location, headers=headers, content=file_pieces(video, offset, end, check_drop))
            patches += 1
        except Dropped:
            drops += 1
            time.sleep(1.0)  # the gateway notices the dropped connection and records the offset
            offset = resume_offset(client, location)
            continue
        if response.status_code == 423:  # the dropped request is still finishing
            time.sleep(0.5)
            continue
        response.raise_for_status()
        offset = int(response.headers["upload-offset"])
    return {"job_url": response.headers["job-location"], "patches": patches, "drops": drops}


def resume_offset(client: httpx.Client, location: str) -> int:
    """Where to go on after a drop: the offset HEAD reports."""
    head = client.head(location, headers=TUS)
    head.raise_for_status()
    return int(head.headers["upload-offset"])


def wait_converted(client: httpx.Client, job_id: str, timeout: float = 900) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status: dict[str, Any] = client.get(f"/v1/jobs/{job_id}").json()
        if status["mp3"] is not None or status["state"] in {"failed", "cancelled"}:
            return status
        time.sleep(2)
    raise TimeoutError(f"job {job_id} not converted within {timeout} s")


def download(client: httpx.Client, url: str, target: Path) -> str:
    digest = hashlib.sha256()
    with client.stream("GET", url) as response, target.open("wb") as sink:
        response.raise_for_status()
        for piece in response.iter_bytes(PIECE):
            digest.update(piece)
            sink.write(piece)
    return digest.hexdigest()


def ranged_downloads(client: httpx.Client, url: str, whole: Path, count: int = 40) -> int:
    size, fetched = whole.stat().st_size, 0
    rng = random.Random(7)  # noqa: S311 (not a secret)
    with whole.open("rb") as reference:
        for _ in range(count):
            start = rng.randrange(size)
            end = min(size - 1, start + rng.randrange(1, 8 * PIECE))
            response = client.get(url, headers={"Range": f"bytes={start}-{end}"})
            if response.status_code != 206:
                raise RuntimeError(f"range {start}-{end}: {response.status_code}")
            reference.seek(start)
            if response.content != reference.read(end - start + 1):
                raise RuntimeError(f"range {start}-{end} differs from the whole download")
            fetched += len(response.content)
    return fetched


def measured(
    results: list[dict[str, Any]], memory: Memory, name: str, size: int, run: Callable[[], Any]
) -> tuple[Any, dict[str, Any]]:
    reset = memory.reset_peak()
    before = memory.current_mb()
    started = time.monotonic()
    outcome = run()
    seconds = time.monotonic() - started
    row = {
        "step": name,
        "bytes": size,
        "seconds": round(seconds, 2),
        "mb_per_s": round(size / 1e6 / seconds, 1) if seconds else None,
        "rss_before_mb": round(before, 1),
        "peak_rss_mb": round(memory.peak_mb(), 1),
        "peak_is_per_step": reset,
    }
    results.append(row)
    print(f"  {name:28} {size / 1e6:9.1f} MB {seconds:8.1f} s  peak RSS {row['peak_rss_mb']:6.1f} MB", flush=True)
    return outcome, row


def _count_bytes(row: dict[str, Any], size: int) -> None:
    """A step's size, known once it is done."""
    row["bytes"] = size
    row["mb_per_s"] = round(size / 1e6 / row["seconds"], 1) if row["seconds"] else None


def run(system: System, video: Path, patch_bytes: int) -> dict[str, Any]:
    pid = system.stack.processes["gateway"].pid
    memory = Memory(pid)
    credentials = system.create_user()
    size = video.stat().st_size
    results: list[dict[str, Any]] = []
    with (
        httpx.Client(base_url=system.gateway, timeout=httpx.Timeout(900.0)) as client,
        tempfile.TemporaryDirectory() as work,
    ):

        def step(name: str, size: int, action: Callable[[], Any]) -> tuple[Any, dict[str, Any]]:
            # a fresh token for each step: one lives 15 minutes, a slow step could outlive it
            client.headers["Authorization"] = f"Bearer {system.login(*credentials)}"
            return measured(results, memory, name, size, action)

        _, idle = step("idle (after start)", 0, lambda: client.get("/v1/jobs").raise_for_status())
        job_id, _ = step("upload, multipart", size, lambda: multipart_upload(client, video))
        tus, _ = step("upload, tus (one drop)", size, lambda: tus_upload(client, video, patch_bytes))
        second_job = tus["job_url"].rsplit("/", 1)[1]
        step("delete the tus job", size, lambda: client.delete(tus["job_url"]).raise_for_status())
        print("  waiting for the conversion ...", flush=True)
        client.headers["Authorization"] = f"Bearer {system.login(*credentials)}"
        status = wait_converted(client, job_id)
        if status["mp3"] is None:
            raise RuntimeError(f"the job did not convert: {status}")
        url = status["mp3"]["download_url"]
        mp3 = Path(work) / "out.mp3"
        digest, _ = step("download the MP3", 0, lambda: download(client, url, mp3))
        mp3_size = mp3.stat().st_size
        _count_bytes(results[-1], mp3_size)
        fetched, _ = step("40 ranged downloads", 0, lambda: ranged_downloads(client, url, mp3))
        _count_bytes(results[-1], fetched)
    return {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "video_bytes": size,
        "video_seconds": SECONDS,
        "mp3_bytes": mp3_size,
        "mp3_sha256": digest,
        "mp3_duration_seconds": status["mp3"]["duration_seconds"],
        "tus_patches": tus["patches"],
        "tus_drops": tus["drops"],
        "tus_job_deleted": second_job,
        "idle_rss_mb": idle["rss_before_mb"],
        "steps": results,
        "peak_rss_mb": max(row["peak_rss_mb"] for row in results),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit-mb", type=float, default=150.0, help="fail when the gateway's peak RSS passes this")
    parser.add_argument("--patch-mb", type=int, default=256, help="size of each tus PATCH")
    args = parser.parse_args()

    video = big_video()
    print(f"input: {video} ({video.stat().st_size / 1e9:.2f} GB)", flush=True)
    database = f"vidmp3_bench_{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as work, provide_endpoints() as endpoints:
        try:
            with running_system(endpoints, database, Path(work) / "stack", show_logs=False) as system:
                result = run(system, video, args.patch_mb * PIECE)
        finally:
            client: MongoClient[dict[str, Any]] = MongoClient(endpoints.mongo_url)
            with client:  # it holds two copies of the video: not worth keeping
                client.drop_database(database)

    result["limit_mb"] = args.limit_mb
    result["within_limit"] = result["peak_rss_mb"] <= args.limit_mb
    out = ROOT / "bench" / "results" / f"gateway-upload-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))

    print(f"\n{'step':28} {'MB':>9} {'seconds':>8} {'MB/s':>7} {'peak RSS MB':>12}")
    for row in result["steps"]:
        rate = f"{row['mb_per_s']:7.1f}" if row["mb_per_s"] else f"{'':>7}"
        print(f"{row['step']:28} {row['bytes'] / 1e6:9.1f} {row['seconds']:8.1f} {rate} {row['peak_rss_mb']:12.1f}")
    verdict = "within" if result["within_limit"] else "OVER"
    print(f"gateway peak RSS {result['peak_rss_mb']:.1f} MB: {verdict} the {args.limit_mb:.0f} MB limit")
    print(f"written to {out.relative_to(ROOT)}")
    return 0 if result["within_limit"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
