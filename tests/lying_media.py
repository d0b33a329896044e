"""Test inputs for the media limits: FLAC files that state one duration and hold another."""

from __future__ import annotations

import io
import math
import struct
from array import array

import av

__all__ = ["flac"]

_TOTAL_SAMPLES = (1 << 36) - 1  # the low 36 bits of STREAMINFO's third 64-bit word


def flac(seconds: int, *, stated_seconds: float | None = None, rate: int = 8000) -> bytes:
    """``seconds`` of a mono tone as FLAC, written in a second or two; its STREAMINFO states
    ``stated_seconds`` instead when given (0: no duration stated), as a forged file would."""
    tone = array("h", [int(8000 * math.sin(2 * math.pi * 440 * n / rate)) for n in range(rate)]).tobytes()
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="flac") as output:
        stream = output.add_stream("flac", rate=rate, layout="mono")
        for second in range(seconds):
            frame = av.AudioFrame(format="s16", layout="mono", samples=rate)
            frame.planes[0].update(tone)
            frame.sample_rate, frame.pts = rate, second * rate
            for packet in stream.encode(frame):
                output.mux(packet)
        for packet in stream.encode(None):
            output.mux(packet)
    data = bytearray(buffer.getvalue())
    if stated_seconds is not None:
        # "fLaC", a 4-byte block header, then STREAMINFO: total samples end its bytes 10-17
        (word,) = struct.unpack(">Q", data[18:26])
        data[18:26] = struct.pack(">Q", (word & ~_TOTAL_SAMPLES) | round(stated_seconds * rate))
    return bytes(data)
