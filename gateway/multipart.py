"""An incremental multipart/form-data reader: parts stream through, nothing is buffered whole.

Everything but the file part is bounded before it is read on (``FormLimits``): how many
fields and their bytes together, so a body of 150,000 small fields is refused within its
first 16 kB, not held in memory and answered with 150,000 errors. Each part's headers are
bounded by the parser itself (8 lines of at most 4 kB: a 400 beyond).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from gateway.body import TooLarge
from gateway.wording import size_words

__all__ = ["FormLimits", "FormTooLarge", "MultipartError", "PartEnd", "PartStart", "read_multipart"]


class MultipartError(ValueError):
    """The body is not well-formed multipart/form-data."""


class FormTooLarge(TooLarge):
    """The form passes one of its ``FormLimits``: 413, said before the rest is read."""


@dataclass(frozen=True)
class FormLimits:
    """What a form may hold besides its file part."""

    max_fields: int = 32
    """Parts other than the file part."""
    max_field_bytes: int = 16 * 1024
    """Their values' bytes, all together."""
    file_field: str = "file"


@dataclass(frozen=True)
class PartStart:
    name: str
    filename: str | None
    content_type: str | None


@dataclass(frozen=True)
class PartEnd:
    pass


async def read_multipart(
    chunks: AsyncIterator[bytes], content_type: str, limits: FormLimits | None = None
) -> AsyncIterator[PartStart | bytes | PartEnd]:
    """Turn a body into ``PartStart``, data ``bytes`` and ``PartEnd`` items, chunk by chunk;
    ``FormTooLarge`` as soon as the parts besides the file pass ``limits``."""
    limits = limits or FormLimits()
    media_type, params = parse_options_header(content_type)
    if media_type != b"multipart/form-data" or not params.get(b"boundary"):
        raise MultipartError("expected a multipart/form-data body with a boundary")

    pending: list[PartStart | bytes | PartEnd] = []
    headers: dict[str, bytes] = {}
    field, value = bytearray(), bytearray()
    finished = False
    fields = field_bytes = 0
    in_field = False

    def on_part_data(data: bytes, start: int, end: int) -> None:
        nonlocal field_bytes
        if in_field:
            field_bytes += end - start
            if field_bytes > limits.max_field_bytes:
                raise FormTooLarge(
                    f"The form's fields hold more than {size_words(limits.max_field_bytes)} together (the file "
                    "does not count): send the video and the conversion options only."
                )
        pending.append(bytes(data[start:end]))

    def on_header_end() -> None:
        # raw bytes: browsers send UTF-8 file names unencoded, whatever RFC 7578 prefers
        headers[field.decode("latin-1").strip().lower()] = bytes(value).strip()
        field.clear()
        value.clear()

    def on_headers_finished() -> None:
        nonlocal fields, in_field
        disposition, options = parse_options_header(headers.get("content-disposition", b""))
        if disposition != b"form-data" or b"name" not in options:
            raise MultipartError("every part needs a form-data Content-Disposition with a name")
        name = options[b"name"].decode("utf-8", "replace")
        in_field = name != limits.file_field
        if in_field:
            fields += 1
            if fields > limits.max_fields:
                raise FormTooLarge(
                    f"The form has more than {limits.max_fields} fields: send the video and the "
                    "conversion options only."
                )
        filename = options.get(b"filename")
        pending.append(
            PartStart(
                name=name,
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
            "on_part_data": on_part_data,
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
