"""What the converter benchmark measured, summed up: per case, the matrix, the targets, tables.

Pure: takes the runs ``bench.measure`` made, prints nothing.
"""

from __future__ import annotations

import json
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.inputs import MATRIX, Input
from bench.measure import Run

__all__ = ["MATRIX_ROWS", "Case", "matrix", "matrix_table", "save", "summary", "table", "target_table", "targets"]

RESULTS = Path(__file__).resolve().parent / "results"

# the targets of the converter issues
LOCAL_RATIO, GRIDFS_RATIO, MOVIEPY_FACTOR, RSS_LIMIT_MB, COPY_FACTOR = 1.0, 1.1, 2.0, 150.0, 20.0
RSS_FLAT_MB = 15.0
DURATION_TOLERANCE_S = 0.1
# the rows of the matrix: the 720p videos and every kind of audio, converter against ffmpeg
MATRIX_ROWS = ("main", "faststart", *(signal.name for signal in MATRIX))


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


def median(case: Case, key: Callable[[Run], float]) -> float:
    return statistics.median(key(run) for run in case.results)


def summary(cases: list[Case]) -> dict[str, dict[str, Any]]:
    summary: dict[str, dict[str, Any]] = {}
    for case in cases:
        entry: dict[str, Any] = {
            "input": case.input.name,
            "runs": len(case.results),
            "wall_s": median(case, lambda run: run.wall_s),
            "cpu_s": median(case, lambda run: run.cpu_s),
            "peak_rss_mb": max(run.peak_rss_mb for run in case.results),
            "all_wall_s": [round(run.wall_s, 3) for run in case.results],
            "all_cpu_s": [round(run.cpu_s, 3) for run in case.results],
            "load_1m": median(case, lambda run: run.load_1m),
            "others_busy": median(case, lambda run: run.others_busy),
            "all_load_1m": [round(run.load_1m, 2) for run in case.results],
            "all_others_busy": [round(run.others_busy, 2) for run in case.results],
            "check": case.checked,
        }
        report = case.results[0].report
        if "job_wall_s" in report:
            entry["job_wall_s"] = median(case, lambda run: run.report["job_wall_s"])
            entry["job_cpu_s"] = median(case, lambda run: run.report["job_cpu_s"])
            entry["all_job_wall_s"] = [round(run.report["job_wall_s"], 3) for run in case.results]
        if "bytes_fetched" in report:
            entry["fetched_ratio"] = max(run.report["bytes_fetched"] / case.input.size_bytes for run in case.results)
        if "method" in report:
            entry["method"] = report["method"]
        summary[case.name] = entry
    return summary


