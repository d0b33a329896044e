"""Converter benchmark: the converter against ffmpeg and the MoviePy design, on the same files.

    just bench-converter [--runs 3] [--no-large] [--no-gridfs] [--no-moviepy]

Every case runs as a child process, several times, the cases of a round one after another so
the references share the converter's noise (the machine has 2 cores and other work on it);
ratios against the references of the same run are what count. Medians are reported.
Wall and CPU time (children included) and peak RSS come from ``wait4``; the GridFS cases also
report the job's own time, as a long-running worker pays it, and the bytes they fetched.
Inputs are made once under ``--cache-dir``; results go to ``bench/results/``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import av
from bson import ObjectId
from gridfs import GridFSBucket
from pymongo import MongoClient

from bench.gridfs_store import database_name, delete_mp3, upload_once
from bench.inputs import Input, make_inputs
from bench.measure import Run, measure
from common.mongo import Document

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PYTHON = sys.executable
FFMPEG = shutil.which("ffmpeg") or "ffmpeg"
FFMPEG_QUIET = [FFMPEG, "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]

# the targets of the converter issue
LOCAL_RATIO, GRIDFS_RATIO, MOVIEPY_FACTOR, RSS_LIMIT_MB, COPY_FACTOR = 1.0, 1.15, 2.0, 150.0, 20.0
RSS_FLAT_MB = 15.0
DURATION_TOLERANCE_S = 0.1


@dataclass
class Case:
    name: str
    input: Input
    argv: list[str]
    runs: int
    output: Path | None = None
    gridfs: str | None = None
    """The input's name, for cases whose MP3 lands in GridFS."""
    results: list[Run] = field(default_factory=list)
    checked: dict[str, Any] = field(default_factory=dict)
    expected_seconds: float | None = None
    """The output's length if not the input's audio (a trim)."""


def main() -> None:
    args = _arguments()
    started = datetime.now(UTC)
    inputs = make_inputs(args.cache_dir, large=args.large)
    work = args.cache_dir / "out"
    work.mkdir(exist_ok=True)
    client: MongoClient[Document] | None = (
        MongoClient(args.mongo_url, tz_aware=True, serverSelectionTimeoutMS=5000) if args.gridfs else None
    )
    moviepy = _moviepy_python(args) if args.moviepy else None
    cases = _cases(inputs, work, runs=args.runs, client=client, mongo_url=args.mongo_url, moviepy=moviepy)
    if args.cases:
        cases = [case for case in cases if any(part in case.name for part in args.cases)]
    load_before = os.getloadavg()

    for round_number in range(max(case.runs for case in cases)):
        for case in cases:
            if round_number < case.runs:
                _run(case, client)
        print(f"round {round_number + 1} done", flush=True)

    summary = _summary(cases)
    targets = _targets(summary, inputs)
    print()
    print(_table(summary, inputs))
    print()
    print(_target_table(targets))
    RESULTS.mkdir(parents=True, exist_ok=True)
    result_file = RESULTS / f"converter-{started:%Y%m%d-%H%M%S}.json"
    result_file.write_text(
        json.dumps(
            {
                "started": started.isoformat(),
                "command": " ".join(sys.argv),
                "machine": _machine(load_before),
                "inputs": {name: {**asdict(item), "path": str(item.path)} for name, item in inputs.items()},
                "cases": summary,
                "targets": targets,
            },
            indent=2,
        )
    )
    print(f"\nresults: {result_file.relative_to(ROOT)}")


