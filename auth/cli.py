"""``python -m auth``: serve the API (the default), create users, make a signing key."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import typer

from auth.passwords import Passwords
from auth.settings import AuthSettings
from auth.tokens import generate_key_pem
from auth.users import UserExists, Users

cli = typer.Typer(help="The vidmp3 auth service.", no_args_is_help=False, add_completion=False)


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


@cli.command("create-user")
def create_user(
    email: str,
    admin: Annotated[bool, typer.Option(help="Give the user the admin role.")] = False,
    password_stdin: Annotated[bool, typer.Option(help="Read the password from standard input.")] = False,
) -> None:
    """Create a user (the users table is created first if absent)."""
    password = _read_password(password_stdin)

    async def create() -> int:
        settings = AuthSettings.load()
        users = Users(settings.mysql_url.get_secret_value(), pool_size=1)
        try:
            await users.migrate()
            user = await users.create(email, Passwords().hash(password), is_admin=admin)
        finally:
            await users.close()
        return user.id

    try:
        user_id = asyncio.run(create())
    except UserExists:
        typer.echo(f"a user with email {email} already exists", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"created user {user_id} <{email.strip().lower()}>{' (admin)' if admin else ''}")


@cli.command("set-password")
def set_password(
    email: str,
    password_stdin: Annotated[bool, typer.Option(help="Read the password from standard input.")] = False,
) -> None:
    """Set a user's password."""
    password = _read_password(password_stdin)

    async def update() -> bool:
        settings = AuthSettings.load()
        users = Users(settings.mysql_url.get_secret_value(), pool_size=1)
        try:
            await users.migrate()
            user = await users.by_email(email)
            if user is not None:
                await users.set_password_hash(user.id, Passwords().hash(password))
        finally:
            await users.close()
        return user is not None

    if not asyncio.run(update()):
        typer.echo(f"no user with email {email}", err=True)
        raise typer.Exit(1)
    typer.echo(f"password of <{email.strip().lower()}> set")


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