class _Targets:
    """Each target of the issues, met or not, with the figures beside it that explain it."""

    def __init__(self, summary: dict[str, dict[str, Any]]) -> None:
        self.summary = summary
        self.rows: list[dict[str, Any]] = []

    def add(self, target: str, value: float, limit: float, *, at_most: bool = True, note: str = "") -> None:
        met = value <= limit if at_most else value >= limit
        self.rows.append({"target": target, "value": round(value, 3), "limit": limit, "met": met, "note": note})

    def get(self, case: str, key: str) -> float | None:
        value = self.summary.get(case, {}).get(key)
        return None if value is None else float(value)

    def matrix(self, matrix: list[dict[str, Any]]) -> None:
        for row in matrix:
            for what in ("cpu", "wall"):
                note = f"load {row['load_1m']:.1f}, others busy {row['others_busy']:.1f} cores"
                if what == "cpu" and row.get("cpu_ratio_without_start") is not None:
                    note += f"; without the interpreter's start {row['cpu_ratio_without_start']:.3f}"
                self.add(f"local {row['row']}: converter {what} / ffmpeg", row[f"{what}_ratio"], LOCAL_RATIO, note=note)

    def jobs(self, key: str) -> None:
        """In-process figures on ``key``: the job alone on a local file, and from GridFS."""
        for what in ("wall", "cpu"):
            reference = self.get(f"ffmpeg {key}", f"{what}_s")
            if reference is None:
                continue
            job = self.get(f"job {key}", f"job_{what}_s")
            if job is not None:
                self.add(f"local {key}: job alone {what} / ffmpeg", job / reference, LOCAL_RATIO, note="in-process")
            gridfs = self.get(f"converter gridfs {key}", f"job_{what}_s")
            whole = self.get(f"converter gridfs {key}", f"{what}_s")
            store = self.get(f"gridfs read {key}", f"job_{what}_s")
            if gridfs is not None and whole is not None and store is not None:
                note = f"process {whole / reference:.3f}; store read alone {store / reference:.3f}"
                self.add(f"gridfs {key}: job {what} / ffmpeg", gridfs / reference, GRIDFS_RATIO, note=note)

    def moviepy(self) -> None:
        moviepy, converter = self.get("moviepy main", "cpu_s"), self.get("converter main", "cpu_s")
        job = self.get("job main", "job_cpu_s")
        if moviepy is not None and converter is not None and job is not None:
            note = f"job {moviepy / job:.3f}"
            self.add("moviepy cpu / converter cpu", moviepy / converter, MOVIEPY_FACTOR, at_most=False, note=note)

    def memory(self, inputs: dict[str, Input]) -> None:
        for name in ("converter large", "converter gridfs large"):
            large, main = self.get(name, "peak_rss_mb"), self.get(name.replace("large", "main"), "peak_rss_mb")
            if large is not None and main is not None:
                self.add(f"{name}: peak RSS MB", large, RSS_LIMIT_MB)
                note = f"input x{inputs['large'].size_bytes / inputs['main'].size_bytes:.1f}"
                self.add(f"{name}: RSS MB growth over main", large - main, RSS_FLAT_MB, note=note)
        for name, entry in self.summary.items():
            if name.startswith("converter gridfs") and "fetched_ratio" in entry:
                self.add(f"{name}: bytes fetched / size", entry["fetched_ratio"], 1.0)

    def copy(self) -> None:
        copy, transcode = (
            self.get("job copy mp3-in-mp4", "job_wall_s"),
            self.get("job transcode mp3-in-mp4", "job_wall_s"),
        )
        process_copy = self.get("converter copy mp3-in-mp4", "wall_s")
        process_transcode = self.get("converter transcode mp3-in-mp4", "wall_s")
        if copy and transcode and process_copy and process_transcode:
            note = f"processes {process_transcode / process_copy:.1f}"
            self.add(
                "mp3-in-mp4: transcode wall / copy wall (job)", transcode / copy, COPY_FACTOR, at_most=False, note=note
            )

    def durations(self) -> None:
        errors = [
            entry["check"]["error_s"] for name, entry in self.summary.items() if entry["check"] and "ffmpeg" not in name
        ]
        if errors:
            self.add("converter MP3s: decoded duration error s", max(errors), DURATION_TOLERANCE_S)