def _arguments() -> argparse.Namespace:
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "vidmp3" / "bench"
    parser = argparse.ArgumentParser(prog="python -m bench.converter", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each case (default 3)")
    parser.add_argument("--cache-dir", type=Path, default=cache, help=f"where inputs are kept (default {cache})")
    parser.add_argument("--mongo-url", default=os.environ.get("VIDMP3_MONGO_URL", "mongodb://127.0.0.1:27017/"))
    parser.add_argument("--no-large", dest="large", action="store_false", help="skip the ~1 GB input")
    parser.add_argument("--no-gridfs", dest="gridfs", action="store_false", help="skip the GridFS cases")
    parser.add_argument("--no-moviepy", dest="moviepy", action="store_false", help="skip the MoviePy reference")
    parser.add_argument("--moviepy-python", type=Path, help="a Python with MoviePy (default: a venv in the cache)")
    parser.add_argument("--cases", nargs="*", help="run only the cases whose names contain one of these")
    return parser.parse_args()


def _moviepy_python(args: argparse.Namespace) -> Path | None:
    """A Python with MoviePy installed, in a throwaway venv made with uv if needed; never the project's."""
    if args.moviepy_python:
        return Path(args.moviepy_python)
    venv = Path(args.cache_dir) / "moviepy-venv"
    python = venv / "bin" / "python"
    if python.exists():
        return python
    uv = shutil.which("uv")
    if uv is None:
        print("uv is not on PATH: skipping the MoviePy reference (or pass --moviepy-python)", flush=True)
        return None
    print(f"installing MoviePy into {venv} (once) ...", flush=True)
    subprocess.run([uv, "venv", "--quiet", str(venv)], check=True)  # noqa: S603
    subprocess.run([uv, "pip", "install", "--quiet", "--python", str(python), "moviepy"], check=True)  # noqa: S603
    return python


def _cases(
    inputs: dict[str, Input],
    work: Path,
    *,
    runs: int,
    client: MongoClient[Document] | None,
    mongo_url: str,
    moviepy: Path | None,
) -> list[Case]:
    def ffmpeg(name: str, item: Input, *codec: str) -> Case:
        out = work / f"{name}.mp3"
        return Case(name, item, [*FFMPEG_QUIET, "-i", str(item.path), "-vn", *codec, str(out)], runs, out)

    def converter(name: str, item: Input, *options: str, repeat: int = runs, seconds: float | None = None) -> Case:
        out = work / f"{name}.mp3"
        rate_control = [] if {"--vbr", "--bitrate"} & set(options) else ["--bitrate", "192"]
        argv = [PYTHON, "-m", "converter", "convert", str(item.path), str(out), *rate_control, *options]
        return Case(name, item, argv, repeat, out, expected_seconds=seconds)

    def gridfs(name: str, item: Input, job: str) -> Case:
        assert client is not None
        file_id = upload_once(client, item.name, item.path)
        argv = [PYTHON, "-m", "bench.job", job, mongo_url, database_name(item.name), file_id]
        return Case(name, item, argv, runs, gridfs=item.name if job == "gridfs" else None)

    def in_process(name: str, item: Input, mode: str) -> Case:
        out = work / f"{name}.mp3"
        return Case(name, item, [PYTHON, "-m", "bench.job", "file", str(item.path), str(out), mode], runs, out)

    lame = ("-c:a", "libmp3lame", "-b:a", "192k")
    cases = [Case("python startup + imports", inputs["main"], [PYTHON, "-c", "import converter.cli, contracts"], runs)]
    for key in ("main", "faststart"):
        item = inputs[key]
        cases += [ffmpeg(f"ffmpeg {key}", item, *lame), converter(f"converter {key}", item)]
        cases.append(in_process(f"job {key}", item, "transcode"))
        if client is not None:
            cases += [
                gridfs(f"converter gridfs {key}", item, "gridfs"),
                gridfs(f"gridfs read {key}", item, "gridfs-read"),
            ]
    copy = inputs["mp3-in-mp4"]
    cases += [
        ffmpeg("ffmpeg copy mp3-in-mp4", copy, "-c:a", "copy"),
        converter("converter copy mp3-in-mp4", copy),
        converter("converter transcode mp3-in-mp4", copy, "--no-stream-copy"),
        in_process("job copy mp3-in-mp4", copy, "copy"),
        in_process("job transcode mp3-in-mp4", copy, "transcode"),
    ]
    if moviepy is not None:
        main = inputs["main"]
        out = work / "moviepy main.mp3"
        argv = [str(moviepy), str(ROOT / "bench" / "moviepy_reference.py"), str(main.path), str(out)]
        cases.append(Case("moviepy main", main, argv, runs, out))
    cases.append(converter("converter pyav-encoder main", inputs["main"], "--encoder", "pyav", repeat=1))
    # what the job options cost (once each: not targets, the price of asking)
    main = inputs["main"]
    cases += [
        converter("option vbr V2 main", main, "--vbr", "2", repeat=1),
        converter("option 22.05k mono 64k main", main, "--rate", "22050", "--mono", "--bitrate", "64", repeat=1),
        converter("option normalize main", main, "--normalize", repeat=1),
        converter("option trim 5:00-6:00 main", main, "--start", "300", "--end", "360", repeat=1, seconds=60.0),
    ]
    if "large" in inputs:
        large = inputs["large"]
        cases += [ffmpeg("ffmpeg large", large, *lame), converter("converter large", large)]
        if client is not None:
            cases.append(gridfs("converter gridfs large", large, "gridfs"))
    return cases


def _run(case: Case, client: MongoClient[Document] | None) -> None:
    run = measure(case.argv, cwd=ROOT)
    case.results.append(run)
    mp3_id = run.report.get("mp3_file_id")
    if case.gridfs is not None and client is not None and mp3_id:
        if not case.checked:
            bucket = GridFSBucket(client[database_name(case.gridfs)], bucket_name="mp3s")
            mp3 = bucket.open_download_stream(ObjectId(mp3_id)).read()
            case.checked = _check(io.BytesIO(mp3), case.input)
        delete_mp3(client, case.gridfs, mp3_id)
    elif case.output is not None and not case.checked:
        case.checked = _check(case.output, case.input, case.expected_seconds)


def _check(mp3: Path | io.BytesIO, source: Input, expected_seconds: float | None = None) -> dict[str, Any]:
    """Is it an MP3 of the source's duration (or the trim's), and at what bitrate."""
    with av.open(mp3, mode="r") as container:
        stream = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(stream))
        seconds = samples / stream.sample_rate
        expected = source.audio_seconds if expected_seconds is None else expected_seconds
        return {
            "format": container.format.name,
            "decoded_seconds": round(seconds, 3),
            "error_s": round(abs(seconds - expected), 3),
            "bit_rate": stream.codec_context.bit_rate,
        }


