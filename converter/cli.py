"""``python -m converter``: serve the worker (the default), or convert one file to MP3.

``convert`` runs the worker's own ``transcode`` on a local file or standard input; only the
storage differs.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, BinaryIO

import typer

from converter.encoders import DEFAULT_LIBRARY, EngineChoice

cli = typer.Typer(help="The vidmp3 converter.", no_args_is_help=False, add_completion=False)


@cli.callback(invoke_without_command=True)
def main(context: typer.Context) -> None:
    """Serve the converter worker when no command is given."""
    if context.invoked_subcommand is None:
        serve()


@cli.command()
def serve() -> None:
    """Consume VideoUploaded events and convert them (settings from VIDMP3_* variables)."""
    from common.service import serve as serve_app
    from converter.app import create_app
    from converter.settings import ConverterSettings

    settings = ConverterSettings.load()
    serve_app(create_app(settings), settings, "converter")


_FLAGS = {
    "bitrate_kbps": "--bitrate",
    "vbr_quality": "--vbr",
    "sample_rate_hz": "--rate",
    "channels": "--mono/--stereo",
    "start_seconds": "--start",
    "end_seconds": "--end",
    "normalize": "--normalize",
    "cover_art": "--cover-art/--no-cover-art",
}


@cli.command()
def convert(  # noqa: PLR0917  # one parameter per option, as typer wants them
    source: Annotated[str, typer.Argument(metavar="INPUT|-", help="A video or audio file; - reads standard input.")],
    target: Annotated[Path, typer.Argument(metavar="OUTPUT", help="Where the MP3 goes; - writes standard output.")],
    bitrate: Annotated[
        int | None, typer.Option(help="Constant bitrate in kbit/s (CBR); 192 unless --vbr is given.")
    ] = None,
    vbr: Annotated[
        int | None, typer.Option(help="Variable bitrate at LAME quality 0 (best) to 9 (smallest) instead.")
    ] = None,
    rate: Annotated[int | None, typer.Option(help="Sample rate in Hz (an MP3 rate); default: the source's.")] = None,
    mono: Annotated[
        bool | None, typer.Option("--mono/--stereo", help="Mono or stereo; default: as the source.")
    ] = None,
    start: Annotated[float, typer.Option(help="Start at this second of the audio.")] = 0.0,
    end: Annotated[float | None, typer.Option(help="End at this second of the audio.")] = None,
    normalize: Annotated[bool, typer.Option(help="Normalize loudness to -16 LUFS (EBU R128).")] = False,
    cover_art: Annotated[
        bool, typer.Option(help="Embed a cover picture: the source's own, else a frame of its video.")
    ] = True,
    encoder: Annotated[
        EngineChoice,
        typer.Option(help="MP3 encoder; auto is the system's libmp3lame if it loads, else lameenc, else PyAV's."),
    ] = "auto",
    libmp3lame: Annotated[
        str, typer.Option(envvar="VIDMP3_LIBMP3LAME", help="The system libmp3lame to load (a soname or a path).")
    ] = DEFAULT_LIBRARY,
    stream_copy: Annotated[bool, typer.Option(help="Copy MP3 audio that already is what is asked as it is.")] = True,
) -> None:
    """Convert INPUT's audio to an MP3 at OUTPUT, as the worker does.

    A pipe works for streamable input (MP4 with +faststart, MKV, WebM, MP3), not an MP4 with its index at the end.
    An MP3 written to a pipe has no Xing/Info frame (it is written last, at the start of the file).
    """
    from pydantic import ValidationError

    from contracts import ConversionOptions
    from converter.encoders import EngineUnavailable, pick_engine
    from converter.tags import title_from_filename
    from converter.transcode import ConversionError, transcode

    given = {
        "bitrate_kbps": bitrate,
        "vbr_quality": vbr,
        "sample_rate_hz": rate,
        "channels": None if mono is None else "mono" if mono else "stereo",
        "start_seconds": start,
        "end_seconds": end,
        "normalize": normalize,
        "cover_art": cover_art,
    }
    try:
        options = ConversionOptions.model_validate({k: v for k, v in given.items() if v is not None})
    except ValidationError as error:
        first = error.errors()[0]
        hint = _FLAGS.get(str(first["loc"][0])) if first["loc"] else None
        raise typer.BadParameter(first["msg"], param_hint=hint) from None
    try:
        engine = pick_engine(encoder, library=libmp3lame, announce=True)
    except EngineUnavailable as error:
        raise typer.BadParameter(str(error), param_hint="--encoder") from None
    try:
        with _input(source) as reader, _Output(target) as writer:
            result = transcode(
                reader,
                writer.file,
                options,
                engine=engine,
                stream_copy=stream_copy,
                title=title_from_filename(None if source == "-" else Path(source).name),
            )
            writer.commit()
    except ConversionError as error:
        typer.echo(f"cannot convert {source}: {error.message} ({error.reason})", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{target}: {result.duration_seconds:.2f} s of audio ({result.method})", err=True)


def _input(source: str) -> BinaryIO:
    if source == "-":
        return sys.stdin.buffer
    try:
        return Path(source).open("rb")
    except OSError as error:
        raise typer.BadParameter(str(error), param_hint="INPUT") from None


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
