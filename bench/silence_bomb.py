"""The attack of issue 12, finding 2, replayed: a tiny FLAC of an hour of silence, and what it
costs the converter under the media limits.

    uv run python bench/silence_bomb.py [--seconds 3600]

Makes the issue's file with ffmpeg (``anullsrc`` 48 kHz stereo, FLAC, 65535-sample frames:
about 50 kB for an hour), starts the five services as the end-to-end tests do (default
limits: 3 h of audio, 30 min with ``normalize``, 512 MiB of MP3) and uploads it:

1. at 320 kbit/s: within the limits, it converts; the cost is bounded by them;
2. at 320 kbit/s with ``normalize``: over the 30-minute limit, refused at upload (422);
3. the same file with its STREAMINFO forged to state one minute, with ``normalize``: it
   passes the upload check and is stopped by the converter at the limit (``too_long``).

For each: the answer, the job's end state, the MP3's size and the converter process's CPU
seconds meanwhile (from /proc), the wall time. Prints a table, writes
bench/results/silence-bomb-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from pymongo import MongoClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.services import provide_endpoints  # noqa: E402
from tests.system import System, running_system  # noqa: E402

TERMINAL = {"notified", "failed", "cancelled"}


def silence(path: Path, seconds: int) -> bytes:
    subprocess.run(  # noqa: S603 (ffmpeg, with our arguments)
        [
            *("ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"),
            *("-f", "lavfi", "-i", "anullsrc=r=48000:cl=stereo", "-t", str(seconds)),
            *("-c:a", "flac", "-frame_size", "65535", str(path)),
        ],
        check=True,
    )
    return path.read_bytes()


def stating(data: bytes, seconds: float, rate: int = 48_000) -> bytes:
    """``data`` (FLAC) with STREAMINFO's total samples set to ``seconds``, as a forger would."""
    forged = bytearray(data)
    (word,) = struct.unpack(">Q", forged[18:26])
    forged[18:26] = struct.pack(">Q", (word & ~((1 << 36) - 1)) | round(seconds * rate))
    return bytes(forged)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def run_case(system: System, token: str, name: str, data: bytes, **fields: str) -> dict[str, Any]:
    converter = system.stack.own_pid("converter")
    assert converter is not None
    cpu_before, started = cpu_seconds(converter), time.perf_counter()
    response = httpx.post(
        f"{system.gateway}/v1/jobs",
        headers={"Authorization": f"Bearer {token}"},
        files={"file": ("silence.flac", data, "audio/flac")},
        data=fields,
        timeout=300,
    )
    row: dict[str, Any] = {"case": name, "upload_bytes": len(data), "status": response.status_code}
    if response.status_code != 202:
        row |= {"state": "refused", "detail": response.json()["detail"], "mp3_bytes": 0}
    else:
        job_id = response.json()["job_id"]
        while True:
            job = httpx.get(f"{system.gateway}/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {token}"}).json()
            if job["state"] in TERMINAL or (job["state"] == "converted" and job.get("mp3")):
                break
            time.sleep(1.0)
        row |= {"state": job["state"], "detail": (job.get("error") or {}).get("message", "")}
        row["mp3_bytes"] = 0
        if job.get("mp3"):
            with httpx.stream(
                "GET", f"{system.gateway}{job['mp3']['download_url']}", headers={"Authorization": f"Bearer {token}"}
            ) as download:
                row["mp3_bytes"] = int(download.headers.get("content-length", 0))
    row["converter_cpu_s"] = round(cpu_seconds(converter) - cpu_before, 2)
    row["wall_s"] = round(time.perf_counter() - started, 2)
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=3600, help="length of the silence")
    args = parser.parse_args()

    database = f"vidmp3_bench_{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as work, provide_endpoints() as endpoints:
        bomb = silence(Path(work) / "b.flac", args.seconds)
        try:
            with running_system(endpoints, database, Path(work) / "stack", show_logs=False) as system:
                token = system.new_user_token()
                rows = [
                    run_case(system, token, "silence, 320 kbit/s", bomb, bitrate_kbps="320"),
                    run_case(
                        system, token, "silence, 320 kbit/s, normalize", bomb, bitrate_kbps="320", normalize="true"
                    ),
                    run_case(
                        system,
                        token,
                        "silence stating 1 min, 320 kbit/s, normalize",
                        stating(bomb, 60),
                        bitrate_kbps="320",
                        normalize="true",
                    ),
                ]
        finally:
            client: MongoClient[dict[str, Any]] = MongoClient(endpoints.mongo_url)
            with client:
                client.drop_database(database)

    result = {
        "when": datetime.now(UTC).isoformat(),
        "seconds": args.seconds,
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "rows": rows,
    }
    out = ROOT / "bench" / "results" / f"silence-bomb-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))

    print(f"\n{'case':46} {'upload kB':>9} {'status':>6} {'state':>9} {'MP3 MB':>7} {'CPU s':>6} {'wall s':>7}")
    for row in rows:
        print(
            f"{row['case']:46} {row['upload_bytes'] / 1e3:9.1f} {row['status']:6} {row['state']:>9} "
            f"{row['mp3_bytes'] / 1e6:7.1f} {row['converter_cpu_s']:6.1f} {row['wall_s']:7.1f}"
        )
        if row["detail"]:
            print(f"    {row['detail']}")
    print(f"load average {result['load_average'][0]:.1f} on {result['cpus']} CPUs; written to {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