def _median(case: Case, key: Callable[[Run], float]) -> float:
    return statistics.median(key(run) for run in case.results)


def _summary(cases: list[Case]) -> dict[str, dict[str, Any]]:
    summary: dict[str, dict[str, Any]] = {}
    for case in cases:
        entry: dict[str, Any] = {
            "input": case.input.name,
            "runs": len(case.results),
            "wall_s": _median(case, lambda run: run.wall_s),
            "cpu_s": _median(case, lambda run: run.cpu_s),
            "peak_rss_mb": max(run.peak_rss_mb for run in case.results),
            "all_wall_s": [round(run.wall_s, 3) for run in case.results],
            "all_cpu_s": [round(run.cpu_s, 3) for run in case.results],
            "check": case.checked,
        }
        report = case.results[0].report
        if "job_wall_s" in report:
            entry["job_wall_s"] = _median(case, lambda run: run.report["job_wall_s"])
            entry["job_cpu_s"] = _median(case, lambda run: run.report["job_cpu_s"])
            entry["all_job_wall_s"] = [round(run.report["job_wall_s"], 3) for run in case.results]
        if "bytes_fetched" in report:
            entry["fetched_ratio"] = max(run.report["bytes_fetched"] / case.input.size_bytes for run in case.results)
        if "method" in report:
            entry["method"] = report["method"]
        summary[case.name] = entry
    return summary


