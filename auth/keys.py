"""Signing keys: Ed25519 PEM files, the newest signs and every one is published until retired.

Two ways to hold them:

* ``StaticKeys``: ``VIDMP3_SIGNING_KEY_FILE`` signs, ``VIDMP3_PREVIOUS_SIGNING_KEY_FILES`` are
  only published; rotating means changing the settings and restarting.
* ``KeyDirectory``: every ``*.pem`` in ``VIDMP3_SIGNING_KEY_DIR``, ordered by name (``rotate-key``
  names them by UTC time). The directory is re-read while the service runs, so a rotation needs
  no restart. A new key is published at once but signs only after ``activation_seconds``, so
  every auth process (and every verifier that refetches the JWKS) knows it before tokens
  signed by it are out.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = [
    "KeyDirectory",
    "SigningKey",
    "SigningKeys",
    "StaticKeys",
    "generate_key_pem",
    "key_id",
    "load_private_key",
    "retire_keys",
    "write_new_key",
]

log = logging.getLogger(__name__)

RETIRED = "retired"


def generate_key_pem() -> bytes:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def load_private_key(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} does not hold an Ed25519 private key")  # noqa: TRY004 (bad file content, not a type error)
    return key


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.urlsafe_b64encode(hashlib.sha256(raw).digest()[:12]).decode().rstrip("=")


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: Ed25519PrivateKey = field(compare=False)  # the kid names it

    @classmethod
    def of(cls, private_key: Ed25519PrivateKey) -> SigningKey:
        return cls(key_id(private_key.public_key()), private_key)

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()


class SigningKeys(Protocol):
    def signing_key(self) -> SigningKey:
        """The key new tokens are signed with."""
        ...

    def published(self) -> Sequence[SigningKey]:
        """Every key whose tokens still verify: the signing key first."""
        ...


class StaticKeys:
    """One key signs; the previous ones are only published (tokens they signed still verify)."""

    def __init__(self, newest: Ed25519PrivateKey, previous: Sequence[Ed25519PrivateKey] = ()) -> None:
        self._signing = SigningKey.of(newest)
        keys = {self._signing.kid: self._signing} | {key.kid: key for key in map(SigningKey.of, previous)}
        self._published = [self._signing, *(key for kid, key in keys.items() if kid != self._signing.kid)]

    @classmethod
    def from_files(cls, newest: Path, previous: Sequence[Path] = ()) -> StaticKeys:
        return cls(load_private_key(newest), [load_private_key(path) for path in previous])

    def signing_key(self) -> SigningKey:
        return self._signing

    def published(self) -> Sequence[SigningKey]:
        return self._published


@dataclass(frozen=True)
class _KeyFile:
    path: Path
    modified: float
    key: SigningKey


def _key_paths(directory: Path) -> list[Path]:
    return sorted(path for path in directory.glob("*.pem") if path.is_file())


class KeyDirectory:
    """The ``*.pem`` files of a directory, re-read at most every ``reload_seconds``."""

    def __init__(
        self,
        directory: Path,
        *,
        reload_seconds: float = 10.0,
        activation_seconds: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._directory = directory
        self._reload_seconds, self._activation_seconds, self._clock = reload_seconds, activation_seconds, clock
        self._files: list[_KeyFile] = []
        self._listing: list[tuple[str, float]] | None = None
        self._checked_at = -float("inf")
        self._reload(strict=True)

    def _reload(self, *, strict: bool) -> None:
        self._checked_at = self._clock()
        try:
            paths = _key_paths(self._directory)
            listing = [(path.name, path.stat().st_mtime) for path in paths]
            if listing == self._listing:
                return
            if not paths:
                raise ValueError(f"no *.pem signing keys in {self._directory}: run `python -m auth rotate-key`")
            files = [
                _KeyFile(path, modified, SigningKey.of(load_private_key(path)))
                for path, (_, modified) in zip(paths, listing, strict=True)
            ]
        except (OSError, ValueError, TypeError, UnsupportedAlgorithm) as error:  # what a bad file raises
            if strict:
                raise
            log.warning("keeping the signing keys loaded before: reading %s failed: %s", self._directory, error)
            return
        self._files, self._listing = files, listing
        log.info("signing keys from %s: %s", self._directory, ", ".join(f"{f.path.name} ({f.key.kid})" for f in files))

    def _current(self) -> list[_KeyFile]:
        if self._clock() - self._checked_at >= self._reload_seconds:
            self._reload(strict=False)
        return self._files

    def signing_key(self) -> SigningKey:
        files = self._current()
        settled = [file for file in files if self._clock() - file.modified >= self._activation_seconds]
        # a fresh directory has no settled key yet: its oldest signs rather than nothing
        return (settled[-1] if settled else files[0]).key

    def published(self) -> Sequence[SigningKey]:
        signing = self.signing_key()
        return [signing, *(file.key for file in reversed(self._files) if file.key.kid != signing.kid)]


def write_new_key(directory: Path, *, now: datetime | None = None) -> Path:
    """A new key in ``directory``, named by the UTC time so it sorts after every earlier one."""
    directory.mkdir(parents=True, exist_ok=True)
    name = f"{(now or datetime.now(UTC)):%Y%m%dT%H%M%S%fZ}.pem"
    later = [path.name for path in _key_paths(directory) if path.name >= name]
    if later:
        raise ValueError(f"{', '.join(later)} in {directory} would sort after the new key {name}: rename it")
    path = directory / name
    partial = directory / f".{name}.partial"  # not *.pem: a reloading service never reads half a key
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(generate_key_pem())
    partial.replace(path)
    return path


def retire_keys(directory: Path, *, unused_for_seconds: float, now: float | None = None) -> list[Path]:
    """Move into ``retired/`` the keys replaced by a newer one more than ``unused_for_seconds`` ago.

    A key is replaced when the next one by name appears; it goes on verifying the tokens it
    signed, so ``unused_for_seconds`` must exceed the activation delay plus the token lifetime.
    The two newest keys are never retired.
    """
    now = time.time() if now is None else now
    paths = _key_paths(directory)
    retired = []
    for path, successor in itertools.pairwise(paths[:-1]):
        if now - successor.stat().st_mtime > unused_for_seconds:
            (directory / RETIRED).mkdir(mode=0o700, exist_ok=True)
            retired.append(path.replace(directory / RETIRED / path.name))
    return retired
