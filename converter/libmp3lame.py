"""A small typed binding to the system's ``libmp3lame`` (Debian's ``libmp3lame0``), through ctypes.

It is the library ``ffmpeg -c:a libmp3lame`` links, and it is set up here exactly as ffmpeg
sets it up (libavcodec's ``libmp3lame.c``): LAME's own default quality (``-q 3``: ffmpeg calls
no ``lame_set_quality`` unless asked), joint stereo, the bit reservoir, no LAME-written Xing
frame (``converter.xing`` writes it), planar float samples. ffmpeg multiplies the floats by
32768 and calls ``lame_encode_buffer_float``; here ``lame_encode_buffer_ieee_float`` takes them
as they are and LAME multiplies by 32767 in the input copy it makes anyway (a 0.0003 dB
difference, so the frames are not bit for bit ffmpeg's, at the same cost). LAME's own
``scale`` setting would make them so in CBR, but in VBR it also moves LAME's hearing
threshold by the same factor (``apply_vbr_preset``) and the encoder hears silence.

ctypes releases the GIL around every call, so the encoder thread runs beside the decoder.
Nothing is loaded at import: ``load`` opens the library on first use (cached per name).
"""

from __future__ import annotations

import ctypes
from functools import cache

import av

__all__ = ["DEFAULT_LIBRARY", "LameLibrary", "LameUnavailable", "SystemLameEncoder", "load"]

DEFAULT_LIBRARY = "libmp3lame.so.0"
"""The soname Debian's ``libmp3lame0`` installs (found on the loader's usual path)."""

# lame.h's values
_JOINT_STEREO, _MONO = 1, 3
_VBR_OFF, _VBR_MTRH = 0, 4  # vbr_mtrh is vbr_default: what `lame -V` and ffmpeg's -q:a use
# the output buffer's size at first, in samples of input (it grows for longer frames)
_BLOCK = 4096

_Handle = ctypes.c_void_p
_Silent = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_void_p)


class LameUnavailable(RuntimeError):
    """The system libmp3lame cannot be loaded (not installed, or not the LAME API)."""


class LameLibrary:
    """The loaded shared library, its functions typed."""

    def __init__(self, name: str) -> None:
        try:
            lib = ctypes.CDLL(name)
        except OSError as error:
            raise LameUnavailable(f"cannot load {name}: {error}") from error
        try:
            _declare(lib)
        except AttributeError as error:
            raise LameUnavailable(f"{name} is not libmp3lame: {error}") from error
        self.name = name
        self.lib = lib
        self.version: str = (lib.get_lame_version() or b"?").decode()
        # LAME prints its errors and notes unless given a function: drop them, as lameenc does
        self._silent = _Silent(_ignore)

    def open(self) -> int:
        handle: int | None = self.lib.lame_init()
        if not handle:
            raise MemoryError("lame_init failed")
        for setter in (self.lib.lame_set_errorf, self.lib.lame_set_debugf, self.lib.lame_set_msgf):
            setter(handle, self._silent)
        return handle


def _ignore(_format: bytes | None, _arguments: int | None) -> None:
    return None


def _declare(lib: ctypes.CDLL) -> None:
    int_setters = (
        "lame_set_num_channels",
        "lame_set_in_samplerate",
        "lame_set_out_samplerate",
        "lame_set_mode",
        "lame_set_VBR",
        "lame_set_brate",
        "lame_set_bWriteVbrTag",
        "lame_set_disable_reservoir",
    )
    for name in int_setters:
        function = getattr(lib, name)
        function.argtypes, function.restype = [_Handle, ctypes.c_int], ctypes.c_int
    lib.lame_set_VBR_quality.argtypes, lib.lame_set_VBR_quality.restype = [_Handle, ctypes.c_float], ctypes.c_int
    for name in ("lame_set_errorf", "lame_set_debugf", "lame_set_msgf"):
        function = getattr(lib, name)
        function.argtypes, function.restype = [_Handle, _Silent], ctypes.c_int
    lib.lame_init.argtypes, lib.lame_init.restype = [], _Handle
    lib.lame_init_params.argtypes, lib.lame_init_params.restype = [_Handle], ctypes.c_int
    lib.lame_close.argtypes, lib.lame_close.restype = [_Handle], ctypes.c_int
    lib.get_lame_version.argtypes, lib.get_lame_version.restype = [], ctypes.c_char_p
    lib.lame_encode_buffer_ieee_float.argtypes = [
        _Handle,
        ctypes.c_void_p,  # const float pcm_l[], -1..1
        ctypes.c_void_p,  # const float pcm_r[] (NULL for mono)
        ctypes.c_int,
        ctypes.c_void_p,  # unsigned char *mp3buf
        ctypes.c_int,
    ]
    lib.lame_encode_buffer_ieee_float.restype = ctypes.c_int
    lib.lame_encode_flush.argtypes = [_Handle, ctypes.c_void_p, ctypes.c_int]
    lib.lame_encode_flush.restype = ctypes.c_int


