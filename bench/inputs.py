"""The benchmark's input videos, made once with ffmpeg's lavfi sources and kept in a cache directory.

Generated here, never downloaded. The 720p cases:

- ``main.mp4``: 1280x720 H.264 (~4.5 Mbit/s) + AAC stereo 44.1 kHz (a tone in one channel,
  pink noise in the other), with the index (moov) at the end, as ffmpeg writes by default
  (~350 MB for 10 minutes);
- ``faststart.mp4``: the same, remuxed with ``-movflags +faststart`` (index first);
- ``mp3-in-mp4.mp4``: the same video with the audio as CBR MP3 at 192 kbit/s;
- ``large.mp4``: the same length at ~13.5 Mbit/s CBR video (~1 GB for 10 minutes), for memory.

The signal matrix (``MATRIX``): one file per kind of audio, so no single signal can flatter an
encoder (LAME's cost depends on the signal: joint stereo is cheap where the channels are
alike, noise is dear), each with a small video track (160x90, 5 fps) that the converter and
ffmpeg both skip. Inputs shorter than the default length get the length in their file name.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import av

__all__ = ["MATRIX", "SECONDS", "Input", "Signal", "make_inputs"]

SECONDS = 600
_VIDEO = "testsrc2=size=1280x720:rate=30"
_SMALL_VIDEO = "testsrc2=size=160x90:rate=5"
_AUDIO = (
    "sine=frequency=440:sample_rate=44100[tone];"
    "anoisesrc=color=pink:amplitude=0.2:sample_rate=44100[noise];"
    "[tone][noise]amerge=inputs=2"
)


def _tones(rate: int, frequencies: tuple[int, ...], seed: int, label: str) -> str:
    """Tones (each with its own slow swell) under pink noise, summed into ``[label]``."""
    parts = [
        f"sine=frequency={f}:sample_rate={rate},volume=0.12,tremolo=f={0.2 + 0.1 * i:.1f}:d=0.6[{label}{i}]"
        for i, f in enumerate(frequencies)
    ]
    noise = f"anoisesrc=color=pink:amplitude=0.12:sample_rate={rate}:seed={seed}[{label}n]"
    inputs = "".join(f"[{label}{i}]" for i in range(len(frequencies))) + f"[{label}n]"
    return ";".join([*parts, noise, f"{inputs}amix=inputs={len(frequencies) + 1}:normalize=0[{label}]"])


def _music(rate: int, channels: int) -> str:
    """Several tones plus pink noise, different in each channel."""
    chords = ((220, 277, 330, 554), (147, 294, 370, 659), (110, 165, 440, 880), (196, 247, 392, 784))
    labels = [f"c{n}" for n in range(channels)]
    graphs = [_tones(rate, chords[n % len(chords)], seed=n + 1, label=label) for n, label in enumerate(labels)]
    if channels == 1:
        return ";".join(graphs).rsplit("[c0]", 1)[0]
    layout = {2: "stereo", 6: "5.1"}[channels]
    joined = "".join(f"[{label}]" for label in labels)
    return ";".join([*graphs, f"{joined}join=inputs={channels}:channel_layout={layout}"])


# speech: a band of 300-3400 Hz (a phone's), in syllables (4 a second), with a pause of
# 1.5 s every 4 s, the same in both channels (a lecture recorded in mono, stored as stereo)
_SPEECH = (
    "anoisesrc=color=pink:amplitude=0.6:sample_rate=44100,highpass=f=300,lowpass=f=3400,"
    "tremolo=f=4:d=0.9,volume=volume='if(lt(mod(t\\,4)\\,2.5)\\,1\\,0)':eval=frame,"
    "pan=stereo|c0=c0|c1=c0"
)
# near-silence: white noise at about -70 dBFS (RMS), different in each channel (a quiet room)
_NEAR_SILENCE = (
    "anoisesrc=color=white:amplitude=0.0005:sample_rate=44100:seed=1[l];"
    "anoisesrc=color=white:amplitude=0.0005:sample_rate=44100:seed=2[r];"
    "[l][r]join=inputs=2:channel_layout=stereo"
)


@dataclass(frozen=True)
class Signal:
    """One row of the matrix: a kind of audio, as AAC in an MP4 with a small video."""

    name: str
    description: str
    graph: str
    """A lavfi graph giving the audio."""
    aac_kbps: int


MATRIX: tuple[Signal, ...] = (
    Signal("music", "several tones + pink noise, different per channel; stereo 44.1 kHz", _music(44_100, 2), 160),
    Signal("speech", "300-3400 Hz band in syllables with pauses, same in both channels; 44.1 kHz", _SPEECH, 128),
    Signal("near-silence", "white noise at about -70 dBFS, different per channel; 44.1 kHz", _NEAR_SILENCE, 128),
    Signal("surround", "six channels of tones + noise, 48 kHz 5.1 (both downmix to stereo)", _music(48_000, 6), 384),
    Signal("mono-22k", "tones + pink noise, mono 22.05 kHz (MPEG-2: both encode 160 kbit/s)", _music(22_050, 1), 64),
)


@dataclass(frozen=True)
class Input:
    name: str
    path: Path
    size_bytes: int
    audio_seconds: float
    audio_codec: str
    description: str = ""


def make_inputs(cache_dir: Path, *, large: bool, seconds: int = SECONDS, matrix: bool = True) -> dict[str, Input]:
    """The inputs, generated where missing (a few minutes the first time)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    suffix = "" if seconds == SECONDS else f"-{seconds}s"

    def path(name: str) -> Path:
        return cache_dir / f"{name}{suffix}.mp4"

    _make(path("main"), _synthesize(seconds, video_kbps=4500, cbr=False))
    _make(path("faststart"), ["-i", str(path("main")), "-c", "copy", "-movflags", "+faststart"])
    _make(
        path("mp3-in-mp4"),
        ["-i", str(path("main")), "-map", "0:v", "-map", "0:a", "-c:v", "copy", "-c:a", "libmp3lame", "-b:a", "192k"],
    )
    names = {"main": "", "faststart": "", "mp3-in-mp4": ""}
    if large:
        _make(path("large"), _synthesize(seconds, video_kbps=13_500, cbr=True))
        names["large"] = ""
    if matrix:
        for signal in MATRIX:
            _make(path(signal.name), _signal(signal, seconds))
            names[signal.name] = signal.description
    return {name: _describe(name, path(name), description) for name, description in names.items()}


