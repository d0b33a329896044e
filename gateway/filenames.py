"""Make a client-supplied file name safe to store, show and send back."""

from __future__ import annotations

import re
import unicodedata
from pathlib import PurePosixPath

__all__ = ["sanitize_filename"]

_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')
_MAX_LENGTH = 200


def sanitize_filename(name: str | None, default: str = "video") -> str:
    """The last path component of ``name`` without control or reserved characters.

    ``../../etc/passwd`` becomes ``passwd``; ``C:\\clips\\a.mp4`` becomes ``a.mp4``; an empty
    result becomes ``default``.
    """
    if not name:
        return default
    name = unicodedata.normalize("NFC", name).replace("\\", "/")
    base = PurePosixPath(name).name
    base = _UNSAFE.sub("_", base).strip(" .")
    if len(base) > _MAX_LENGTH:
        stem, dot, suffix = base.rpartition(".")
        base = f"{stem[: _MAX_LENGTH - len(suffix) - 1]}.{suffix}" if dot and len(suffix) <= 10 else base[:_MAX_LENGTH]
    return base or default
