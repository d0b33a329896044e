"""MPEG audio layer III frame headers and the stream-copy rule. Pure: no PyAV, no I/O.

The rule: MP3 audio is copied as it is, not re-encoded, when its first frame declares the
requested bitrate and the stream's declared average bitrate is within 1 % of it (a VBR stream
whose first frame happens to match averages elsewhere). An unknown average means re-encode:
re-encoding is always correct, copying only when the result is what the job asked for, a
constant-bitrate MP3 at ``bitrate_kbps``. Sample rate and channels do not matter: any MP3 is
a valid MP3 output.
"""

from __future__ import annotations

__all__ = ["copies_as_is", "frame_bitrate_kbps"]

# bitrate index 1..14 of layer III, per MPEG version (index 0 is "free format", 15 is invalid)
_MPEG1_KBPS = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
_MPEG2_KBPS = (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)

_MPEG1, _RESERVED_VERSION, _LAYER_3 = 0b11, 0b01, 0b01
_AVERAGE_TOLERANCE = 0.01


def frame_bitrate_kbps(frame: bytes) -> int | None:
    """The bitrate the layer III frame header at the start of ``frame`` declares.

    ``None`` when ``frame`` does not start with such a header, or declares free format.
    """
    if len(frame) < 4 or frame[0] != 0xFF or frame[1] & 0xE0 != 0xE0:
        return None
    version, layer, index = (frame[1] >> 3) & 0b11, (frame[1] >> 1) & 0b11, frame[2] >> 4
    if version == _RESERVED_VERSION or layer != _LAYER_3 or not 0 < index < 15:
        return None
    return (_MPEG1_KBPS if version == _MPEG1 else _MPEG2_KBPS)[index]


def copies_as_is(first_frame: bytes, declared_bit_rate: int | None, bitrate_kbps: int) -> bool:
    """Whether MP3 audio starting with ``first_frame`` can be copied for a job asking ``bitrate_kbps``.

    ``declared_bit_rate`` is the stream's average in bit/s as the container states it.
    """
    if frame_bitrate_kbps(first_frame) != bitrate_kbps or not declared_bit_rate:
        return False
    wanted = bitrate_kbps * 1000
    return abs(declared_bit_rate - wanted) <= wanted * _AVERAGE_TOLERANCE
