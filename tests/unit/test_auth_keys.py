"""Signing keys rotate without downtime: the newest signs, earlier ones stay published until retired."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from auth.keys import KeyDirectory, SigningKey, StaticKeys, load_private_key, retire_keys, write_new_key
from auth.tokens import InvalidToken, Principal, TokenIssuer, TokenVerifier, generate_key_pem

ISSUER = "vidmp3-auth"
AUDIENCE = "vidmp3"
ADA = Principal(user_id="42", email="ada@example.com", roles=frozenset({"user"}))
START = 1_700_000_000.0


class Clock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def issuer_of(keys: StaticKeys | KeyDirectory | Ed25519PrivateKey) -> TokenIssuer:
    return TokenIssuer(keys, issuer=ISSUER, audience=AUDIENCE, ttl_seconds=900)


def verifier_of(issuer: TokenIssuer) -> TokenVerifier:
    """A verifier as the gateway builds one: from the JWKS, which crosses the wire as JSON."""
    return TokenVerifier(issuer.jwks(), issuer=ISSUER, audience=AUDIENCE)


def kid_of(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


def add_key(directory: Path, name: str, modified: float) -> SigningKey:
    path = directory / name
    path.write_bytes(generate_key_pem())
    os.utime(path, (modified, modified))
    return SigningKey.of(load_private_key(path))


# --- keys from settings files -------------------------------------------------------------


def test_tokens_of_the_previous_key_verify_while_new_tokens_use_the_new_key() -> None:
    old, new = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    before = issuer_of(old)
    old_token = before.issue(ADA)

    after = issuer_of(StaticKeys(new, previous=[old]))
    new_token = after.issue(ADA)
    verifier = verifier_of(after)

    assert kid_of(new_token) == SigningKey.of(new).kid != kid_of(old_token)
    assert verifier.verify(old_token) == ADA
    assert verifier.verify(new_token) == ADA
    assert [key["kid"] for key in after.jwks()["keys"]] == [SigningKey.of(new).kid, SigningKey.of(old).kid]


def test_once_the_previous_key_is_retired_its_tokens_are_refused() -> None:
    old, new = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    old_token = issuer_of(old).issue(ADA)

    with pytest.raises(InvalidToken, match="unknown key"):
        verifier_of(issuer_of(new)).verify(old_token)


def test_a_previous_key_equal_to_the_newest_is_published_once() -> None:
    key = Ed25519PrivateKey.generate()

    assert len(issuer_of(StaticKeys(key, previous=[key])).jwks()["keys"]) == 1


def test_keys_load_from_files(tmp_path: Path) -> None:
    newest, previous = tmp_path / "new.pem", tmp_path / "old.pem"
    newest.write_bytes(generate_key_pem())
    previous.write_bytes(generate_key_pem())

    keys = StaticKeys.from_files(newest, [previous])

    assert keys.signing_key().kid == SigningKey.of(load_private_key(newest)).kid
    assert [key.kid for key in keys.published()][1:] == [SigningKey.of(load_private_key(previous)).kid]


def test_the_jwks_never_holds_a_private_part() -> None:
    issuer = issuer_of(StaticKeys(Ed25519PrivateKey.generate(), previous=[Ed25519PrivateKey.generate()]))

    for key in issuer.jwks()["keys"]:
        assert set(key) == {"kty", "crv", "x", "kid", "use", "alg"}


# --- a directory of keys ------------------------------------------------------------------


def test_a_fresh_directory_signs_with_its_only_key_at_once(tmp_path: Path) -> None:
    only = add_key(tmp_path, "a.pem", START)

    keys = KeyDirectory(tmp_path, activation_seconds=30, clock=Clock())

    assert keys.signing_key() == only
    assert keys.published() == [only]


def test_the_newest_key_by_name_signs_once_settled_and_all_are_published(tmp_path: Path) -> None:
    clock = Clock()
    older = add_key(tmp_path, "20240101T000000Z.pem", START - 7200)
    old = add_key(tmp_path, "20250101T000000Z.pem", START - 3600)
    keys = KeyDirectory(tmp_path, reload_seconds=10, activation_seconds=30, clock=clock)
    assert keys.signing_key() == old

    new = add_key(tmp_path, "20260101T000000Z.pem", START)
    clock.now += 10
    assert [key.kid for key in keys.published()] == [old.kid, new.kid, older.kid], "published before it signs"
    assert keys.signing_key() == old

    clock.now += 20
    assert keys.signing_key() == new
    assert [key.kid for key in keys.published()] == [new.kid, old.kid, older.kid]


def test_the_directory_is_read_again_only_every_reload_seconds(tmp_path: Path) -> None:
    clock = Clock()
    first = add_key(tmp_path, "1.pem", START - 3600)
    keys = KeyDirectory(tmp_path, reload_seconds=10, activation_seconds=0, clock=clock)
    second = add_key(tmp_path, "2.pem", START)

    clock.now += 9
    assert keys.signing_key() == first
    clock.now += 1
    assert keys.signing_key() == second


def test_a_key_rotation_through_the_directory_keeps_earlier_tokens_verifying(tmp_path: Path) -> None:
    clock = Clock()
    add_key(tmp_path, "1.pem", START - 3600)
    issuer = issuer_of(KeyDirectory(tmp_path, reload_seconds=0, activation_seconds=0, clock=clock))
    old_token = issuer.issue(ADA)

    new = add_key(tmp_path, "2.pem", START)
    clock.now += 1
    new_token = issuer.issue(ADA)

    verifier = verifier_of(issuer)
    assert kid_of(new_token) == new.kid != kid_of(old_token)
    assert verifier.verify(old_token) == verifier.verify(new_token) == ADA


def encrypted_key_pem() -> bytes:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"a passphrase"),
    )


@pytest.mark.parametrize("content", [b"not a key", b"", encrypted_key_pem()], ids=["garbage", "empty", "encrypted"])
def test_an_unreadable_new_key_keeps_the_keys_loaded_before(tmp_path: Path, content: bytes) -> None:
    clock = Clock()
    good = add_key(tmp_path, "1.pem", START - 3600)
    keys = KeyDirectory(tmp_path, reload_seconds=0, activation_seconds=0, clock=clock)

    (tmp_path / "2.pem").write_bytes(content)
    clock.now += 1

    assert keys.signing_key() == good
    assert keys.published() == [good]


def test_an_empty_directory_is_refused_at_start(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="rotate-key"):
        KeyDirectory(tmp_path)


def test_files_that_are_not_pem_keys_are_ignored(tmp_path: Path) -> None:
    key = add_key(tmp_path, "1.pem", START)
    (tmp_path / ".2.pem.partial").write_text("half a key")
    (tmp_path / "README").write_text("keys")
    (tmp_path / "retired").mkdir()
    add_key(tmp_path / "retired", "0.pem", START)

    assert KeyDirectory(tmp_path).published() == [key]


# --- rotate-key's parts -------------------------------------------------------------------


def test_a_new_key_is_named_to_sort_last_and_readable_by_its_owner_only(tmp_path: Path) -> None:
    first = write_new_key(tmp_path, now=datetime(2025, 1, 1, tzinfo=UTC))
    second = write_new_key(tmp_path, now=datetime(2025, 1, 1, 0, 0, 0, 1, tzinfo=UTC))

    assert sorted(tmp_path.iterdir()) == [first, second]
    assert stat.S_IMODE(second.stat().st_mode) == 0o600
    load_private_key(second)


def test_a_new_key_that_would_not_sort_last_is_refused(tmp_path: Path) -> None:
    (tmp_path / "auth-signing-key.pem").write_bytes(generate_key_pem())

    with pytest.raises(ValueError, match=r"auth-signing-key\.pem"):
        write_new_key(tmp_path)


def test_keys_replaced_long_enough_ago_are_retired_but_never_the_two_newest(tmp_path: Path) -> None:
    now = START
    add_key(tmp_path, "1.pem", now - 10_000)
    add_key(tmp_path, "2.pem", now - 5_000)  # replaced 1 long ago
    add_key(tmp_path, "3.pem", now - 100)  # replaced 2 recently
    add_key(tmp_path, "4.pem", now - 50)

    retired = retire_keys(tmp_path, unused_for_seconds=3600, now=now)

    assert retired == [tmp_path / "retired" / "1.pem"]
    assert sorted(path.name for path in tmp_path.glob("*.pem")) == ["2.pem", "3.pem", "4.pem"]
    assert retire_keys(tmp_path, unused_for_seconds=0, now=now) == [tmp_path / "retired" / "2.pem"]
    assert retire_keys(tmp_path, unused_for_seconds=0, now=now) == []
