"""``python -m auth``: serve the API (the default), manage users and signing keys, migrate."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from auth.database import Database
from auth.emails import normalize_email
from auth.keys import SigningKey, generate_key_pem, load_private_key, retire_keys, write_new_key
from auth.migrations import AUTH_SCHEMA
from auth.passwords import Passwords
from auth.revocations import Revocations
from auth.service import UserChanges
from auth.sessions import Sessions
from auth.settings import AuthSettings
from auth.users import UserExists, Users

cli = typer.Typer(help="The vidmp3 auth service.", no_args_is_help=False, add_completion=False)

T = TypeVar("T")


@cli.callback(invoke_without_command=True)
def main(context: typer.Context) -> None:
    """Serve the auth API when no command is given."""
    if context.invoked_subcommand is None:
        serve()


@cli.command()
def serve() -> None:
    """Serve the auth API (settings from VIDMP3_* variables)."""
    from auth.app import create_app
    from common.service import serve as serve_app

    settings = AuthSettings.load()
    serve_app(create_app(settings), settings, "auth")


@dataclass(frozen=True)
class _Tables:
    users: Users
    changes: UserChanges


@asynccontextmanager
async def _tables() -> AsyncIterator[_Tables]:
    """The users and sessions tables, migrated first (so a fresh database works)."""
    from auth.app import refresh_policy

    settings = AuthSettings.load()
    database = Database(settings.mysql_url.get_secret_value(), pool_size=1)
    try:
        await AUTH_SCHEMA.migrate(database)
        users = Users(database)
        sessions = Sessions(database, refresh_policy(settings), hooks=Revocations(database))
        yield _Tables(users, UserChanges(users, sessions))
    finally:
        await database.close()


def _with_tables(work: Callable[[_Tables], Awaitable[T]]) -> T:
    async def run() -> T:
        async with _tables() as tables:
            return await work(tables)

    return asyncio.run(run())


@cli.command()
def migrate() -> None:
    """Apply the schema migrations not yet applied (the service does this at start too)."""

    async def run() -> list[int]:
        settings = AuthSettings.load()
        database = Database(settings.mysql_url.get_secret_value(), pool_size=1)
        try:
            return await AUTH_SCHEMA.migrate(database)
        finally:
            await database.close()

    applied = asyncio.run(run())
    typer.echo(f"applied migrations {', '.join(map(str, applied))}" if applied else "the schema is up to date")


@cli.command("create-user")
def create_user(
    email: str,
    admin: Annotated[bool, typer.Option(help="Give the user the admin role.")] = False,
    password_stdin: Annotated[bool, typer.Option(help="Read the password from standard input.")] = False,
) -> None:
    """Create a user (the tables are created first if absent)."""
    password = _read_password(password_stdin)

    async def create(tables: _Tables) -> int:
        return (await tables.users.create(email, Passwords().hash(password), is_admin=admin)).id

    try:
        user_id = _with_tables(create)
    except UserExists:
        typer.echo(f"a user with email {email} already exists", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"created user {user_id} <{normalize_email(email)}>{' (admin)' if admin else ''}")


@cli.command("set-password")
def set_password(
    email: str,
    password_stdin: Annotated[bool, typer.Option(help="Read the password from standard input.")] = False,
) -> None:
    """Set a user's password; every session of theirs ends."""
    password = _read_password(password_stdin)

    async def update(tables: _Tables) -> bool:
        user = await tables.users.by_email(email)
        if user is not None:
            await tables.changes.set_password_hash(user.id, Passwords().hash(password))
        return user is not None

    if not _with_tables(update):
        typer.echo(f"no user with email {email}", err=True)
        raise typer.Exit(1)
    typer.echo(f"password of <{normalize_email(email)}> set")


def _set_active(email: str, *, active: bool) -> None:
    async def update(tables: _Tables) -> bool:
        user = await tables.users.by_email(email)
        return user is not None and await tables.changes.set_active(user.id, active=active)

    if not _with_tables(update):
        typer.echo(f"no user with email {email}", err=True)
        raise typer.Exit(1)
    typer.echo(f"<{normalize_email(email)}> {'enabled' if active else 'disabled'}")


@cli.command("disable-user")
def disable_user(email: str) -> None:
    """Disable a user: their logins fail from now on and every session of theirs ends."""
    _set_active(email, active=False)


@cli.command("enable-user")
def enable_user(email: str) -> None:
    """Enable a disabled user again."""
    _set_active(email, active=True)


def _set_admin(email: str, *, admin: bool) -> None:
    async def update(tables: _Tables) -> bool:
        user = await tables.users.by_email(email)
        return user is not None and await tables.changes.set_admin(user.id, admin=admin)

    if not _with_tables(update):
        typer.echo(f"no user with email {email}", err=True)
        raise typer.Exit(1)
    typer.echo(f"<{normalize_email(email)}> {'is' if admin else 'is no longer'} an admin")


@cli.command("grant-admin")
def grant_admin(email: str) -> None:
    """Give a user the admin role (from their next login or refresh)."""
    _set_admin(email, admin=True)


@cli.command("revoke-admin")
def revoke_admin(email: str) -> None:
    """Take the admin role from a user; every session of theirs ends."""
    _set_admin(email, admin=False)


@cli.command("delete-user")
def delete_user(email: str) -> None:
    """Delete a user; every session of theirs ends."""

    async def remove(tables: _Tables) -> bool:
        user = await tables.users.by_email(email)
        return user is not None and await tables.changes.delete(user.id)

    if not _with_tables(remove):
        typer.echo(f"no user with email {email}", err=True)
        raise typer.Exit(1)
    typer.echo(f"<{normalize_email(email)}> deleted")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    if not password:
        raise typer.BadParameter("the password must not be empty")
    return password


@cli.command("generate-key")
def generate_key(path: Path) -> None:
    """Write a new Ed25519 signing key (PEM, mode 0600) to PATH, for VIDMP3_SIGNING_KEY_FILE."""
    if path.exists():
        typer.echo(f"{path} exists; not overwriting it", err=True)
        raise typer.Exit(1)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_bytes(generate_key_pem())
    typer.echo(f"wrote {path}")


@cli.command("rotate-key")
def rotate_key(
    directory: Path,
    retire_after: Annotated[
        float,
        typer.Option(
            help="Move to DIRECTORY/retired/ the keys replaced more than this many seconds ago."
            " Must exceed the key activation delay plus the token lifetime."
        ),
    ] = 3600.0,
) -> None:
    """Add a new signing key to DIRECTORY (VIDMP3_SIGNING_KEY_DIR) and retire old ones.

    Running services publish the new key within VIDMP3_SIGNING_KEY_RELOAD_SECONDS and sign with
    it once VIDMP3_SIGNING_KEY_ACTIVATION_SECONDS have passed; tokens signed by the keys before
    it keep verifying until those keys are retired. No restart needed.
    """
    try:
        path = write_new_key(directory)
    except ValueError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from None
    typer.echo(f"wrote {path} (kid {SigningKey.of(load_private_key(path)).kid})")
    for retired in retire_keys(directory, unused_for_seconds=retire_after):
        typer.echo(f"retired {retired}")
