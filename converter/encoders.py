"""MP3 encoders behind one small interface, chosen at run time.

``lameenc`` is a wheel with its own optimized LAME build; it encodes about three times faster
than the libmp3lame bundled in the ``av`` wheel, which stays as the fallback when lameenc is not
installed. Both take PCM in large blocks (lameenc) or codec frames (PyAV) and return raw MP3
frames: a CBR MP3 file is nothing more than those frames one after another.

Both run LAME at its default quality (``-q 3``), as ``ffmpeg -c:a libmp3lame`` does, in CBR at
a bitrate or in VBR (LAME's default "new" VBR) at a quality V0-V9. Neither writes a Xing frame:
``converter.xing`` does, for both.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Collection
from typing import Literal, Protocol

import av

__all__ = [
    "ENGINES",
    "EngineChoice",
    "EngineName",
    "EngineUnavailable",
    "Mp3Encoder",
    "choose_engine",
    "installed_engines",
    "open_encoder",
]

EngineName = Literal["lameenc", "pyav"]
EngineChoice = Literal["auto", "lameenc", "pyav"]

ENGINES: tuple[EngineName, ...] = ("lameenc", "pyav")
"""Every engine, the preferred first."""

_LAME_QUALITY = 3
_LAME_VBR_MTRH = 4  # lame.h's vbr_mtrh, which is vbr_default: what `lame -V` uses
_FF_QP2LAMBDA = 118  # FFmpeg's scale of global_quality: libmp3lame takes V as global_quality / 118
# samples per lameenc call: ~0.8 s at 44.1 kHz, so the per-call Python cost is negligible
_LAME_BLOCK = 1152 * 32


class EngineUnavailable(RuntimeError):
    """The MP3 encoder asked for is not installed."""


class Mp3Encoder(Protocol):
    """Turns PCM frames of ``sample_format``, ``block_samples`` long (the last may be shorter), into MP3."""

    @property
    def sample_format(self) -> str: ...

    @property
    def block_samples(self) -> int: ...

    def encode(self, frame: av.AudioFrame) -> bytes: ...

    def flush(self) -> bytes: ...


def installed_engines() -> frozenset[EngineName]:
    found: set[EngineName] = set()
    if importlib.util.find_spec("lameenc") is not None:
        found.add("lameenc")
    if "libmp3lame" in av.codecs_available:
        found.add("pyav")
    return frozenset(found)


def choose_engine(choice: EngineChoice, installed: Collection[EngineName]) -> EngineName:
    """``auto`` is the preferred installed engine; a named one must be installed."""
    if choice != "auto":
        if choice not in installed:
            raise EngineUnavailable(f"the {choice} MP3 encoder is not installed")
        return choice
    for name in ENGINES:
        if name in installed:
            return name
    raise EngineUnavailable("no MP3 encoder is installed: install lameenc, or an av wheel built with libmp3lame")


def open_encoder(
    engine: EngineName, rate: int, channels: int, *, bitrate_kbps: int | None, vbr_quality: int | None = None
) -> Mp3Encoder:
    """An encoder at ``bitrate_kbps`` (CBR), or at ``vbr_quality`` (VBR) when that is given."""
    if vbr_quality is None and bitrate_kbps is None:
        raise ValueError("an MP3 encoder needs a bitrate or a VBR quality")
    if engine == "lameenc":
        return _Lame(rate, channels, bitrate_kbps, vbr_quality)
    return _PyAVLame(rate, channels, bitrate_kbps, vbr_quality)


class _Lame:
    sample_format = "s16"
    block_samples = _LAME_BLOCK

    def __init__(self, rate: int, channels: int, bitrate_kbps: int | None, vbr_quality: int | None) -> None:
        import lameenc

        self._frame_bytes = 2 * channels
        self._lame = lameenc.Encoder()
        self._lame.set_in_sample_rate(rate)
        self._lame.set_out_sample_rate(rate)
        self._lame.set_channels(channels)
        if vbr_quality is not None:
            self._lame.set_vbr(_LAME_VBR_MTRH)
            self._lame.set_vbr_quality(vbr_quality)
        elif bitrate_kbps is not None:
            self._lame.set_bit_rate(bitrate_kbps)
        self._lame.set_quality(_LAME_QUALITY)
        self._lame.silence()

    def encode(self, frame: av.AudioFrame) -> bytes:
        # lameenc takes only bytes; the plane may be padded past the samples
        pcm = bytes(memoryview(frame.planes[0])[: frame.samples * self._frame_bytes])
        return bytes(self._lame.encode(pcm))

    def flush(self) -> bytes:
        return bytes(self._lame.flush())


class _PyAVLame:
    sample_format = "fltp"

    def __init__(self, rate: int, channels: int, bitrate_kbps: int | None, vbr_quality: int | None) -> None:
        context = av.CodecContext.create("libmp3lame", "w")
        assert isinstance(context, av.AudioCodecContext)
        context.sample_rate = rate
        context.layout = "mono" if channels == 1 else "stereo"
        context.format = self.sample_format
        if vbr_quality is not None:
            context.qscale = True
            context.global_quality = vbr_quality * _FF_QP2LAMBDA
        elif bitrate_kbps is not None:
            context.bit_rate = bitrate_kbps * 1000
        context.open()
        self._context = context
        self.block_samples: int = context.frame_size

    def encode(self, frame: av.AudioFrame) -> bytes:
        return b"".join(bytes(packet) for packet in self._context.encode(frame))

    def flush(self) -> bytes:
        return b"".join(bytes(packet) for packet in self._context.encode(None))
