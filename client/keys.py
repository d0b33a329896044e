"""``vidmp3 keys``: create, list and revoke API keys (a program's credential, sent as
``VIDMP3_API_KEY``); the logic behind the commands of ``client.cli``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich import box
from rich.table import Table

from client.exits import CliError, ExitCode
from client.output import print_json

if TYPE_CHECKING:
    from client.cli import Session

__all__ = ["create_key", "keys_table", "list_keys", "revoke_key"]


def _day(value: str | None, never: str) -> str:
    return value[:16].replace("T", " ") if value else never


def keys_table(keys: list[dict[str, Any]]) -> Table:
    table = Table(box=box.SIMPLE_HEAD)
    for column in ("id", "name", "scopes", "starts with", "created", "expires", "last used"):
        table.add_column(column)
    for key in keys:
        table.add_row(
            key["id"],
            key["name"],
            " ".join(key["scopes"]),
            key["prefix"] + "…",
            _day(key["created_at"], ""),
            _day(key["expires_at"], "never"),
            _day(key["last_used_at"], "never"),
        )
    return table


def create_key(session: Session, name: str, scopes: list[str], expires_in_days: int | None) -> None:
    with session.api() as api:
        created = api.create_key(name, scopes, expires_in_days)
    if session.json:
        print_json(created)
        return
    session.err.print(
        f"Created key {created['id']} ({' '.join(created['scopes'])}"
        f"{', expires ' + _day(created['expires_at'], '') if created['expires_at'] else ''}). "
        "This is the only time it is shown: keep it somewhere safe, and use it as VIDMP3_API_KEY.",
        highlight=False,
    )
    # alone on stdout, so `vidmp3 keys create NAME > file` keeps just the key
    session.out.print(created["key"], highlight=False, soft_wrap=True)


def list_keys(session: Session) -> None:
    with session.api() as api:
        keys = api.keys()
    if session.json:
        print_json(keys)
    elif not keys:
        session.out.print("You have no API keys. Create one with: vidmp3 keys create NAME", highlight=False)
    else:
        session.out.print(keys_table(keys))


def revoke_key(session: Session, key_id: str) -> None:
    given = key_id.strip()
    # the whole key, or its prefix, pasted: its id is the part after vmk_
    key_id = given.split("_")[1] if given.startswith("vmk_") else given
    if len(key_id) != 12 or any(char not in "0123456789abcdef" for char in key_id):
        raise CliError(
            f"{given!r} is not a key id: vidmp3 keys list shows them (12 letters and digits).", ExitCode.USAGE
        )
    with session.api() as api:
        api.revoke_key(key_id)
    if session.json:
        print_json({"id": key_id, "revoked": True})
    else:
        session.out.print(f"Key {key_id} is revoked: it stops working within seconds.", highlight=False)
