"""What one MP3 per chapter costs beside the whole MP3: CPU, wall time and peak RSS.

    uv run python bench/split_chapters.py [--minutes 10] [--chapters 12] [--runs 3]

Makes a video of ``--minutes`` with ``--chapters`` equal chapters (a tone under pink noise,
the sample's audio), then converts it with ``converter.transcode`` to local files in child
processes (``bench/measure.py``: CPU of every thread, peak RSS), plainly and with
``split_chapters``, the two alternating, ``--runs`` times each. Prints the medians, their
ratio and the machine's load beside each run, and writes
``bench/results/split-chapters-<time>.json``. A split encodes the audio twice (the whole MP3
and the parts, each in a thread of its own) and decodes it once, so its CPU is expected near
twice the encoder's share, its wall time less on two free cores, its memory one encoder more.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.measure import Run, measure  # noqa: E402


def convert_once(video: Path, split: bool, out: Path) -> None:
    """The measured child: convert ``video`` into ``out`` (and ``out``'s folder, split)."""
    from contracts import ConversionOptions
    from converter.chapters import Chapter
    from converter.transcode import transcode

    folder = out.with_suffix("")
    folder.mkdir(parents=True, exist_ok=True)

    class Parts:
        """``converter.split.PartSinks`` over local files ``<out>/001.mp3`` ..."""

        def __init__(self) -> None:
            self.file: BinaryIO | None = None

        def open(self, number: int, chapter: Chapter) -> BinaryIO:  # noqa: ARG002 (the port's signature)
            self.file = (folder / f"{number:03d}.mp3").open("wb")
            return self.file

        def close(self, number: int, seconds: float) -> None:  # noqa: ARG002 (the port's signature)
            assert self.file is not None
            self.file.close()

    started = time.perf_counter()
    with video.open("rb") as source, out.open("wb") as sink:
        result = transcode(source, sink, ConversionOptions(split_chapters=split), parts=Parts(), engine="auto")  # type: ignore[arg-type]
    print(
        json.dumps(
            {"seconds": result.duration_seconds, "parts": len(result.parts), "wall": time.perf_counter() - started}
        )
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--chapters", type=int, default=12)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--one", nargs=3, metavar=("VIDEO", "MODE", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        video, mode, out = args.one
        convert_once(Path(video), mode == "split", Path(out))
        return 0

    from converter.samples import write_sample_video

    runs: dict[str, list[Run]] = {"plain": [], "split": []}
    with tempfile.TemporaryDirectory() as scratch:
        video = Path(scratch) / "lecture.mp4"
        seconds = args.minutes * 60
        step = seconds / args.chapters
        chapters = [(n * step, f"Chapter {n + 1}") for n in range(args.chapters)]
        write_sample_video(video, seconds=seconds, width=64, height=48, fps=1, chapters=chapters)
        for round_ in range(args.runs):
            for mode in ("plain", "split") if round_ % 2 == 0 else ("split", "plain"):
                out = Path(scratch) / f"{mode}-{round_}.mp3"
                run = measure([sys.executable, str(Path(__file__).resolve()), "--one", str(video), mode, str(out)])
                runs[mode].append(run)
                print(
                    f"{mode:5}  cpu {run.cpu_s:6.2f} s  wall {run.wall_s:6.2f} s  rss {run.peak_rss_mb:6.1f} MB  "
                    f"parts {run.report.get('parts')}  (load {run.load_1m:.1f}, others busy {run.others_busy:.1f})"
                )
    medians = {
        mode: {
            "cpu_s": statistics.median(r.cpu_s for r in done),
            "wall_s": statistics.median(r.wall_s for r in done),
            "peak_rss_mb": statistics.median(r.peak_rss_mb for r in done),
        }
        for mode, done in runs.items()
    }
    ratios = {key: round(medians["split"][key] / medians["plain"][key], 2) for key in medians["plain"]}
    print(f"\nmedians of {args.runs} alternating runs, {args.minutes:g} min of audio, {args.chapters} chapters")
    print(f"{'':6}{'cpu s':>8}{'wall s':>8}{'rss MB':>8}")
    for mode, values in medians.items():
        print(f"{mode:6}{values['cpu_s']:8.2f}{values['wall_s']:8.2f}{values['peak_rss_mb']:8.1f}")
    print(f"{'ratio':6}{ratios['cpu_s']:8.2f}{ratios['wall_s']:8.2f}{ratios['peak_rss_mb']:8.2f}  (split / plain)")
    result = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "minutes": args.minutes,
        "chapters": args.chapters,
        "runs": {mode: [r.__dict__ for r in done] for mode, done in runs.items()},
        "medians": medians,
        "split_over_plain": ratios,
    }
    out = ROOT / "bench" / "results" / f"split-chapters-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str))
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
