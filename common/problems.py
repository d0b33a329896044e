"""The ``detail`` of a problem, for people: what went wrong and what to do, in plain words.

A service's own errors are raised with such a sentence already. What Litestar raises itself
carries a library's message ("Validation failed for GET /v1/jobs?limit=500", "Expected `int`
<= 100", "JSON is malformed: ... (byte 1)") or only the reason phrase; this module turns those
into sentences, using the words the service gives for each of its inputs. The machine fields
(``errors`` with each field and the library's message) are kept beside them for integrators.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from litestar.exceptions import HTTPException, ValidationException

__all__ = ["BAD_REQUEST", "UNEXPECTED", "FieldWords", "missing_parameter", "plain_detail"]

FieldWords = Mapping[str, str]
"""For each input (by parameter name, header name or body field, any case): what a good value is."""

UNEXPECTED = (
    "Something went wrong on the server's side; it has been logged. Try again in a moment, and "
    "tell the service's operator if it keeps happening."
)
_SOME_INPUT = "Part of the request is not valid: the API documentation (/docs) says what each part takes."
BAD_REQUEST = "The request is not one this service understands: the API documentation (/docs) shows what it takes."
_BY_STATUS: dict[int, str] = {
    400: BAD_REQUEST,
    401: "You need to log in first.",
    403: "Your account may not do this.",
    404: "There is nothing at this address: the API documentation (/docs) lists the addresses there are.",
    406: "This address cannot answer in the format asked for (Accept).",
    413: "The request is larger than this service accepts.",
    415: "The request's body is not in a format this address takes (Content-Type).",
    429: "Too many requests: wait a little, then try again.",
    500: UNEXPECTED,
    502: "A service behind this one did not answer properly; try again in a moment.",
    503: "The service is not available right now; try again in a moment.",
    504: "A service behind this one took too long to answer; try again in a moment.",
}
_MISSING = re.compile(r"Missing required (\w+) parameter '([^']+)'")


def _phrase(status: int) -> str | None:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return None


def missing_parameter(error: HTTPException) -> dict[str, Any] | None:
    """The ``errors`` entry of Litestar's "Missing required header parameter 'X' for path ...",
    which names the parameter in its text only."""
    match = _MISSING.search(str(error.detail))
    if not isinstance(error, ValidationException) or match is None:
        return None
    return {"field": match.group(2), "message": "required", "source": match.group(1)}


def _field_sentences(errors: list[dict[str, Any]], words: FieldWords) -> str:
    known = {name.lower(): sentence for name, sentence in words.items()}
    sentences: list[str] = []
    for error in errors:
        field = error.get("field")
        sentence = known.get(str(field).lower(), _SOME_INPUT) if field else _SOME_INPUT
        if sentence not in sentences:
            sentences.append(sentence)
    return " ".join(sentences)


def plain_detail(error: HTTPException, errors: list[dict[str, Any]] | None, method: str, words: FieldWords) -> str:
    """``error``'s detail if a person can act on it; Litestar's own messages in plain words."""
    detail = str(error.detail or "")
    if isinstance(error, ValidationException):
        return _field_sentences(errors, words) if errors else _BY_STATUS[400]
    if detail.startswith("JSON is malformed"):
        return "The request's body is not valid JSON: check its quotes, commas and brackets."
    if error.status_code == 405 and detail in ("", _phrase(405)):
        return f"This address does not take {method} requests."
    if not detail or detail == _phrase(error.status_code):
        return _BY_STATUS.get(error.status_code, detail or "The request failed.")
    return detail
