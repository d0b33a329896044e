"""The Xing/Info header: the first frame of an MP3 that tells players its length.

Without it a player estimates a VBR file's duration from the first frame's bitrate (wrong,
often by minutes) and cannot seek in it. LAME and ffmpeg write it for CBR too (then named
``Info``), with LAME's extension saying how many samples of encoder delay and padding to drop,
so the decoded length is exactly the source's.

The output is streamed, so the header cannot be known when it has to be written: a frame of
the right size is reserved first and rewritten once the last frame has passed through
``FrameIndex``, which counts frames and bytes and keeps enough frame offsets for the
100-entry seek table (TOC) in a bounded array. Pure: no PyAV, no I/O.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass

from converter.mp3 import (
    bitrate_index,
    bitrates,
    frame_info,
    frame_length,
    sample_rate_index,
    side_info_size,
    version_bits,
)

__all__ = ["ENCODER_DELAY", "FrameIndex", "Lame", "TagFrame", "reserve"]

ENCODER_DELAY = 576
"""Samples of silence LAME puts before the audio (both engines are LAME 3.100 at in = out rate)."""

_FRAMES, _BYTES, _TOC, _QUALITY = 0x1, 0x2, 0x4, 0x8
_XING_SIZE = 4 + 4 + 4 + 4 + 100 + 4  # id, flags, frames, bytes, TOC, quality
_LAME_SIZE = 36
_LAME_VERSION = b"LAME3.100"
_MAX_OFFSETS = 4096  # frame offsets kept for the TOC: 32 KB, however long the stream


@dataclass(frozen=True)
class Lame:
    """What LAME's extension of the tag says about an encoded stream."""

    samples: int
    """Samples per channel fed to the encoder: the decoded length after delay and padding."""
    vbr_quality: int | None
    bitrate_kbps: int | None


@dataclass(frozen=True)
class TagFrame:
    """A reserved header frame: its size and the bitrate its header declares."""

    size: int
    bitrate_kbps: int
    sample_rate: int
    mono: bool

    def placeholder(self) -> bytes:
        """What is written first: a Xing frame stating nothing, which players skip, so the
        file stays correct if the real tag can never be written (frames that do not parse)."""
        frame = _header(b"", self) + bytes(side_info_size(self.sample_rate, self.mono)) + b"Xing"
        return frame + bytes(self.size - len(frame))


def reserve(sample_rate: int, mono: bool, bitrate_kbps: int | None, *, lame: bool = True) -> TagFrame:
    """The header frame for a stream: at the stream's bitrate if CBR (so every frame has the
    same size, as CBR seeking assumes) and it holds the tag, else the smallest that does."""
    needed = 4 + side_info_size(sample_rate, mono) + _XING_SIZE + (_LAME_SIZE if lame else 0)
    choices = [bitrate_kbps] if bitrate_kbps is not None else []
    for kbps in [*choices, *bitrates(sample_rate)]:
        if frame_length(sample_rate, kbps) >= needed:
            return TagFrame(frame_length(sample_rate, kbps), kbps, sample_rate, mono)
    raise ValueError(f"no layer III frame at {sample_rate} Hz holds a Xing tag")  # cannot happen: 320k frames do