def targets(
    summary: dict[str, dict[str, Any]], inputs: dict[str, Input], matrix: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Each target of the issues, met or not, with the in-process (job) figure beside the process one."""
    found = _Targets(summary)
    found.matrix(matrix)
    for key in ("main", "faststart"):
        found.jobs(key)
    found.moviepy()
    found.memory(inputs)
    found.copy()
    found.durations()
    return found.rows


def table(summary: dict[str, dict[str, Any]], inputs: dict[str, Input]) -> str:
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


def matrix(cases: list[Case], summary: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Per row: converter and ffmpeg medians and the median of the ratios of their rounds."""
    by_name = {case.name: case for case in cases}
    startup = summary.get("python startup + imports", {}).get("cpu_s")
    rows = []
    for row in MATRIX_ROWS:
        converter, ffmpeg = by_name.get(f"converter {row}"), by_name.get(f"ffmpeg {row}")
        if converter is None or ffmpeg is None or not converter.results or not ffmpeg.results:
            continue
        pairs = list(zip(converter.results, ffmpeg.results, strict=False))
        cpu = statistics.median(mine.cpu_s / theirs.cpu_s for mine, theirs in pairs)
        wall = statistics.median(mine.wall_s / theirs.wall_s for mine, theirs in pairs)
        without_start = (
            statistics.median((mine.cpu_s - startup) / theirs.cpu_s for mine, theirs in pairs)
            if startup is not None
            else None
        )
        runs = [run for pair in pairs for run in pair]
        rows.append(
            {
                "row": row,
                "pairs": len(pairs),
                "ffmpeg_cpu_s": summary[ffmpeg.name]["cpu_s"],
                "ffmpeg_wall_s": summary[ffmpeg.name]["wall_s"],
                "converter_cpu_s": summary[converter.name]["cpu_s"],
                "converter_wall_s": summary[converter.name]["wall_s"],
                "cpu_ratio": cpu,
                "wall_ratio": wall,
                "cpu_ratio_without_start": without_start,
                "all_cpu_ratios": [round(mine.cpu_s / theirs.cpu_s, 3) for mine, theirs in pairs],
                "all_wall_ratios": [round(mine.wall_s / theirs.wall_s, 3) for mine, theirs in pairs],
                "load_1m": statistics.median(run.load_1m for run in runs),
                "others_busy": statistics.median(run.others_busy for run in runs),
                "load_range": [min(run.load_1m for run in runs), max(run.load_1m for run in runs)],
            }
        )
    return rows


def matrix_table(matrix: list[dict[str, Any]], inputs: dict[str, Input]) -> str:
    header = (
        f"{'row':<13} {'ffmpeg cpu':>10} {'wall':>6} {'conv. cpu':>10} {'wall':>6} "
        f"{'cpu x':>6} {'wall x':>6} {'cpu x*':>6}  {'load 1m':>11} {'busy':>5}  audio"
    )
    lines = [header, "-" * len(header)]
    for row in matrix:
        without = row["cpu_ratio_without_start"]
        low, high = row["load_range"]
        lines.append(
            f"{row['row']:<13} {row['ffmpeg_cpu_s']:>10.2f} {row['ffmpeg_wall_s']:>6.2f} "
            f"{row['converter_cpu_s']:>10.2f} {row['converter_wall_s']:>6.2f} "
            f"{row['cpu_ratio']:>6.3f} {row['wall_ratio']:>6.3f} {'-' if without is None else f'{without:.3f}':>6}  "
            f"{row['load_1m']:>4.1f} ({low:.1f}-{high:.1f}) {row['others_busy']:>4.1f}  "
            f"{inputs[row['row']].description or 'AAC stereo 44.1 kHz, 720p H.264'}"
        )
    lines.append(
        "x: converter / ffmpeg, median of the rounds' ratios; x*: CPU less the interpreter's start (what a worker "
        "pays per job); load 1m: the 1-minute load average (median, range); busy: cores other work kept busy"
    )
    return "\n".join(lines)


def target_table(targets: list[dict[str, Any]]) -> str:
    lines = [f"{'target':<48} {'value':>8} {'limit':>7}  result", "-" * 76]
    for target in targets:
        verdict = "met" if target["met"] else "NOT MET"
        note = f"  ({target['note']})" if target["note"] else ""
        lines.append(f"{target['target']:<48} {target['value']:>8.3f} {target['limit']:>7}  {verdict}{note}")
    return "\n".join(lines)


def save(kind: str, started: datetime, figures: dict[str, Any]) -> Path:
    """``figures`` as ``bench/results/KIND-<start>.json``, with the start and the command."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    result_file = RESULTS / f"{kind}-{started:%Y%m%d-%H%M%S}.json"
    document = {"started": started.isoformat(), "command": " ".join(sys.argv), **figures}
    result_file.write_text(json.dumps(document, indent=2))
    return result_file
