"""Scale-out: 1, 2, 3 and 4 converter processes against one broker, on the same batch of jobs.

    uv run python bench/scale_out.py [--workers 1,2,3,4] [--jobs 24] [--seconds 25] [--conversions N]

Only converters run: a gateway, projection or notifier would take the very cores being
measured. The videos are generated and stored in GridFS before anything is timed (so upload
time is not measured); each round then starts its converters, waits until they are ready,
publishes one ``VideoUploaded`` per job at once (new job ids, the stored videos reused in
turn) and collects the converters' outcome events from a queue of its own on the exchange.

Per worker count: jobs/minute from the first publish to the last outcome; latency from
publish to ``Mp3Converted`` (queue wait included: the whole batch arrives at once) and the
conversion alone (``ConversionStarted`` to ``Mp3Converted``), p50 and p99; the CPU the
converters used, in cores, beside what FerretDB, RabbitMQ and the whole machine used meanwhile
(shared services: other work shows up there too). Prints a table and writes
``bench/results/scale-out-<time>.json`` with the machine's CPU count and load.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aio_pika
import httpx
from pymongo import MongoClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.burst import percentile  # noqa: E402
from common.blobs import VIDEOS, Bucket  # noqa: E402
from common.mongo import Document  # noqa: E402
from common.stack import StackConfig  # noqa: E402
from contracts import ConversionOptions, EventAdapter, RoutingKey, VideoUploaded  # noqa: E402
from contracts.topology import EXCHANGE  # noqa: E402
from converter.samples import write_sample_video  # noqa: E402
from tests.services import Endpoints, provide_endpoints  # noqa: E402

OUTCOMES = (RoutingKey.MP3_CONVERTED, RoutingKey.CONVERSION_FAILED)
_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _machine_busy_seconds() -> float:
    """CPU seconds the whole machine has spent on anything but idling and waiting, so far."""
    fields = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle, iowait = fields[3], fields[4]
    return (sum(fields[:8]) - idle - iowait) / _TICKS


BACKING = {"ferretdb": b"ferretdb", "rabbitmq": b"beam.smp", "mariadb": b"mariadbd"}
"""Backing services whose CPU the rounds also report (found by command line; they are shared)."""


def _backing_cpu_seconds() -> dict[str, float]:
    """CPU time so far of each backing service's processes, where this user can read them."""
    found = dict.fromkeys(BACKING, 0.0)
    for process in Path("/proc").iterdir():
        if not process.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            command = (process / "cmdline").read_bytes()
            for name, marker in BACKING.items():
                if marker in command:
                    found[name] += _cpu_seconds(int(process.name))
    return found