class FrameIndex:
    """Counts the MP3 frames of a stream written in arbitrary pieces.

    ``valid`` turns false if the bytes stop being back-to-back layer III frames (then no tag
    is written: a wrong one is worse than none).
    """

    def __init__(self) -> None:
        self.frames = 0
        self.bytes = 0
        self.valid = True
        self.samples_per_frame = 0
        self.first_header = b""
        self._bitrates: set[int] = set()
        self._offsets = array("Q")
        self._stride = 1
        self._skip = 0  # bytes of the current frame still to come
        self._partial = b""  # the start of a header split between two pieces

    @property
    def constant_bitrate(self) -> int | None:
        """The bitrate of every frame, if they all share one."""
        return next(iter(self._bitrates)) if len(self._bitrates) == 1 else None

    def feed(self, data: bytes) -> None:
        if not self.valid or not data:
            return
        start = self.bytes - len(self._partial)  # stream offset of data[0]
        if self._partial:
            data = self._partial + data
            self._partial = b""
        self.bytes = start + len(data)
        position = self._skip
        end = len(data)
        while position < end:
            if position + 4 > end:
                self._partial = data[position:]
                self._skip = 0
                return
            info = frame_info(data, position)
            if info is None:
                self.valid = False
                return
            if self.frames % self._stride == 0:
                self._offsets.append(start + position)
                if len(self._offsets) >= _MAX_OFFSETS:
                    self._offsets = self._offsets[::2]
                    self._stride *= 2
            if not self.frames:
                self.first_header = bytes(data[position : position + 4])
                self.samples_per_frame = info.samples
            self.frames += 1
            self._bitrates.add(info.bitrate_kbps)
            position += info.length
        self._skip = position - end

    def complete(self) -> bool:
        """Whether the stream ends at a frame boundary (no frame cut short)."""
        return self.valid and self.frames > 0 and self._skip == 0 and not self._partial

    def toc(self, head: int) -> bytes:
        """The 100-entry seek table: where each percent of the duration starts, in 256ths of
        the stream's bytes (``head`` of them before the first frame, the tag frame's)."""
        total = head + self.bytes
        entries = []
        for percent in range(100):
            frame = percent * self.frames // 100
            offset = self._offsets[min(frame // self._stride, len(self._offsets) - 1)]
            entries.append(min(255, (head + offset) * 256 // total))
        return bytes(entries)

    def tag(self, reserved: TagFrame, lame: Lame | None) -> bytes | None:
        """The header frame to put in the reserved place, or ``None`` if the frames cannot be
        counted (then the placeholder stays)."""
        if not self.complete():
            return None
        header = _header(self.first_header, reserved)
        side = bytes(side_info_size(reserved.sample_rate, reserved.mono))
        cbr = self.constant_bitrate is not None and (lame is None or lame.vbr_quality is None)
        xing = b"".join(
            [
                b"Info" if cbr else b"Xing",
                (_FRAMES | _BYTES | _TOC | _QUALITY).to_bytes(4, "big"),
                self.frames.to_bytes(4, "big"),
                (reserved.size + self.bytes).to_bytes(4, "big"),
                self.toc(reserved.size),
                _quality(lame).to_bytes(4, "big"),
            ]
        )
        frame = header + side + xing
        if lame is not None:
            frame += self._lame_extension(frame, reserved, lame)
        return frame + bytes(reserved.size - len(frame))

    def _lame_extension(self, before: bytes, reserved: TagFrame, lame: Lame) -> bytes:
        padding = self.frames * self.samples_per_frame - ENCODER_DELAY - lame.samples
        delays = ENCODER_DELAY << 12 | padding if 0 <= padding < 4096 else 0
        method = 1 if lame.vbr_quality is None else 4  # CBR, or VBR new (mtrh), as LAME numbers them
        body = b"".join(
            [
                _LAME_VERSION,
                bytes([method]),
                bytes(1 + 4 + 2 + 2 + 1),  # lowpass, peak, replay gains, flags: unknown, left zero
                bytes([min(255, lame.bitrate_kbps or 0)]),
                delays.to_bytes(3, "big"),
                bytes(1 + 1 + 2),  # misc, MP3 gain, preset: unknown
                (reserved.size + self.bytes).to_bytes(4, "big"),
                bytes(2),  # CRC of the audio data: not computed (no reader checks it)
            ]
        )
        return body + _crc16(before + body).to_bytes(2, "big")


def _header(first: bytes, reserved: TagFrame) -> bytes:
    """A header like the stream's first (version, rate, channel mode) at the reserved bitrate,
    without CRC or padding."""
    second = 0xE0 | version_bits(reserved.sample_rate) << 3 | 0b01 << 1 | 1  # layer III, no CRC
    third = (
        bitrate_index(reserved.sample_rate, reserved.bitrate_kbps) << 4 | sample_rate_index(reserved.sample_rate) << 2
    )
    # channel mode (+ extension) as the stream's; before it is known, mono or joint stereo as LAME makes
    fourth = first[3] & 0xF0 if first else (0xC0 if reserved.mono else 0x40)
    return bytes([0xFF, second, third, fourth])


def _quality(lame: Lame | None) -> int:
    """LAME's "VBR scale": 100 - 10 * V - q (q = 3 here; V = 4, LAME's default, for CBR)."""
    quality = 4 if lame is None or lame.vbr_quality is None else lame.vbr_quality
    return 100 - 10 * quality - 3


def _crc16(data: bytes) -> int:
    """CRC-16/ARC (polynomial 0x8005, reflected), as LAME checksums its tag."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc
