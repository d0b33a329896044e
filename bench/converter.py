"""Converter benchmark: the converter against ffmpeg and the MoviePy design, on the same files.

    ./run bench-converter [--quick] [--runs 3] [--seconds 600] [--no-large] [--no-gridfs] [--no-moviepy]
                          [--no-compile]

The matrix: each kind of audio in ``bench.inputs`` (music, speech, near-silence, 5.1 at 48 kHz,
mono at 22.05 kHz, and the 720p videos) converted by ``python -m converter convert`` and by
``ffmpeg -vn -c:a libmp3lame -b:a 192k``, the CPU and wall ratio of each row the median of the
ratios of its rounds, with the machine's load beside it. ``--quick`` is for development: one
minute of each input, two rounds, no 1 GB input and no MoviePy.

Every case runs as a child process, several times, the cases of a round one after another so
the references share the converter's noise (the machine has 2 cores and other work on it);
every other round runs them in the reverse order, so each pair alternates (A B, B A, ...).
Ratios against the references of the same round are what count; medians are reported.
Wall and CPU time (children included) and peak RSS come from ``wait4``; the GridFS cases also
report the job's own time, as a long-running worker pays it, and the bytes they fetched.
Inputs are made once under ``--cache-dir``; results go to ``bench/results/``.

Every module the runs import is compiled to bytecode first, as the service image does
(``UV_COMPILE_BYTECODE=1``): a development environment installed without it, under
``PYTHONDONTWRITEBYTECODE``, compiles them again at every start (0.15 s of CPU for the
converter's command line), a cost the deployed service does not pay. ``--no-compile`` leaves
them as they are; the JSON records which.
"""

from __future__ import annotations

import argparse
import compileall
import io
import os
import platform
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import av
from bson import ObjectId
from gridfs import GridFSBucket
from pymongo import MongoClient

from bench import converter_results as results
from bench.converter_results import Case
from bench.gridfs_store import database_name, delete_mp3, upload_once
from bench.inputs import MATRIX, SECONDS, Input, make_inputs
from bench.measure import measure
from common.mongo import Document

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
FFMPEG = shutil.which("ffmpeg") or "ffmpeg"
FFMPEG_QUIET = [FFMPEG, "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]

QUICK_SECONDS, QUICK_RUNS = 60, 2


def main() -> None:
    args = _arguments()
    started = datetime.now(UTC)
    inputs = make_inputs(args.cache_dir, large=args.large, seconds=args.seconds, matrix=args.matrix)
    work = args.cache_dir / "out"
    work.mkdir(exist_ok=True)
    client: MongoClient[Document] | None = (
        MongoClient(args.mongo_url, tz_aware=True, serverSelectionTimeoutMS=5000) if args.gridfs else None
    )
    moviepy = _moviepy_python(args) if args.moviepy else None
    cases = _cases(inputs, work, runs=args.runs, client=client, mongo_url=args.mongo_url, moviepy=moviepy)
    if args.cases:
        cases = [case for case in cases if any(part in case.name for part in args.cases)]
    if args.compile:
        compile_bytecode()
    load_before = os.getloadavg()

    for round_number in range(max(case.runs for case in cases)):
        ordered = cases if round_number % 2 == 0 else cases[::-1]  # A B, then B A: each pair alternates
        for case in ordered:
            if round_number < case.runs:
                _run(case, client)
        print(f"round {round_number + 1} done (load {os.getloadavg()[0]:.1f})", flush=True)

    summed = results.summary(cases)
    matrix = results.matrix(cases, summed)
    targets = results.targets(summed, inputs, matrix)
    print()
    print(results.table(summed, inputs))
    print()
    print(results.matrix_table(matrix, inputs))
    print()
    print(results.target_table(targets))
    result_file = results.save(
        "converter",
        started,
        {
            "machine": {**_machine(load_before), "bytecode_compiled_first": args.compile},
            "inputs": {name: {**asdict(item), "path": str(item.path)} for name, item in inputs.items()},
            "cases": summed,
            "matrix": matrix,
            "targets": targets,
        },
    )
    print(f"\nresults: {result_file.relative_to(ROOT)}")


def _arguments() -> argparse.Namespace:
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "vidmp3" / "bench"
    parser = argparse.ArgumentParser(prog="python -m bench.converter", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"for development: {QUICK_SECONDS} s inputs, {QUICK_RUNS} runs, no 1 GB input, no MoviePy",
    )
    parser.add_argument("--runs", type=int, help=f"runs of each case (default 3; {QUICK_RUNS} with --quick)")
    parser.add_argument("--seconds", type=int, help=f"length of the inputs (default {SECONDS}; {QUICK_SECONDS} quick)")
    parser.add_argument("--no-matrix", dest="matrix", action="store_false", help="only the 720p inputs")
    parser.add_argument("--cache-dir", type=Path, default=cache, help=f"where inputs are kept (default {cache})")
    parser.add_argument("--mongo-url", default=os.environ.get("VIDMP3_MONGO_URL", "mongodb://127.0.0.1:27017/"))
    parser.add_argument("--no-large", dest="large", action="store_false", help="skip the ~1 GB input")
    parser.add_argument("--no-gridfs", dest="gridfs", action="store_false", help="skip the GridFS cases")
    parser.add_argument("--no-moviepy", dest="moviepy", action="store_false", help="skip the MoviePy reference")
    parser.add_argument(
        "--no-compile", dest="compile", action="store_false", help="do not compile the modules to bytecode first"
    )
    parser.add_argument("--moviepy-python", type=Path, help="a Python with MoviePy (default: a venv in the cache)")
    parser.add_argument("--cases", nargs="*", help="run only the cases whose names contain one of these")
    args = parser.parse_args()
    args.runs = args.runs or (QUICK_RUNS if args.quick else 3)
    args.seconds = args.seconds or (QUICK_SECONDS if args.quick else SECONDS)
    if args.quick:
        args.large, args.moviepy = False, False
    return args


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
        file_id = upload_once(client, item.path.stem, item.path)
        argv = [PYTHON, "-m", "bench.job", job, mongo_url, database_name(item.path.stem), file_id]
        return Case(name, item, argv, runs, gridfs=item.path.stem if job == "gridfs" else None)

    def in_process(name: str, item: Input, mode: str) -> Case:
        out = work / f"{name}.mp3"
        return Case(name, item, [PYTHON, "-m", "bench.job", "file", str(item.path), str(out), mode], runs, out)

    lame = ("-c:a", "libmp3lame", "-b:a", "192k")
    # what `converter convert` imports before it converts (its own modules load lazily)
    imports = "import converter.cli, converter.transcode, converter.encoders, contracts.option_rules"
    cases = [Case("python startup + imports", inputs["main"], [PYTHON, "-c", imports], runs)]
    for key in ("main", "faststart"):
        item = inputs[key]
        cases += [ffmpeg(f"ffmpeg {key}", item, *lame), converter(f"converter {key}", item)]
        cases.append(in_process(f"job {key}", item, "transcode"))
        if client is not None:
            cases += [
                gridfs(f"converter gridfs {key}", item, "gridfs"),
                gridfs(f"gridfs read {key}", item, "gridfs-read"),
            ]
    for signal in MATRIX:
        if signal.name in inputs:
            item = inputs[signal.name]
            cases += [ffmpeg(f"ffmpeg {signal.name}", item, *lame), converter(f"converter {signal.name}", item)]
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
        converter(
            "option trim middle tenth main",
            main,
            *("--start", f"{main.audio_seconds / 2:g}", "--end", f"{main.audio_seconds * 0.6:g}"),
            repeat=1,
            seconds=main.audio_seconds * 0.1,
        ),
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


def compile_bytecode() -> None:
    """The installed packages and the project's own, as ``UV_COMPILE_BYTECODE=1`` compiles them
    in the image (once: files already compiled are skipped)."""
    print("compiling the modules to bytecode, as the image does ...", flush=True)
    installed = [Path(sysconfig.get_paths()[kind]) for kind in ("purelib", "platlib")]
    packages = [ROOT / name for name in ("contracts", "common", "converter", "bench")]
    for path in dict.fromkeys([*installed, *packages]):
        compileall.compile_dir(path, quiet=1, workers=0)


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
