"""An incremental multipart/form-data reader: parts stream through, nothing is buffered whole."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

__all__ = ["MultipartError", "PartEnd", "PartStart", "read_multipart"]


class MultipartError(ValueError):
    """The body is not well-formed multipart/form-data."""


@dataclass(frozen=True)
class PartStart:
    name: str
    filename: str | None
    content_type: str | None


@dataclass(frozen=True)
class PartEnd:
    pass


async def read_multipart(chunks: AsyncIterator[bytes], content_type: str) -> AsyncIterator[PartStart | bytes | PartEnd]:
    """Turn a body into ``PartStart``, data ``bytes`` and ``PartEnd`` items, chunk by chunk."""
    media_type, params = parse_options_header(content_type)
    if media_type != b"multipart/form-data" or not params.get(b"boundary"):
        raise MultipartError("expected a multipart/form-data body with a boundary")

    pending: list[PartStart | bytes | PartEnd] = []
    headers: dict[str, bytes] = {}
    field, value = bytearray(), bytearray()
    finished = False

    def on_header_end() -> None:
        # raw bytes: browsers send UTF-8 file names unencoded, whatever RFC 7578 prefers
        headers[field.decode("latin-1").strip().lower()] = bytes(value).strip()
        field.clear()
        value.clear()

    def on_headers_finished() -> None:
        disposition, options = parse_options_header(headers.get("content-disposition", b""))
        if disposition != b"form-data" or b"name" not in options:
            raise MultipartError("every part needs a form-data Content-Disposition with a name")
        filename = options.get(b"filename")
        pending.append(
            PartStart(
                name=options[b"name"].decode("utf-8", "replace"),
                filename=None if filename is None else filename.decode("utf-8", "replace"),
                content_type=headers["content-type"].decode("latin-1") if "content-type" in headers else None,
            )
        )
        headers.clear()

    def on_end() -> None:
        nonlocal finished
        finished = True

    parser = MultipartParser(
        params[b"boundary"],
        {
            "on_header_field": lambda data, start, end: field.extend(data[start:end]),
            "on_header_value": lambda data, start, end: value.extend(data[start:end]),
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": lambda data, start, end: pending.append(bytes(data[start:end])),
            "on_part_end": lambda: pending.append(PartEnd()),
            "on_end": on_end,
        },
    )
    async for chunk in chunks:
        try:
            parser.write(chunk)
        except FormParserError as error:
            raise MultipartError(f"malformed multipart body: {error}") from error
        for item in pending:
            yield item
        pending.clear()
    if not finished:
        raise MultipartError("the multipart body ended before its closing boundary")