def _out_bytes(samples: int) -> int:
    """lame.h: the MP3 bytes ``samples`` samples can make, at worst (and a flush fits 7200)."""
    return samples * 5 // 4 + 7200


@cache
def load(name: str = DEFAULT_LIBRARY) -> LameLibrary:
    """The library by soname or path; ``LameUnavailable`` if it cannot be used."""
    return LameLibrary(name)


class SystemLameEncoder:
    """PCM (planar float, frames of any length: the output buffer grows to fit) in, MP3 frames out, as ffmpeg
    encodes. LAME buffers what it needs, so decoded frames can be handed over as they come."""

    sample_format = "fltp"
    block_samples: int | None = None

    def __init__(
        self, library: LameLibrary, rate: int, channels: int, *, bitrate_kbps: int | None, vbr_quality: int | None
    ) -> None:
        lib = library.lib
        self._lib = lib
        self._channels = channels
        self._handle: int | None = library.open()
        handle = self._handle
        lib.lame_set_num_channels(handle, channels)
        lib.lame_set_mode(handle, _JOINT_STEREO if channels > 1 else _MONO)
        lib.lame_set_in_samplerate(handle, rate)
        lib.lame_set_out_samplerate(handle, rate)
        if vbr_quality is not None:
            lib.lame_set_VBR(handle, _VBR_MTRH)
            lib.lame_set_VBR_quality(handle, float(vbr_quality))
        elif bitrate_kbps is not None:
            lib.lame_set_VBR(handle, _VBR_OFF)
            lib.lame_set_brate(handle, bitrate_kbps)
        lib.lame_set_bWriteVbrTag(handle, 0)
        lib.lame_set_disable_reservoir(handle, 0)
        if lib.lame_init_params(handle) < 0:
            self.close()
            raise ValueError(f"LAME refused {rate} Hz, {channels} channels, {bitrate_kbps} kbit/s, V{vbr_quality}")
        self._out = ctypes.create_string_buffer(_out_bytes(_BLOCK))

    def encode(self, frame: av.AudioFrame) -> bytes:
        samples = frame.samples
        if _out_bytes(samples) > len(self._out):
            self._out = ctypes.create_string_buffer(_out_bytes(samples))
        planes = frame.planes
        left = planes[0].buffer_ptr
        right = planes[1].buffer_ptr if self._channels > 1 else None
        written = self._lib.lame_encode_buffer_ieee_float(self._live(), left, right, samples, self._out, len(self._out))
        return self._result(written)

    def flush(self) -> bytes:
        written = self._lib.lame_encode_flush(self._live(), self._out, len(self._out))
        result = self._result(written)
        self.close()
        return result

    def close(self) -> None:
        if self._handle is not None:
            self._lib.lame_close(self._handle)
            self._handle = None

    def __del__(self) -> None:
        self.close()

    def _live(self) -> int:
        if self._handle is None:
            raise RuntimeError("the encoder is closed")
        return self._handle

    def _result(self, written: int) -> bytes:
        if written < 0:
            raise RuntimeError(f"LAME failed to encode (error {written})")
        # a copy of the bytes out of the buffer (string_at is a foreign call: it would let the GIL go)
        return bytes(memoryview(self._out)[:written])