def _targets(summary: dict[str, dict[str, Any]], inputs: dict[str, Input]) -> list[dict[str, Any]]:
    """Each target of the issue, met or not, with the in-process (job) figure beside the process one."""
    targets: list[dict[str, Any]] = []

    def add(target: str, value: float, limit: float, *, at_most: bool = True, note: str = "") -> None:
        met = value <= limit if at_most else value >= limit
        targets.append({"target": target, "value": round(value, 3), "limit": limit, "met": met, "note": note})

    def get(case: str, key: str) -> float | None:
        value = summary.get(case, {}).get(key)
        return None if value is None else float(value)

    for key in ("main", "faststart"):
        ffmpeg_wall, ffmpeg_cpu = get(f"ffmpeg {key}", "wall_s"), get(f"ffmpeg {key}", "cpu_s")
        if ffmpeg_wall is None or ffmpeg_cpu is None:
            continue
        for what, reference in (("wall", ffmpeg_wall), ("cpu", ffmpeg_cpu)):
            process, job = get(f"converter {key}", f"{what}_s"), get(f"job {key}", f"job_{what}_s")
            if process is not None and job is not None:
                note = f"job alone {job / reference:.3f}"
                add(f"local {key}: converter {what} / ffmpeg", process / reference, LOCAL_RATIO, note=note)
            gridfs, whole = get(f"converter gridfs {key}", f"job_{what}_s"), get(f"converter gridfs {key}", f"{what}_s")
            store = get(f"gridfs read {key}", f"job_{what}_s")
            if gridfs is not None and whole is not None and store is not None:
                note = f"process {whole / reference:.3f}; store read alone {store / reference:.3f}"
                add(f"gridfs {key}: job {what} / ffmpeg", gridfs / reference, GRIDFS_RATIO, note=note)
    moviepy, converter, job = get("moviepy main", "cpu_s"), get("converter main", "cpu_s"), get("job main", "job_cpu_s")
    if moviepy is not None and converter is not None and job is not None:
        add(
            "moviepy cpu / converter cpu",
            moviepy / converter,
            MOVIEPY_FACTOR,
            at_most=False,
            note=f"job {moviepy / job:.3f}",
        )
    for name in ("converter large", "converter gridfs large"):
        large, main = get(name, "peak_rss_mb"), get(name.replace("large", "main"), "peak_rss_mb")
        if large is not None and main is not None:
            add(f"{name}: peak RSS MB", large, RSS_LIMIT_MB)
            note = f"input x{inputs['large'].size_bytes / inputs['main'].size_bytes:.1f}"
            add(f"{name}: RSS MB growth over main", large - main, RSS_FLAT_MB, note=note)
    for name, entry in summary.items():
        if name.startswith("converter gridfs") and "fetched_ratio" in entry:
            add(f"{name}: bytes fetched / size", entry["fetched_ratio"], 1.0)
    copy, transcode = get("job copy mp3-in-mp4", "job_wall_s"), get("job transcode mp3-in-mp4", "job_wall_s")
    process_copy, process_transcode = (
        get("converter copy mp3-in-mp4", "wall_s"),
        get("converter transcode mp3-in-mp4", "wall_s"),
    )
    if copy and transcode and process_copy and process_transcode:
        note = f"processes {process_transcode / process_copy:.1f}"
        add("mp3-in-mp4: transcode wall / copy wall (job)", transcode / copy, COPY_FACTOR, at_most=False, note=note)
    errors = [entry["check"]["error_s"] for name, entry in summary.items() if entry["check"] and "ffmpeg" not in name]
    if errors:
        add("converter MP3s: decoded duration error s", max(errors), DURATION_TOLERANCE_S)
    return targets


def _table(summary: dict[str, dict[str, Any]], inputs: dict[str, Input]) -> str:
    header = f"{'case':<34} {'input MB':>8} {'wall s':>7} {'cpu s':>7} {'RSS MB':>7}  notes"
    lines = [header, "-" * len(header)]
    for name, entry in summary.items():
        notes = []
        if "job_wall_s" in entry:
            notes.append(f"job {entry['job_wall_s']:.2f} s wall, {entry['job_cpu_s']:.2f} s cpu")
        if "fetched_ratio" in entry:
            notes.append(f"fetched/size {entry['fetched_ratio']:.3f}")
        if "method" in entry:
            notes.append(entry["method"])
        if entry["check"]:
            check = entry["check"]
            notes.append(f"{check['decoded_seconds']:.2f} s decoded, {(check['bit_rate'] or 0) // 1000} kbit/s")
        size = inputs[entry["input"]].size_bytes / 1e6
        lines.append(
            f"{name:<34} {size:>8.0f} {entry['wall_s']:>7.2f} {entry['cpu_s']:>7.2f} {entry['peak_rss_mb']:>7.0f}  "
            + "; ".join(notes)
        )
    return "\n".join(lines)


def _target_table(targets: list[dict[str, Any]]) -> str:
    lines = [f"{'target':<48} {'value':>8} {'limit':>7}  result", "-" * 76]
    for target in targets:
        verdict = "met" if target["met"] else "NOT MET"
        note = f"  ({target['note']})" if target["note"] else ""
        lines.append(f"{target['target']:<48} {target['value']:>8.3f} {target['limit']:>7}  {verdict}{note}")
    return "\n".join(lines)


def _machine(load_before: tuple[float, float, float]) -> dict[str, Any]:
    ffmpeg_version = subprocess.run(  # noqa: S603
        [FFMPEG, "-version"], capture_output=True, text=True, check=False
    ).stdout.split("\n")[0]
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "ffmpeg": ffmpeg_version,
        "av": av.__version__,
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg(),
        "finished": datetime.now(UTC).isoformat(),
    }


if __name__ == "__main__":
    main()
