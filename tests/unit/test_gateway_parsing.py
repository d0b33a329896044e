"""Streaming multipart parsing and file-name sanitizing of the gateway."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from gateway.filenames import sanitize_filename
from gateway.multipart import MultipartError, PartEnd, PartStart, read_multipart

BOUNDARY = "b0undary"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


def body(*parts: tuple[str, str | None, bytes]) -> bytes:
    out = b""
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + data + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


async def in_chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def collect(data: bytes, size: int, content_type: str = CONTENT_TYPE) -> list[PartStart | bytes | PartEnd]:
    return [item async for item in read_multipart(in_chunks(data, size), content_type)]


@pytest.mark.parametrize("chunk_size", [1, 7, 64, 100_000])
async def test_parts_come_through_whatever_the_chunking(chunk_size: int) -> None:
    video = bytes(range(256)) * 40
    items = await collect(body(("bitrate_kbps", None, b"128"), ("file", "clip – été.mp4", video)), chunk_size)

    starts = [item for item in items if isinstance(item, PartStart)]
    assert [(s.name, s.filename) for s in starts] == [("bitrate_kbps", None), ("file", "clip – été.mp4")]
    file_index = items.index(starts[1])
    assert b"".join(i for i in items[file_index:] if isinstance(i, bytes)) == video
    assert sum(isinstance(item, PartEnd) for item in items) == 2


async def test_a_truncated_body_is_an_error() -> None:
    data = body(("file", "clip.mp4", b"x" * 1000))
    with pytest.raises(MultipartError):
        await collect(data[:-30], 100)


async def test_a_non_multipart_body_is_an_error() -> None:
    with pytest.raises(MultipartError):
        await collect(b"{}", 10, content_type="application/json")


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("holiday.mp4", "holiday.mp4"),
        ("../../etc/passwd", "passwd"),
        ("C:\\clips\\a.mp4", "a.mp4"),
        ("bad\x00name\r\n.mp4", "bad_name__.mp4"),
        ('quote"and<angle>.mov', "quote_and_angle_.mov"),
        ("été à Zürich.mp4", "été à Zürich.mp4"),
        ("..", "video"),
        ("", "video"),
        (None, "video"),
        ("a" * 300 + ".mp4", "a" * 196 + ".mp4"),
        ("line\u2028para\u2029next\u0085.mp4", "line_para_next_.mp4"),
        ("\u202eevil\u202d\u202a\u202b\u202c\u2066\u2067\u2068\u2069.mp4", "evil.mp4"),
        ("zero\u200b\u200c\u200d\u2060\ufeff\u00adwidth.mp4", "zerowidth.mp4"),
        ("no\u00a0break\u3000space.mp4", "no break space.mp4"),
        ("\u202e\u200b", "video"),
    ],
)
def test_file_names_are_made_safe(raw: str | None, safe: str) -> None:
    assert sanitize_filename(raw) == safe
