"""The ``vidmp3`` command: one sub-command per thing a person does with the service."""

from __future__ import annotations

import functools
import inspect
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from client.api import Api
from client.config import DEFAULT_SERVER, TokenStore
from client.exits import EXIT_CODES_HELP, CliError, ExitCode
from client.options import with_conversion_options
from client.session import RefreshingAuth, SessionKeeper, credentials_from

__all__ = ["app", "main"]

app = typer.Typer(
    name="vidmp3",
    help="Turn videos into MP3s with a vidmp3 server: log in, upload (resumable), follow, download.",
    epilog=EXIT_CODES_HELP,
    no_args_is_help=True,
    rich_markup_mode="markdown",
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_show_locals=False,
)

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Session:
    """What every command gets from the global options."""

    server: str
    json: bool
    out: Console = field(default_factory=Console)
    err: Console = field(default_factory=lambda: Console(stderr=True))
    tokens: TokenStore = field(default_factory=TokenStore)

    @property
    def keeper(self) -> SessionKeeper:
        return SessionKeeper(self.server, self.tokens)

    def api(self, *, authenticated: bool = True) -> Api:
        """The API with this server's session (renewed as it goes), or with none (logging in)."""
        return Api(self.server, RefreshingAuth(self.keeper) if authenticated else None)

    @property
    def quiet(self) -> bool:
        """No progress bars: JSON output is for scripts, and so is a pipe."""
        return self.json or not self.err.is_terminal


def _session(ctx: typer.Context) -> Session:
    obj = ctx.find_root().obj
    assert isinstance(obj, Session)
    return obj


def _report(error: CliError, session: Session | None) -> None:
    if session is not None and session.json:
        report = {
            "error": error.message,
            "exit_code": int(error.code),
            "status": error.status,
            "hint": error.hint,
            "problem": error.problem,
        }
        sys.stderr.write(json.dumps(report) + "\n")
        return
    console = session.err if session else Console(stderr=True)
    console.print(f"[bold red]error:[/] {error.message}", highlight=False, markup=True, soft_wrap=True)
    if error.hint:
        console.print(f"[dim]hint: {error.hint}[/]", highlight=False)


_JSON_HELP = "Print results as JSON (for scripts); no progress bars. Also accepted before the command."


def handled(command: F) -> F:
    """Ends the command with its ``CliError``'s message and exit code, Ctrl-C with 130; gives it
    ``--json`` (so ``vidmp3 jobs --json`` works as ``vidmp3 --json jobs`` does)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        session = _session(kwargs["ctx"])
        if kwargs.pop("json_after", False):
            session.json = True
        try:
            return command(*args, **kwargs)
        except CliError as error:
            _report(error, session)
            raise typer.Exit(int(error.code)) from None
        except KeyboardInterrupt:
            _report(CliError("interrupted", ExitCode.INTERRUPTED, hint="run the same command again to resume"), session)
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None

    signature = inspect.signature(command, eval_str=True)
    flag = inspect.Parameter(
        "json_after",
        inspect.Parameter.KEYWORD_ONLY,
        default=False,
        annotation=Annotated[bool, typer.Option("--json", help=_JSON_HELP, show_default=False)],
    )
    parameters = [*signature.parameters.values(), flag]
    del wrapper.__wrapped__  # typer must see the new signature, not the wrapped one's
    wrapper.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in parameters}
    return wrapper  # type: ignore[return-value]


def _version(show: bool) -> None:
    if show:
        from importlib.metadata import version

        typer.echo(f"vidmp3 {version('vidmp3')}")
        raise typer.Exit


@app.callback()
def main_options(
    ctx: typer.Context,
    server: Annotated[
        str, typer.Option("--server", "-s", envvar="VIDMP3_SERVER", help="The vidmp3 server's URL.")
    ] = DEFAULT_SERVER,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print results as JSON (for scripts); no progress bars.")
    ] = False,
    version: Annotated[  # noqa: ARG001 (its callback prints it)
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Turn videos into MP3s with a vidmp3 server: log in, upload (resumable), follow, download."""
    ctx.obj = Session(server=server.rstrip("/"), json=json_output)


def _complete_job(ctx: typer.Context, incomplete: str) -> list[tuple[str, str]]:
    """Shell completion of a job argument: your latest jobs' short ids, with their file names
    (nothing, silently, when the server or the session is not there)."""
    from client.jobids import short_id

    server = str(ctx.find_root().params.get("server") or DEFAULT_SERVER).rstrip("/")
    try:
        with Session(server=server, json=True).api() as api:
            items = api.jobs(limit=50)["items"]
    except CliError:
        return []
    ids = [str(item["job_id"]) for item in items]
    return [
        (short_id(job_id, ids), str(item.get("filename") or ""))
        for job_id, item in zip(ids, items, strict=True)
        if job_id.startswith(incomplete.lower())
    ]


