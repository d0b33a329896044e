"""Instructions executed: the converter's command line against ffmpeg, counted by valgrind.

    ./run bench-instructions [--seconds 600] [--rows music speech ...] [--jobs 2]

CPU seconds on a shared machine scatter by several per cent from one run to the next (the
same command, minutes apart); the instructions a conversion executes do not: callgrind counts
them (``Ir``), the same on every run of one command on one input, whatever else the machine
does. So this complements ``bench.converter``'s timed rounds with figures anyone can check
to the last digit. Per row of the matrix (``bench.inputs``): ffmpeg's count, the converter's,
their ratio; and the converter's start (the interpreter and the modules ``convert`` imports),
counted alone, so that what a long-running worker pays per job (the count less the start)
is beside it. Instructions are not seconds (the interpreter's run fewer per cycle than
LAME's): this shows where the converter stands against ffmpeg's work, not its timing.

Needs valgrind (Debian's ``valgrind``; ``./run bench-instructions`` installs it). A count takes
about 50 times its conversion under valgrind (three to six minutes for ten minutes of audio); with
``--jobs 2`` two counts run at once (the counts are the same; only the waiting is shorter).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.converter import compile_bytecode
from bench.converter_results import MATRIX_ROWS, save
from bench.inputs import SECONDS, Input, make_inputs

ROOT = Path(__file__).resolve().parent.parent
FFMPEG = shutil.which("ffmpeg") or "ffmpeg"
# what `python -m converter convert` imports before it converts (its own modules load lazily)
START = "import converter.cli, converter.transcode, converter.encoders, contracts.option_rules"
_REFS = re.compile(r"Collected\s*:\s*(\d+)")


def main() -> None:
    args = _arguments()
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        sys.exit("valgrind is not installed: `./run bench-instructions` installs it (Debian: apt-get install valgrind)")
    started = datetime.now(UTC)
    inputs = make_inputs(args.cache_dir, large=False, seconds=args.seconds, matrix=True)
    rows = [inputs[name] for name in args.rows or MATRIX_ROWS if name in inputs]
    work = Path(tempfile.mkdtemp(prefix="bench-instructions-"))
    compile_bytecode()  # as the image does: compiling at start would be counted

    commands: dict[str, list[str]] = {"start": [sys.executable, "-c", START]}
    for item in rows:
        commands[f"ffmpeg {item.name}"] = ffmpeg_command(item, work)
        commands[f"converter {item.name}"] = converter_command(item, work)
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        counted = dict(zip(commands, pool.map(lambda argv: count(valgrind, argv), commands.values()), strict=True))
    shutil.rmtree(work, ignore_errors=True)

    start = counted["start"]
    table = [Row.of(item, counted[f"ffmpeg {item.name}"], counted[f"converter {item.name}"], start) for item in rows]
    print(render(table, start))
    result_file = save(
        "instructions",
        started,
        {
            "seconds": args.seconds,
            "start_instructions": start,
            "rows": [asdict(entry) for entry in table],
            "commands": commands,
        },
    )
    print(f"\nresults: {result_file.relative_to(ROOT)}")


def ffmpeg_command(item: Input, work: Path) -> list[str]:
    out = work / f"{item.name}.ffmpeg.mp3"
    encoder = ["-c:a", "libmp3lame", "-b:a", "192k"]
    return [FFMPEG, "-nostdin", "-v", "error", "-y", "-i", str(item.path), "-vn", *encoder, str(out)]


def converter_command(item: Input, work: Path) -> list[str]:
    out = work / f"{item.name}.mp3"
    return [sys.executable, "-m", "converter", "convert", str(item.path), str(out), "--bitrate", "192"]


def count(valgrind: str, argv: list[str]) -> int:
    """The instructions ``argv`` executes, all its threads together (callgrind's ``Ir``)."""
    done = subprocess.run(  # noqa: S603
        [valgrind, "--tool=callgrind", "--callgrind-out-file=/dev/null", *argv],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    found = _REFS.search(done.stderr)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"{' '.join(argv)} failed under valgrind ({done.returncode}):\n{done.stderr[-2000:]}")
    return int(found.group(1))


@dataclass(frozen=True)
class Row:
    input: str
    audio: str
    ffmpeg: int
    converter: int
    ratio: float
    """The command line's count over ffmpeg's."""
    per_job_ratio: float
    """The same, less the converter's start: what a running worker pays for a job."""

    @classmethod
    def of(cls, item: Input, ffmpeg: int, converter: int, start: int) -> Row:
        return cls(
            item.name,
            item.description or item.audio_codec,
            ffmpeg,
            converter,
            round(converter / ffmpeg, 4),
            round((converter - start) / ffmpeg, 4),
        )


def render(table: list[Row], start: int) -> str:
    lines = [f"{'row':<14}{'ffmpeg G':>10}{'converter G':>13}{'ratio':>8}{'per job':>9}", "-" * 54]
    lines += [
        f"{entry.input:<14}{entry.ffmpeg / 1e9:>10.3f}{entry.converter / 1e9:>13.3f}"
        f"{entry.ratio:>8.4f}{entry.per_job_ratio:>9.4f}"
        for entry in table
    ]
    lines.append(
        f"instructions in G (10^9, callgrind's Ir); ratio: converter / ffmpeg, the command line; "
        f"per job: less the converter's start ({start / 1e9:.3f} G), as a running worker pays"
    )
    return "\n".join(lines)


def _arguments() -> argparse.Namespace:
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "vidmp3" / "bench"
    parser = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=SECONDS, help=f"length of the inputs (default {SECONDS})")
    parser.add_argument("--rows", nargs="*", help="only these inputs (default: the timed benchmark's matrix rows)")
    parser.add_argument("--jobs", type=int, default=2, help="counts run at once (default 2)")
    parser.add_argument("--cache-dir", type=Path, default=cache, help=f"where inputs are kept (default {cache})")
    return parser.parse_args()


if __name__ == "__main__":
    main()
