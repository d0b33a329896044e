"""``python -m converter``: serve the worker (the default), or convert one file to MP3.

``convert`` runs the worker's own ``transcode`` on a local file or standard input; only the
storage differs.

The standard library's ``argparse``, not typer as the other services' commands: ``convert``
is timed against ffmpeg, process start included, and typer (with the pydantic it imports
to read its parameters) cost 0.17 s of CPU per start, 4 % of converting ten minutes of
speech. For the same reason nothing heavy is imported before it is needed, pydantic included:
the options are checked by ``contracts.option_rules.PlainOptions``, ``ConversionOptions``' rules
without the model (0.1 s of CPU per start less).
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, NoReturn, cast

if TYPE_CHECKING:
    from contracts.option_rules import PlainOptions
    from converter.chapters import Chapter
    from converter.encoders import EngineChoice

__all__ = ["main"]

PROG = "python -m converter"
# the system libmp3lame's soname (converter.encoders.DEFAULT_LIBRARY, not imported for --help)
_DEFAULT_LIBRARY = "libmp3lame.so.0"
_ENGINE_CHOICES = ("auto", "system", "lameenc", "pyav")
_USAGE_ERROR = 2

_FLAGS = {
    "bitrate_kbps": "--bitrate",
    "vbr_quality": "--vbr",
    "sample_rate_hz": "--rate",
    "channels": "--mono/--stereo",
    "start_seconds": "--start",
    "end_seconds": "--end",
    "normalize": "--normalize",
    "cover_art": "--cover-art/--no-cover-art",
    "split_chapters": "--split-chapters",
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (2 for a usage error, 1 for input that
    cannot be converted)."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "convert":
        return convert(args, args.usage)
    serve()
    return 0


def serve() -> None:
    """Consume VideoUploaded events and convert them (settings from VIDMP3_* variables)."""
    from common.service import serve as serve_app
    from converter.app import create_app
    from converter.settings import ConverterSettings

    settings = ConverterSettings.load()
    serve_app(create_app(settings), settings, "converter")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="The vidmp3 converter.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("serve", help="Consume VideoUploaded events and convert them (the default).")
    command = commands.add_parser(
        "convert",
        help="Convert a video's audio to MP3, as the worker does.",
        description="Convert INPUT's audio to an MP3 at OUTPUT, as the worker does. A pipe works for "
        "streamable input (MP4 with +faststart, MKV, WebM, MP3), not an MP4 with its index at the end. "
        "An MP3 written to a pipe has no Xing/Info frame (it is written last, at the start of the file).",
    )
    command.set_defaults(usage=command)  # a usage error shows this command's usage
    command.add_argument("source", metavar="INPUT|-", help="A video or audio file; - reads standard input.")
    command.add_argument("target", metavar="OUTPUT", type=Path, help="Where the MP3 goes; - writes standard output.")
    command.add_argument("--bitrate", type=int, help="Constant bitrate in kbit/s (CBR); 192 unless --vbr is given.")
    command.add_argument("--vbr", type=int, help="Variable bitrate at LAME quality 0 (best) to 9 (smallest) instead.")
    command.add_argument("--rate", type=int, help="Sample rate in Hz (an MP3 rate); default: the source's.")
    channels = command.add_mutually_exclusive_group()
    channels.add_argument("--mono", dest="mono", action="store_const", const=True, help="Mono.")
    channels.add_argument("--stereo", dest="mono", action="store_const", const=False, help="Stereo.")
    command.add_argument("--start", type=float, default=0.0, help="Start at this second of the audio.")
    command.add_argument("--end", type=float, help="End at this second of the audio.")
    command.add_argument(
        "--normalize",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="Normalize loudness to -16 LUFS (EBU R128).",
    )
    command.add_argument(
        "--cover-art",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="Embed a cover picture: the source's own, else a frame of its video.",
    )
    command.add_argument(
        "--split-chapters",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="Also one MP3 per chapter (two chapters or more), in a folder named after OUTPUT "
        "(lecture.mp3: lecture/lecture - 01 Welcome.mp3 ...).",
    )
    command.add_argument(
        "--encoder",
        choices=_ENGINE_CHOICES,
        default="auto",
        help="MP3 encoder; auto is the system's libmp3lame if it loads, else lameenc, else PyAV's.",
    )
    command.add_argument(
        "--libmp3lame",
        default=os.environ.get("VIDMP3_LIBMP3LAME", _DEFAULT_LIBRARY),
        help="The system libmp3lame to load (a soname or a path; env VIDMP3_LIBMP3LAME).",
    )
    command.add_argument(
        "--stream-copy",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="Copy MP3 audio that already is what is asked as it is.",
    )
    return parser


def convert(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Convert INPUT's audio to an MP3 at OUTPUT, as the worker does."""
    from converter.encoders import EngineUnavailable, pick_engine
    from converter.tags import title_from_filename
    from converter.transcode import ConversionError, transcode

    options = _options(args, parser)
    # what the imports made lives as long as the process: the collector need not walk it again
    # at every collection the decoding's allocations set off
    gc.freeze()
    try:
        engine = pick_engine(cast("EngineChoice", args.encoder), library=args.libmp3lame, announce=True)
    except EngineUnavailable as error:
        _usage_error(parser, str(error), "--encoder")
    source: str = args.source
    if args.split_chapters and str(args.target) == "-":
        _usage_error(parser, "the MP3s per chapter go into a folder: name an OUTPUT file", "--split-chapters")
    reader = _input(source, parser)
    parts = _PartFiles(args.target)
    try:
        with reader, _Output(args.target) as writer:
            result = transcode(
                reader,
                writer.file,
                options,
                engine=engine,
                stream_copy=args.stream_copy,
                title=title_from_filename(None if source == "-" else Path(source).name),
                parts=parts,
            )
            writer.commit()
    except BaseException as error:
        parts.abort()
        if not isinstance(error, ConversionError):
            raise
        print(f"cannot convert {source}: {error.message} ({error.reason})", file=sys.stderr)
        return 1
    print(f"{args.target}: {result.duration_seconds:.2f} s of audio ({result.method})", file=sys.stderr)
    for part in result.parts:
        print(f"{parts.paths[part.number - 1]}: {part.seconds:.2f} s, {part.chapter.title}", file=sys.stderr)
    return 0