@app.command()
@handled
def login(
    ctx: typer.Context,
    email: Annotated[str | None, typer.Argument(help="Your account's email (asked if left out).")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input (scripts).")
    ] = False,
) -> None:
    """Log in and keep the session in your config directory (readable by you alone); it renews
    itself as you use it, until you log out or leave it unused past its refresh token's life."""
    session = _session(ctx)
    email = email or typer.prompt("Email")
    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else typer.prompt("Password", hide_input=True)
    if not password:
        raise CliError("The password is empty.", ExitCode.USAGE)
    with session.api(authenticated=False) as api:
        answer = api.login(email, password)
    credentials = credentials_from(answer, email)
    with session.tokens.locked():
        session.tokens.save(session.server, credentials)
    if session.json:
        from client.output import print_json

        print_json(
            {
                "server": session.server,
                "email": email,
                "expires_at": credentials.expires_at,
                "renews_until": credentials.refresh_expires_at if credentials.refresh_token else None,
            }
        )
    elif credentials.refresh_token:
        days = max(1, round(((credentials.refresh_expires_at or 0) - credentials.expires_at) / 86400))
        session.out.print(
            f"Logged in to {session.server} as {email} (the session renews itself; unused, it ends in {days} days).",
            highlight=False,
        )
    else:
        minutes = max(1, round(float(answer.get("expires_in", 0)) / 60))
        session.out.print(f"Logged in to {session.server} as {email} (for {minutes} min).", highlight=False)


@app.command()
@handled
def logout(ctx: typer.Context) -> None:
    """End the session on the server (its refresh token stops working) and forget it here."""
    session = _session(ctx)
    forgotten = session.keeper.revoke()
    if session.json:
        from client.output import print_json

        print_json({"server": session.server, "logged_out": forgotten})
    else:
        session.out.print("Logged out." if forgotten else f"Not logged in to {session.server}.", highlight=False)


_FILES = typer.Argument(exists=True, dir_okay=False, readable=True, metavar="VIDEO", help="Video files.")
_CHUNK = typer.Option(
    "--chunk-size", min=64 * 1024, help="Bytes per upload request (a failed one is resent from where the server got)."
)
_RATE = typer.Option(
    "--limit-rate", metavar="RATE", help="Upload at most this fast: bytes per second, with K, M or G (e.g. 500K)."
)


def _rate(text: str | None) -> float | None:
    if not text:
        return None
    units = {"K": 1024, "M": 1024**2, "G": 1024**3}
    number, unit = text.strip().upper().rstrip("B"), 1
    if number and number[-1] in units:
        number, unit = number[:-1], units[number[-1]]
    try:
        value = float(number) * unit
    except ValueError:
        raise CliError(f"--limit-rate {text!r} is not a rate such as 500K or 2M", ExitCode.USAGE) from None
    if value <= 0:
        raise CliError("--limit-rate must be above 0", ExitCode.USAGE)
    return value


@app.command()
@handled
@with_conversion_options
def upload(
    ctx: typer.Context,
    *,
    files: Annotated[list[Path], _FILES],
    chunk_size: Annotated[int, _CHUNK] = 16 * 1024 * 1024,
    limit_rate: Annotated[str | None, _RATE] = None,
    options: dict[str, str] | None = None,
) -> None:
    """Upload videos to convert (resumable: an interrupted upload goes on where it stopped
    when you run the same command again). Prints each job's id."""
    from client.commands import upload_files

    upload_files(_session(ctx), files, options or {}, chunk_size=chunk_size, rate=_rate(limit_rate))


@app.command()
@handled
@with_conversion_options
def convert(
    ctx: typer.Context,
    *,
    files: Annotated[list[Path], _FILES],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", file_okay=False, help="Directory for the MP3s (default: here).")
    ] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait for the MP3s and download them.")] = True,
    force: Annotated[bool, typer.Option("--force", help="Overwrite MP3s that exist.")] = False,
    poll: Annotated[
        bool, typer.Option("--poll", help="Poll the status instead of following its event stream.")
    ] = False,
    chunk_size: Annotated[int, _CHUNK] = 16 * 1024 * 1024,
    limit_rate: Annotated[str | None, _RATE] = None,
    options: dict[str, str] | None = None,
) -> None:
    """Upload videos, wait for their conversion, download the MP3s: all in one go."""
    from client.commands import convert_files

    convert_files(
        _session(ctx),
        files,
        options or {},
        output=output,
        wait=wait,
        force=force,
        poll=poll,
        chunk_size=chunk_size,
        rate=_rate(limit_rate),
    )