def _synthesize(seconds: int, *, video_kbps: int, cbr: bool) -> list[str]:
    rate = f"{video_kbps}k"
    constant = ["-minrate", rate, "-maxrate", rate, "-bufsize", rate, "-x264-params", "nal-hrd=cbr"] if cbr else []
    return [
        *("-f", "lavfi", "-i", _VIDEO, "-f", "lavfi", "-i", _AUDIO, "-t", str(seconds)),
        *("-c:v", "libx264", "-preset", "ultrafast", "-b:v", rate, *constant),
        *("-c:a", "aac", "-b:a", "160k", "-ac", "2"),
    ]


def _signal(signal: Signal, seconds: int) -> list[str]:
    return [
        *("-f", "lavfi", "-i", _SMALL_VIDEO, "-f", "lavfi", "-i", signal.graph, "-t", str(seconds)),
        *("-map", "0:v", "-map", "1:a", "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "100k"),
        *("-c:a", "aac", "-b:a", f"{signal.aac_kbps}k"),
    ]


def _make(path: Path, arguments: list[str]) -> None:
    if path.exists():
        return
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise RuntimeError("the benchmark needs ffmpeg on PATH (`./run media`; Debian: apt-get install ffmpeg)")
    print(f"making {path} (once) ...", flush=True)
    partial = path.with_name(f".{path.name}.partial.mp4")
    subprocess.run(  # noqa: S603
        [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *arguments, str(partial)], check=True
    )
    partial.replace(path)


def _describe(name: str, path: Path, description: str) -> Input:
    with av.open(path) as container:
        stream = container.streams.audio[0]
        seconds = float(stream.duration * stream.time_base) if stream.duration and stream.time_base else 0.0
        codec = stream.codec_context.codec.canonical_name
    return Input(name, path, path.stat().st_size, seconds, codec, description)
