"""Make a client-supplied file name safe to store, show and send back: one sanitizer, used by
every route that accepts a name (multipart, tus metadata) and by the notifier's headers.

A name travels into JSON, HTML, email headers and Content-Disposition, and is shown to people.
So beyond path separators and reserved characters it loses everything that can break a line
or hide what a person reads: control characters (C0, DEL, C1 with U+0085 NEXT LINE), the
Unicode line and paragraph separators (U+2028, U+2029), and format characters (bidi embeddings,
overrides and isolates such as U+202E, zero-width spaces and joiners, the BOM, soft hyphens).
Other spaces become a plain space.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import PurePosixPath

__all__ = ["sanitize_filename", "sanitize_text"]

_RESERVED = re.compile(r'[<>:"/\\|?*]')
_MAX_LENGTH = 200

# Unicode general categories: Cc control, Zl line separator, Zp paragraph separator (each
# becomes "_", as a visible trace); Cf format (invisible: removed); Cs lone surrogates (not
# encodable as UTF-8: removed); Zs spaces (a plain space)
_REPLACED = frozenset({"Cc", "Zl", "Zp"})
_REMOVED = frozenset({"Cf", "Cs"})


def sanitize_text(text: str) -> str:
    """``text`` in NFC with no character that breaks a line or hides what is shown."""
    kept = []
    for char in unicodedata.normalize("NFC", text):
        category = unicodedata.category(char)
        if category in _REPLACED:
            kept.append("_")
        elif category == "Zs":
            kept.append(" ")
        elif category not in _REMOVED:
            kept.append(char)
    return "".join(kept)


def sanitize_filename(name: str | None, default: str = "video") -> str:
    """The last path component of ``name``, made safe by ``sanitize_text``, without reserved
    characters and at most 200 characters long (keeping the extension).

    ``../../etc/passwd`` becomes ``passwd``; ``C:\\clips\\a.mp4`` becomes ``a.mp4``;
    ``a\\u202egnp.mp4`` becomes ``agnp.mp4``; an empty result becomes ``default``.
    """
    if not name:
        return default
    base = PurePosixPath(sanitize_text(name).replace("\\", "/")).name
    base = _RESERVED.sub("_", base).strip(" .")
    if len(base) > _MAX_LENGTH:
        stem, dot, suffix = base.rpartition(".")
        base = f"{stem[: _MAX_LENGTH - len(suffix) - 1]}.{suffix}" if dot and len(suffix) <= 10 else base[:_MAX_LENGTH]
    return base or default
