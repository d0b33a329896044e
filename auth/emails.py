"""The one place an email address is put in its canonical form, before it is stored, looked
up, or counted against (lockouts are keyed by it)."""

from __future__ import annotations

import unicodedata
from typing import Annotated, Any

from pydantic import BeforeValidator

__all__ = ["Email", "Normalized", "normalize_email"]


def normalize_email(email: str) -> str:
    """Unicode NFKC (full-width and other compatibility forms to their plain letters), surrounding
    white space of any kind removed, lower case: ``" \\uff23arol@Example.COM\\u00a0"`` (a
    full-width C, a no-break space) is ``carol@example.com``."""
    return unicodedata.normalize("NFKC", email).strip().lower()


def _normalized_if_text(value: Any) -> Any:
    return normalize_email(value) if isinstance(value, str) else value


Normalized = BeforeValidator(_normalized_if_text)
"""Put on a request field holding an email: normalized before it is validated."""
Email = Annotated[str, Normalized]
