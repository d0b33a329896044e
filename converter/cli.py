"""``python -m converter``: serve the worker (the default), or convert one file to MP3.

``convert`` runs the worker's own ``transcode`` on a local file or standard input; only the
storage differs.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, BinaryIO

import typer

from converter.encoders import EngineChoice

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


@cli.command()
def convert(
    source: Annotated[str, typer.Argument(metavar="INPUT|-", help="A video or audio file; - reads standard input.")],
    target: Annotated[Path, typer.Argument(metavar="OUTPUT", help="Where the MP3 goes; - writes standard output.")],
    bitrate: Annotated[int, typer.Option(help="Constant bitrate of the MP3 in kbit/s.")] = 192,
    encoder: Annotated[EngineChoice, typer.Option(help="MP3 encoder; auto is lameenc if installed.")] = "auto",
    stream_copy: Annotated[bool, typer.Option(help="Copy MP3 audio at the requested bitrate as it is.")] = True,
) -> None:
    """Convert INPUT's audio to an MP3 at OUTPUT, as the worker does.

    A pipe works for streamable input (MP4 with +faststart, MKV, WebM, MP3), not an MP4 with its index at the end.
    """
    from pydantic import ValidationError

    from contracts import ConversionOptions
    from converter.transcode import ConversionError, transcode

    try:
        options = ConversionOptions(bitrate_kbps=bitrate)  # type: ignore[arg-type]  # validated here
    except ValidationError as error:
        raise typer.BadParameter(error.errors()[0]["msg"], param_hint="--bitrate") from None
    try:
        with _input(source) as reader, _Output(target) as writer:
            result = transcode(reader, writer.file, options, engine=encoder, stream_copy=stream_copy)
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