@dataclass
class Workers:
    """``count`` converter processes, each with a port of its own for /ready."""

    config: StackConfig
    count: int
    conversions: int | None
    nice: int = 0
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self) -> None:
        logs = self.config.state_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        for index in range(self.count):
            # one port each; no /metrics listener (they would share one port): the benchmark reads /proc
            env = self.config.environment("converter") | {
                "VIDMP3_PORT": str(self.config.base_port + index),
                "VIDMP3_METRICS_PORT": "0",
            }
            if self.conversions is not None:
                env["VIDMP3_CONVERSIONS"] = str(self.conversions)
            with (logs / f"converter-{self.count}-{index}.log").open("ab") as log:
                self.processes.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "converter"],
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        # before exec, so every thread of the converter inherits it
                        preexec_fn=lambda: os.setpriority(os.PRIO_PROCESS, 0, self.nice),  # noqa: PLW1509
                    )
                )
        deadline = time.monotonic() + 120
        for index, process in enumerate(self.processes):
            while not self._ready(self.config.base_port + index):
                if process.poll() is not None or time.monotonic() > deadline:
                    tail = (logs / f"converter-{self.count}-{index}.log").read_text(errors="replace")[-3000:]
                    raise RuntimeError(f"converter {index} did not get ready; its log ends:\n{tail}")
                time.sleep(0.2)

    @staticmethod
    def _ready(port: int) -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2).status_code < 300  # 204
        except httpx.HTTPError:
            return False

    def cpu_seconds(self) -> float:
        return sum(_cpu_seconds(process.pid) for process in self.processes)

    def stop(self) -> None:
        for process in self.processes:
            process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def _run_batch(rabbit_url: str, uploads: list[VideoUploaded], limit: float) -> dict[str, Any]:
    """Publish every upload at once; wait for each job's outcome; the times, by job."""
    published: dict[str, float] = {}
    started: dict[str, datetime] = {}
    outcomes: dict[str, tuple[float, Any]] = {}
    done = asyncio.Event()
    connection = await aio_pika.connect_robust(rabbit_url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(EXCHANGE.name, aio_pika.ExchangeType.TOPIC, durable=True)
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        for key in (RoutingKey.CONVERSION_STARTED, *OUTCOMES):
            await queue.bind(exchange, routing_key=key)

        async def receive(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            async with message.process():
                event = EventAdapter.validate_json(message.body)
                job = str(event.job_id)
                if job not in published:
                    return  # another round's late event
                if event.type == RoutingKey.CONVERSION_STARTED:
                    started.setdefault(job, event.occurred_at)
                elif job not in outcomes:
                    outcomes[job] = (time.time(), event)
                    if len(outcomes) == len(uploads):
                        done.set()

        await queue.consume(receive)
        for upload in uploads:
            published[str(upload.job_id)] = time.time()
            await exchange.publish(
                aio_pika.Message(
                    upload.model_dump_json().encode(),
                    content_type="application/json",
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    message_id=str(upload.event_id),
                    correlation_id=str(upload.job_id),
                    type=upload.type,
                ),
                routing_key=RoutingKey.VIDEO_UPLOADED,
            )
        with contextlib.suppress(TimeoutError):  # reported as unfinished jobs
            await asyncio.wait_for(done.wait(), limit)
    return {"published": published, "started": started, "outcomes": outcomes}


def _summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    return {"p50": round(percentile(values, 0.5), 2), "p99": round(percentile(values, 0.99), 2)}


def run_round(
    endpoints: Endpoints, config: StackConfig, video_ids: list[str], workers: int, args: argparse.Namespace
) -> dict[str, Any]:
    uploads = [
        VideoUploaded(
            job_id=uuid.uuid4(),
            owner_id="bench",
            owner_email="bench@example.com",
            video_file_id=video_ids[n % len(video_ids)],
            filename=f"scale-{n}.mp4",
            size_bytes=1,
            options=ConversionOptions(bitrate_kbps=192),
        )
        for n in range(args.jobs)
    ]
    pool = Workers(config, workers, args.conversions, args.nice)
    pool.start()
    try:
        load_before = os.getloadavg()
        cpu_before, busy_before, backing_before = pool.cpu_seconds(), _machine_busy_seconds(), _backing_cpu_seconds()
        window = time.monotonic()
        times = asyncio.run(_run_batch(endpoints.rabbit_url, uploads, limit=args.timeout))
        window = time.monotonic() - window  # what the CPU figures are measured over
        cpu, busy = pool.cpu_seconds() - cpu_before, _machine_busy_seconds() - busy_before
        backing = {name: seconds - backing_before[name] for name, seconds in _backing_cpu_seconds().items()}
        load_after = os.getloadavg()
    finally:
        pool.stop()
    published, started, outcomes = times["published"], times["started"], times["outcomes"]
    converted = {job: (at, event) for job, (at, event) in outcomes.items() if event.type == RoutingKey.MP3_CONVERTED}
    first = min(published.values())
    last = max((at for at, _ in outcomes.values()), default=first)
    wall = last - first
    return {
        "workers": workers,
        "jobs": args.jobs,
        "converted": len(converted),
        "failed": len(outcomes) - len(converted),
        "unfinished": args.jobs - len(outcomes),
        "wall_seconds": round(wall, 2),
        "jobs_per_minute": round(60 * len(outcomes) / wall, 1) if wall > 0 else 0.0,
        "latency_seconds": _summary([at - published[job] for job, (at, _) in converted.items()]),
        "conversion_seconds": _summary(
            [
                (event.occurred_at - started[job]).total_seconds()
                for job, (_, event) in converted.items()
                if job in started
            ]
        ),
        "converter_cpu_seconds": round(cpu, 1),
        "cores_used": round(cpu / window, 2),
        "converter_cpu_seconds_per_job": round(cpu / max(len(outcomes), 1), 3),
        # everything on the machine (broker, FerretDB, this script, other people's work) meanwhile
        "machine_cores_busy": round(busy / window, 2),
        # shared with whatever else uses them meanwhile
        "backing_cores_busy": {name: round(seconds / window, 2) for name, seconds in backing.items()},
        "load_average_before": [round(value, 2) for value in load_before],
        "load_average_after": [round(value, 2) for value in load_after],
    }


def store_videos(mongo_url: str, database: str, seconds: float, count: int, work: Path) -> tuple[list[str], float]:
    """``count`` generated videos in the ``videos`` bucket; their ids and audio length."""
    path = work / "input.mp4"
    audio_seconds = write_sample_video(path, seconds=seconds, width=640, height=360)
    client: MongoClient[Document]
    data = path.read_bytes()
    with MongoClient(mongo_url) as client:
        videos = Bucket(client[database], VIDEOS)  # as the gateway stores uploads
        ids = []
        for n in range(count):
            writer = videos.writer(f"scale-{n}.mp4")
            writer.write(data)
            ids.append(str(writer.close({}).file_id))
    return ids, audio_seconds


def _print_table(result: dict[str, Any]) -> None:
    rounds = result["rounds"]
    singles = [row["jobs_per_minute"] for row in rounds if row["workers"] == min(r["workers"] for r in rounds)]
    base = statistics.median(singles) or 1.0
    print(
        f"\n{result['jobs']} jobs of a {result['video_seconds']:g} s video ({result['video_mb']} MB), "
        f"{result['cpu_count']} CPUs, {result['conversions_per_process']} conversion(s) per process, "
        f"converters at niceness {result['converter_niceness']}"
    )
    print(
        f"{'workers':>7} {'jobs/min':>9} {'speed-up':>8} {'latency p50':>11} {'p99':>6} "
        f"{'convert p50':>11} {'p99':>6} {'cores':>6} {'ferretdb':>8} {'rabbit':>6} {'machine':>7} {'failed':>6}"
    )
    for row in sorted(rounds, key=lambda row: row["workers"]):  # repeats side by side
        latency, conversion = row["latency_seconds"], row["conversion_seconds"]
        print(
            f"{row['workers']:>7} {row['jobs_per_minute']:>9.1f} {row['jobs_per_minute'] / base:>7.2f}x "
            f"{latency.get('p50', 0):>10.1f}s {latency.get('p99', 0):>5.1f}s "
            f"{conversion.get('p50', 0):>10.2f}s {conversion.get('p99', 0):>5.2f}s "
            f"{row['cores_used']:>6.2f} {row['backing_cores_busy']['ferretdb']:>8.2f} "
            f"{row['backing_cores_busy']['rabbitmq']:>6.2f} {row['machine_cores_busy']:>7.2f} "
            f"{row['failed'] + row['unfinished']:>6}"
        )


def _print_summary(result: dict[str, Any]) -> None:
    medians = result["median_jobs_per_minute"]
    base = next(iter(medians.values())) or 1.0
    print(f"\n{'workers':>7} {'jobs/min':>9} {'speed-up':>8}   (median of {result['repeat']} round(s) each)")
    for count, jobs_per_minute in medians.items():
        print(f"{count:>7} {jobs_per_minute:>9.1f} {jobs_per_minute / base:>7.2f}x")


def _contention_note(result: dict[str, Any]) -> str | None:
    """A warning when something besides the converters kept the cores busy during the rounds."""
    others = max(
        row["machine_cores_busy"] - row["cores_used"] - sum(row["backing_cores_busy"].values())
        for row in result["rounds"]
    )
    if others < 0.5:
        return None
    return (
        f"note: processes other than the converters and the backing services kept up to {others:.1f} of "
        f"{result['cpu_count']} cores busy during the rounds: the converters competed for the CPU, so "
        "these numbers show contention as much as scale-out; rerun on a quiet machine"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", default="1,2,3,4", help="comma-separated converter process counts")
    parser.add_argument("--jobs", type=int, default=24)
    parser.add_argument("--seconds", type=float, default=25.0, help="length of the generated video")
    parser.add_argument("--videos", type=int, default=4, help="distinct stored copies the jobs take in turn")
    parser.add_argument(
        "--conversions", type=int, default=None, help="conversions one process runs at once (default: the setting's)"
    )
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds a round may take")
    parser.add_argument("--repeat", type=int, default=1, help="times to go through the worker counts")
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="the converters' niceness: below 0 (as root) they win the CPU from other work on a shared "
        "machine, as if it were theirs; FerretDB and RabbitMQ keep theirs",
    )
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    database = f"vidmp3_bench_scale_{uuid.uuid4().hex[:8]}"

    with tempfile.TemporaryDirectory() as work, provide_endpoints() as endpoints:
        config = StackConfig(
            state_dir=Path(work) / "state",
            base_port=_free_port_block(max(counts)),
            rabbit_url=endpoints.rabbit_url,
            mongo_url=endpoints.mongo_url,
            mongo_database=database,
            mysql_url=endpoints.mysql_url,
        )
        try:
            print(f"storing {args.videos} generated {args.seconds:g} s videos in GridFS ({database}) ...", flush=True)
            video_ids, audio_seconds = store_videos(
                endpoints.mongo_url, database, args.seconds, args.videos, Path(work)
            )
            video_mb = round((Path(work) / "input.mp4").stat().st_size / 1e6, 2)
            rounds = []
            # repeats go round the whole sequence, so a change in the machine's load meanwhile
            # reaches every worker count alike
            for repeat in range(args.repeat):
                for count in counts:
                    print(f"round {repeat + 1}: {count} converter process(es), {args.jobs} jobs ...", flush=True)
                    rounds.append(run_round(endpoints, config, video_ids, count, args))
        finally:
            client: MongoClient[Document]
            with MongoClient(endpoints.mongo_url) as client:
                client.drop_database(database)  # this run's own database, named above

    from converter.settings import ConverterSettings

    result = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "jobs": args.jobs,
        "video_seconds": args.seconds,
        "audio_seconds": round(audio_seconds, 2),
        "video_mb": video_mb,
        "conversions_per_process": args.conversions or ConverterSettings.model_fields["conversions"].default,
        "repeat": args.repeat,
        "converter_niceness": args.nice,
        "rounds": rounds,
        "median_jobs_per_minute": {
            str(count): statistics.median(row["jobs_per_minute"] for row in rounds if row["workers"] == count)
            for count in counts
        },
    }
    out = ROOT / "bench" / "results" / f"scale-out-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    _print_table(result)
    if args.repeat > 1:
        _print_summary(result)
    if note := _contention_note(result):
        print(note)
    print(f"written to {out.relative_to(ROOT)}")
    return 0 if all(row["unfinished"] == 0 and row["failed"] == 0 for row in rounds) else 1


def _free_port_block(size: int) -> int:
    from tests.system import _free_port_block as free_block

    return free_block(size)


if __name__ == "__main__":
    raise SystemExit(main())
