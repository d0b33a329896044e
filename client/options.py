"""The conversion options as command-line flags, made from ``ConversionOptions``' fields: a
field added there is a flag here, with its description as help, without touching the CLI.

``bitrate_kbps`` becomes ``--bitrate-kbps`` (and ``--bitrate``: the name without its unit),
a yes/no field ``--name/--no-name``, a field of fixed choices lists them. Values are checked
here as the server checks them (as text, the way form fields and tus metadata carry them),
so a typo is a usage error before any byte is uploaded.
"""

from __future__ import annotations

import enum
import functools
import inspect
import re
import types
import typing
from collections.abc import Callable
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from pydantic.fields import FieldInfo

from client.exits import CliError, ExitCode
from contracts import ConversionOptions
from contracts.option_words import option_problem

__all__ = ["PANEL", "flag_names", "with_conversion_options"]

PANEL = "Conversion options"
_PREFIX = "option__"
_UNIT = re.compile(r"_(kbps|hz|seconds|secs|ms|db|lufs|percent)$")


def flag_names(name: str) -> list[str]:
    """``--bitrate-kbps`` and, when the name ends with a unit, ``--bitrate``."""
    names = [f"--{name.replace('_', '-')}"]
    short = _UNIT.sub("", name)
    if short != name and short not in ConversionOptions.model_fields:
        names.append(f"--{short.replace('_', '-')}")
    return names


def _bare(annotation: Any) -> Any:
    """``X`` of ``X | None`` / ``Optional[X]``."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        kept = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(kept) == 1:
            return kept[0]
    return annotation


def _parameter(name: str, field: FieldInfo) -> inspect.Parameter:
    annotation = _bare(field.annotation)
    described = (field.description or name.replace("_", " ")).rstrip(".")
    default = field.get_default(call_default_factory=False)
    help_text = f"{described} [server default: {default}]" if default is not None else described
    flags = flag_names(name)
    if annotation is bool:
        flags = [f"{flags[0]}/--no-{flags[0][2:]}"]
    elif not _typer_reads(annotation):
        annotation = str  # anything else is sent as text, for the server to read as it reads forms
    option = typer.Option(*flags, help=help_text, rich_help_panel=PANEL, show_default=False)
    return inspect.Parameter(
        _PREFIX + name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Annotated[annotation | None, option]
    )


def _typer_reads(annotation: Any) -> bool:
    """Whether typer parses this type itself (and lists its choices in the help)."""
    return (
        annotation in (int, float, str)
        or typing.get_origin(annotation) is typing.Literal
        or (isinstance(annotation, type) and issubclass(annotation, enum.Enum))
    )


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, enum.Enum):
        return str(value.value)
    return str(value)


def _validated(given: dict[str, object]) -> dict[str, str]:
    values = {name: _text(value) for name, value in given.items()}
    try:
        ConversionOptions.model_validate(values, strict=False)
    except ValidationError as error:
        problem = option_problem(error)
        flags = [flag_names(e["field"])[0] for e in problem.errors if e["field"] in ConversionOptions.model_fields]
        named = f" ({', '.join(dict.fromkeys(flags))})" if flags else ""
        raise CliError(f"{problem.detail}{named}", ExitCode.USAGE) from None
    return values


def with_conversion_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Give ``command`` one flag per conversion option; it receives the options given, checked,
    as text in its ``options`` keyword argument."""
    signature = inspect.signature(command, eval_str=True)
    kept = [p for p in signature.parameters.values() if p.name != "options"]
    added = [_parameter(name, field) for name, field in ConversionOptions.model_fields.items()]

    @functools.wraps(command)
    def wrapper(**kwargs: Any) -> Any:
        flags = {key.removeprefix(_PREFIX): kwargs.pop(key) for key in list(kwargs) if key.startswith(_PREFIX)}
        given = {name: value for name, value in flags.items() if value is not None}
        return command(**kwargs, options=_validated(given))

    del wrapper.__wrapped__  # typer must see the new signature, not the wrapped one's
    wrapper.__signature__ = signature.replace(parameters=[*kept, *added])  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in [*kept, *added]}
    return wrapper