def _options(args: argparse.Namespace, parser: argparse.ArgumentParser) -> PlainOptions:
    # checked as ConversionOptions checks them, without importing pydantic (see the module's doc)
    from contracts.option_rules import OptionError, PlainOptions

    given = {
        "bitrate_kbps": args.bitrate,
        "vbr_quality": args.vbr,
        "sample_rate_hz": args.rate,
        "channels": None if args.mono is None else "mono" if args.mono else "stereo",
        "start_seconds": args.start,
        "end_seconds": args.end,
        "normalize": args.normalize,
        "cover_art": args.cover_art,
        "split_chapters": args.split_chapters,
    }
    try:
        return PlainOptions.checked({k: v for k, v in given.items() if v is not None})
    except OptionError as error:
        _usage_error(parser, error.words, _FLAGS.get(error.field or ""))


def _usage_error(parser: argparse.ArgumentParser, message: str, flag: str | None) -> NoReturn:
    parser.error(f"argument {flag}: {message}" if flag else message)


def _input(source: str, parser: argparse.ArgumentParser) -> BinaryIO:
    if source == "-":
        return sys.stdin.buffer
    try:
        return Path(source).open("rb")
    except OSError as error:
        _usage_error(parser, str(error), "INPUT")


class _PartFiles:
    """The MP3s per chapter (``converter.split.PartSinks``), in the folder named after
    ``target``: each written as ``.NAME.partial`` and renamed when complete."""

    def __init__(self, target: Path) -> None:
        self._folder = target.with_suffix("") if target.suffix else target.with_name(f"{target.name} chapters")
        self._stem = target.stem
        self._file: BinaryIO | None = None
        self._partial: Path | None = None
        self.paths: list[Path] = []

    def open(self, number: int, chapter: Chapter) -> BinaryIO:
        from converter.split import part_filename

        self._folder.mkdir(parents=True, exist_ok=True)
        self.paths.append(self._folder / part_filename(self._stem, number, chapter.title))
        self._partial = self.paths[-1].with_name(f".{self.paths[-1].name}.partial")
        self._file = self._partial.open("wb")
        return self._file

    def close(self, number: int, seconds: float) -> None:  # noqa: ARG002 (the port's signature)
        assert self._file is not None
        assert self._partial is not None
        self._file.close()
        self._partial.replace(self.paths[number - 1])
        self._file = self._partial = None

    def abort(self) -> None:
        """Remove what was written: a conversion that fails leaves no part behind."""
        if self._file is not None and self._partial is not None:
            self._file.close()
            self._partial.unlink(missing_ok=True)
        for path in self.paths:
            path.unlink(missing_ok=True)


class _Output:
    """Standard output, or a file written next to ``target`` and renamed onto it when complete."""

    def __init__(self, target: Path) -> None:
        self._target = target
        self._partial = None if str(target) == "-" else target.with_name(f".{target.name}.partial")
        self.file: BinaryIO = sys.stdout.buffer if self._partial is None else self._partial.open("wb")
        self._committed = False

    def commit(self) -> None:
        self._committed = True

    def __enter__(self) -> _Output:
        return self

    def __exit__(self, *_: object) -> None:
        if self._partial is None:
            self.file.flush()
            return
        self.file.close()
        if self._committed:
            self._partial.replace(self._target)
        else:
            self._partial.unlink(missing_ok=True)
