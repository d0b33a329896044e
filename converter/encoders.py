"""MP3 encoders behind one small interface, chosen once at start-up.

Three builds of the same LAME 3.100, preferred in this order:

- ``system``: the system's ``libmp3lame`` (Debian's ``libmp3lame0``, the one ``ffmpeg`` links),
  through ``converter.libmp3lame``, set up as ffmpeg sets it up: it costs what ffmpeg's
  encoder costs on every kind of signal.
- ``lameenc``: the wheel's own LAME, kept as the fallback where the system library is missing.
  Its API cannot ask for joint stereo, so LAME encodes plain stereo (ffmpeg asks for joint
  stereo). At the same channel mode the two builds cost the same (within 10 %, measured on
  four signals); the mode is what differs: joint stereo costs a third less where the
  channels are alike (a mono recording in a stereo track) and a tenth more where they differ,
  so lameenc's cost against ffmpeg's depends on the signal (1.5x on a tone under noise in
  both channels). Not its build: both are optimized builds (their machine code shows it).
- ``pyav``: the LAME inside the ``av`` wheel, whose machine code is unoptimized (-O0 style,
  every local on the stack), about three times slower; the last resort.

All run LAME at its default quality (``-q 3``, what ``ffmpeg -c:a libmp3lame`` uses when not told
otherwise), in CBR at a bitrate or in VBR (LAME's default "new" VBR) at a quality V0-V9, with
the bit reservoir. None writes a Xing frame: ``converter.xing`` does, for all.

Which engine runs is decided by ``pick_engine`` (``auto``: the first of those that loads) and
logged; the service exports it as a metric too.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Literal, Protocol

import av

from converter.libmp3lame import DEFAULT_LIBRARY, LameUnavailable, SystemLameEncoder, load

__all__ = [
    "DEFAULT_LIBRARY",
    "ENGINES",
    "Engine",
    "EngineChoice",
    "EngineName",
    "EngineUnavailable",
    "Mp3Encoder",
    "Mp3Engine",
    "choose_engine",
    "installed_engines",
    "open_encoder",
    "pick_engine",
]

log = logging.getLogger(__name__)

EngineName = Literal["system", "lameenc", "pyav"]
EngineChoice = Literal["auto", "system", "lameenc", "pyav"]

ENGINES: tuple[EngineName, ...] = ("system", "lameenc", "pyav")
"""Every engine, the preferred first."""

_LAME_QUALITY = 3
_LAME_VBR_MTRH = 4  # lame.h's vbr_mtrh, which is vbr_default: what `lame -V` uses
_FF_QP2LAMBDA = 118  # FFmpeg's scale of global_quality: libmp3lame takes V as global_quality / 118
# samples per lameenc call: ~0.8 s at 44.1 kHz, so the per-call Python cost is negligible
_LAME_BLOCK = 1152 * 32


class EngineUnavailable(RuntimeError):
    """The MP3 encoder asked for is not installed."""


class Mp3Encoder(Protocol):
    """Turns PCM frames of ``sample_format``, ``block_samples`` long (the last may be shorter;
    any length up to a second or so when ``None``), into MP3."""

    @property
    def sample_format(self) -> str: ...

    @property
    def block_samples(self) -> int | None: ...

    def encode(self, frame: av.AudioFrame) -> bytes: ...

    def flush(self) -> bytes: ...


@dataclass(frozen=True)
class Engine:
    """An MP3 encoder that is there to use."""

    name: EngineName
    detail: str = ""
    """What it is, for logs and metrics: the library and LAME's version."""
    library: str | None = field(default=None, compare=False)
    """The system library's name or path (``system`` only)."""

    def open(self, rate: int, channels: int, *, bitrate_kbps: int | None, vbr_quality: int | None) -> Mp3Encoder:
        """An encoder at ``bitrate_kbps`` (CBR), or at ``vbr_quality`` (VBR) when that is given."""
        if vbr_quality is None and bitrate_kbps is None:
            raise ValueError("an MP3 encoder needs a bitrate or a VBR quality")
        if self.name == "system":
            library = load(self.library or DEFAULT_LIBRARY)
            return SystemLameEncoder(library, rate, channels, bitrate_kbps=bitrate_kbps, vbr_quality=vbr_quality)
        if self.name == "lameenc":
            return _Lame(rate, channels, bitrate_kbps, vbr_quality)
        return _PyAVLame(rate, channels, bitrate_kbps, vbr_quality)


Mp3Engine = Engine | EngineChoice
"""An engine already picked, or a choice to pick from (``transcode`` takes either)."""


def _probe(name: EngineName, library: str) -> Engine | str:
    """The engine if it can run here, else why not."""
    if name == "system":
        try:
            loaded = load(library)
        except LameUnavailable as error:
            return str(error)
        return Engine("system", f"{loaded.name}, LAME {loaded.version}", library)
    if name == "lameenc":
        if importlib.util.find_spec("lameenc") is None:
            return "the lameenc package is not installed"
        return Engine("lameenc", "LAME 3.100 inside the lameenc wheel, plain stereo")
    if "libmp3lame" not in av.codecs_available:
        return "the av wheel has no libmp3lame"
    return Engine("pyav", "libmp3lame inside the av wheel")


def installed_engines(library: str = DEFAULT_LIBRARY) -> frozenset[EngineName]:
    """The engines that can run here (``library``: where the system's libmp3lame is)."""
    return frozenset(name for name in ENGINES if isinstance(_probe(name, library), Engine))


def choose_engine(choice: EngineChoice, installed: Collection[EngineName]) -> EngineName:
    """``auto`` is the preferred installed engine; a named one must be installed."""
    if choice != "auto":
        if choice not in installed:
            raise EngineUnavailable(f"the {choice} MP3 encoder is not installed")
        return choice
    for name in ENGINES:
        if name in installed:
            return name
    raise EngineUnavailable(
        "no MP3 encoder is installed: install libmp3lame0 (Debian), lameenc, or an av wheel built with libmp3lame"
    )


def pick_engine(choice: Mp3Engine = "auto", *, library: str = DEFAULT_LIBRARY, announce: bool = False) -> Engine:
    """The engine to use: ``choice`` if named (``EngineUnavailable`` if it cannot run), else
    the first of ``ENGINES`` that can. ``announce`` logs the pick, and why a preferred engine
    was passed over (a warning: the fallback costs more CPU)."""
    if isinstance(choice, Engine):
        return choice
    names = ENGINES if choice == "auto" else (choice,)
    passed_over: list[str] = []
    for name in names:
        probed = _probe(name, library)
        if isinstance(probed, Engine):
            if announce:
                _announce(probed, passed_over)
            return probed
        passed_over.append(f"{name}: {probed}")
    if choice != "auto":
        raise EngineUnavailable(f"the {choice} MP3 encoder cannot be used ({'; '.join(passed_over)})")
    raise EngineUnavailable(
        "no MP3 encoder can be used: install libmp3lame0 (Debian), lameenc, or an av wheel built with libmp3lame "
        f"({'; '.join(passed_over)})"
    )


def _announce(engine: Engine, passed_over: list[str]) -> None:
    if passed_over:
        log.warning("MP3 encoder: %s (%s), falling back: %s", engine.name, engine.detail, "; ".join(passed_over))
    else:
        log.info("MP3 encoder: %s (%s)", engine.name, engine.detail)


def open_encoder(
    engine: EngineName, rate: int, channels: int, *, bitrate_kbps: int | None, vbr_quality: int | None = None
) -> Mp3Encoder:
    """An encoder of ``engine`` (the system library at its default place) at these settings."""
    return Engine(engine).open(rate, channels, bitrate_kbps=bitrate_kbps, vbr_quality=vbr_quality)


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