@app.command()
@handled
def status(
    ctx: typer.Context,
    job: Annotated[
        str | None,
        typer.Argument(
            help="A job id (or its first characters); your latest jobs if left out.", autocompletion=_complete_job
        ),
    ] = None,
    watch: Annotated[bool, typer.Option("--watch", "-w", help="Follow live until the job(s) finish.")] = False,
    poll: Annotated[bool, typer.Option("--poll", help="With --watch: poll instead of the event stream.")] = False,
) -> None:
    """A job's state, progress and history (or a table of your latest jobs)."""
    from client.commands import show_status

    show_status(_session(ctx), job, watch=watch, poll=poll)


@app.command()
@handled
def jobs(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=100, help="How many jobs.")] = 20,
    cursor: Annotated[
        str | None, typer.Option("--cursor", help="Where the previous page ended (its next_cursor).")
    ] = None,
    everyone: Annotated[bool, typer.Option("--everyone", help="Every user's jobs (admins only).")] = False,
) -> None:
    """Your jobs, newest first."""
    from client.commands import list_jobs

    list_jobs(_session(ctx), limit=limit, cursor=cursor, everyone=everyone)


@app.command()
@handled
def download(
    ctx: typer.Context,
    job: Annotated[str, typer.Argument(help="The job id (or its first characters).", autocompletion=_complete_job)],
    output: Annotated[
        str | None,
        typer.Option("--output", "-o", help="File, or directory (existing, or ending with /), to write the MP3 to."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite the file if it exists.")] = False,
) -> None:
    """Download a job's MP3 (an interrupted download resumes when run again)."""
    from client.commands import download_job

    download_job(_session(ctx), job, output=output, force=force)


_IDS = "Job ids, or their first characters (enough to tell your jobs apart)."


@app.command()
@handled
def cancel(
    ctx: typer.Context, jobs: Annotated[list[str], typer.Argument(help=_IDS, autocompletion=_complete_job)]
) -> None:
    """Cancel queued or converting jobs (exit 5 for a job that already finished)."""
    from client.commands import cancel_jobs

    cancel_jobs(_session(ctx), jobs)


@app.command()
@handled
def delete(
    ctx: typer.Context, jobs: Annotated[list[str], typer.Argument(help=_IDS, autocompletion=_complete_job)]
) -> None:
    """Delete jobs with their video and MP3 (an unfinished job is cancelled first)."""
    from client.commands import delete_jobs

    delete_jobs(_session(ctx), jobs)


keys_app = typer.Typer(
    name="keys",
    help=(
        "API keys for programs: create, list, revoke. A program sends its key as VIDMP3_API_KEY (or as"
        " Authorization: Bearer <key>); keys are managed while logged in with your password."
    ),
    no_args_is_help=True,
)
app.add_typer(keys_app)

_SCOPES = ("jobs:read", "jobs:write")


@keys_app.command("create")
@handled
def keys_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="What the key is for, to tell your keys apart.")],
    scope: Annotated[
        list[str] | None,
        typer.Option(
            "--scope",
            metavar="SCOPE",
            help="jobs:read (status, lists, downloads) or jobs:write (uploads, cancel, delete); repeat for both,"
            " the default.",
        ),
    ] = None,
    expires_in: Annotated[
        int | None,
        typer.Option("--expires-in", metavar="DAYS", min=1, max=3650, help="Days until the key stops working."),
    ] = None,
) -> None:
    """Create an API key and print it (shown this once: keep it safe)."""
    from client.keys import create_key

    scopes = list(dict.fromkeys(scope or _SCOPES))
    if unknown := [given for given in scopes if given not in _SCOPES]:
        raise CliError(f"--scope {unknown[0]!r} is not one of {', '.join(_SCOPES)}", ExitCode.USAGE)
    create_key(_session(ctx), name, scopes, expires_in)


@keys_app.command("list")
@handled
def keys_list(ctx: typer.Context) -> None:
    """Your API keys (not their secrets): id, name, scopes, when they expire and were last used."""
    from client.keys import list_keys

    list_keys(_session(ctx))


@keys_app.command("revoke")
@handled
def keys_revoke(
    ctx: typer.Context, key_id: Annotated[str, typer.Argument(metavar="ID", help="The key's id (vidmp3 keys list).")]
) -> None:
    """Revoke an API key: it stops working within seconds."""
    from client.keys import revoke_key

    revoke_key(_session(ctx), key_id)


def main() -> None:
    app()
