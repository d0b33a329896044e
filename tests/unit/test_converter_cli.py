"""``python -m converter convert``: the worker's conversion on a local file or standard input."""

from __future__ import annotations

import io
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import av
import pytest

from converter.cli import main
from converter.samples import write_sample_video
from tests.unit.mp3_facts import decode, frame_seconds, header_seconds, onset_seconds, tags


@dataclass(frozen=True)
class Result:
    exit_code: int
    stderr: str

    @property
    def output(self) -> str:
        return self.stderr


class Runner:
    """``python -m converter`` in this process: the exit status and what it wrote to stderr."""

    def __init__(self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
        self._capsys, self._monkeypatch = capsys, monkeypatch

    def invoke(self, argv: list[str], env: dict[str, str] | None = None) -> Result:
        for name, value in (env or {}).items():
            self._monkeypatch.setenv(name, value)
        self._capsys.readouterr()
        try:
            code = main(argv)
        except SystemExit as exit_:  # argparse's usage errors
            code = int(exit_.code or 0)
        return Result(code, self._capsys.readouterr().err)


@pytest.fixture
def runner(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Runner:
    return Runner(capsys, monkeypatch)


def mp3_seconds(path: Path) -> tuple[float, int]:
    with av.open(path) as container:
        stream = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(stream))
        return samples / stream.sample_rate, stream.codec_context.bit_rate or 0


def test_a_file_is_converted(runner: Runner, tmp_path: Path) -> None:
    source = tmp_path / "clip.mp4"
    seconds = write_sample_video(source, seconds=2.0)
    target = tmp_path / "clip.mp3"

    result = runner.invoke(["convert", str(source), str(target), "--bitrate", "128"])

    assert result.exit_code == 0, result.output
    duration, bit_rate = mp3_seconds(target)
    assert abs(duration - seconds) < 0.1
    assert bit_rate == 128_000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp3", "clip.mp4"]  # no partial file left


def test_standard_input_to_standard_output(tmp_path: Path) -> None:
    source = tmp_path / "clip.mkv"
    seconds = write_sample_video(source, seconds=2.0, container_format="matroska")

    piped = subprocess.run(
        [sys.executable, "-m", "converter", "convert", "-", "-"],
        input=source.read_bytes(),
        capture_output=True,
        check=True,
    ).stdout

    with av.open(io.BytesIO(piped)) as container:
        stream = container.streams.audio[0]
        assert abs(sum(f.samples for f in container.decode(stream)) / stream.sample_rate - seconds) < 0.1


def test_bad_input_fails_and_leaves_no_output(runner: Runner, tmp_path: Path) -> None:
    source = tmp_path / "notes.txt"
    source.write_text("not a video\n" * 100)
    target = tmp_path / "notes.mp3"

    result = runner.invoke(["convert", str(source), str(target)])

    assert result.exit_code == 1
    assert "undecodable_input" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_a_bitrate_mp3_does_not_have_is_refused(runner: Runner, tmp_path: Path) -> None:
    result = runner.invoke(["convert", "in.mp4", str(tmp_path / "out.mp3"), "--bitrate", "100"])

    assert result.exit_code == 2
    assert "192" in result.stderr


def test_a_missing_input_is_a_usage_error(runner: Runner, tmp_path: Path) -> None:
    result = runner.invoke(["convert", str(tmp_path / "nope.mp4"), str(tmp_path / "out.mp3")])

    assert result.exit_code == 2
    assert not (tmp_path / "out.mp3").exists()


OTHER_FLAGS = ("--start", "1", "--end", "4", "--normalize")


def test_the_options_are_the_workers(runner: Runner, tmp_path: Path) -> None:
    source = tmp_path / "Morning walk.mp4"
    write_sample_video(source, seconds=5.0, silent_until=2.0, width=64, height=48)
    target = tmp_path / "walk.mp3"

    result = runner.invoke(
        ["convert", str(source), str(target), *("--vbr", "4", "--mono", "--rate", "22050"), *OTHER_FLAGS],
    )

    assert result.exit_code == 0, result.stderr
    mp3 = target.read_bytes()
    decoded = decode(mp3, keep_samples=True)
    assert (decoded.sample_rate, decoded.channels) == (22_050, 1)
    assert abs(decoded.seconds - 3.0) <= frame_seconds(22_050)
    assert abs(onset_seconds(decoded, threshold=0.05) - 1.0) <= frame_seconds(22_050)
    assert abs(header_seconds(mp3) - 3.0) <= frame_seconds(22_050)  # a local file gets its Xing frame
    assert str(tags(mp3)["TIT2"]) == "Morning walk"


def test_split_chapters_writes_one_mp3_per_chapter_beside_the_whole(runner: Runner, tmp_path: Path) -> None:
    source = tmp_path / "talk.mkv"
    write_sample_video(
        source, seconds=4.0, width=64, height=48, container_format="matroska", chapters=[(0.0, "Hello"), (1.5, "Bye")]
    )
    target = tmp_path / "talk.mp3"

    result = runner.invoke(["convert", str(source), str(target), "--split-chapters"])

    assert result.exit_code == 0, result.stderr
    folder = tmp_path / "talk"
    assert sorted(path.name for path in folder.iterdir()) == ["talk - 01 Hello.mp3", "talk - 02 Bye.mp3"]
    assert abs(decode(folder / "talk - 02 Bye.mp3").seconds - 2.5) <= frame_seconds(44_100)
    assert str(tags((folder / "talk - 01 Hello.mp3").read_bytes())["TRCK"]) == "1/2"
    assert abs(decode(target.read_bytes()).seconds - 4.0) <= frame_seconds(44_100)
    assert "Bye" in result.stderr


def test_split_chapters_to_standard_output_is_a_usage_error(runner: Runner, tmp_path: Path) -> None:
    result = runner.invoke(["convert", "in.mp4", "-", "--split-chapters"])

    assert result.exit_code == 2
    assert "--split-chapters" in result.stderr


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--bitrate", "128", "--vbr", "2"], "not both"),
        (["--vbr", "12"], "--vbr"),
        (["--rate", "44000"], "--rate"),
        (["--start", "5", "--end", "2"], "must end after it starts"),
        (["--rate", "16000", "--bitrate", "320"], "at most 160"),
    ],
)
def test_bad_options_are_usage_errors(runner: Runner, tmp_path: Path, flags: list[str], named: str) -> None:
    result = runner.invoke(["convert", "in.mp4", str(tmp_path / "out.mp3"), *flags])

    assert result.exit_code == 2
    assert named in result.stderr


def test_a_pipe_gets_an_mp3_without_a_xing_frame(tmp_path: Path) -> None:
    source = tmp_path / "clip.mp4"
    write_sample_video(source, seconds=1.0, width=64, height=48)

    piped = subprocess.run(
        [sys.executable, "-m", "converter", "convert", str(source), "-", "--vbr", "3"],
        capture_output=True,
        check=True,
    ).stdout

    assert piped.startswith(b"ID3")
    assert b"Xing" not in piped[:2000]
    assert b"Info" not in piped[:2000]
    assert abs(decode(piped).seconds - 1.0) < 0.1


def test_without_the_system_library_lameenc_converts_and_says_so(runner: Runner, tmp_path: Path) -> None:
    source = tmp_path / "clip.mp4"
    seconds = write_sample_video(source, seconds=1.0, width=64, height=48)
    target = tmp_path / "clip.mp3"

    result = runner.invoke(
        ["convert", str(source), str(target)], env={"VIDMP3_LIBMP3LAME": "/nonexistent/libmp3lame.so.0"}
    )

    assert result.exit_code == 0, result.output
    assert "(lameenc)" in result.stderr
    assert abs(decode(target.read_bytes()).seconds - seconds) <= frame_seconds(44_100)


def test_the_system_library_is_used_by_default(runner: Runner, tmp_path: Path) -> None:
    source = tmp_path / "clip.mp4"
    write_sample_video(source, seconds=1.0, width=64, height=48)

    result = runner.invoke(["convert", str(source), str(tmp_path / "clip.mp3")])

    assert result.exit_code == 0, result.output
    assert "(system)" in result.stderr


def test_the_cover_can_be_left_out(runner: Runner, tmp_path: Path) -> None:
    source = tmp_path / "clip.mp4"
    write_sample_video(source, seconds=1.0, width=64, height=48)
    with_cover, without = tmp_path / "with.mp3", tmp_path / "without.mp3"

    assert runner.invoke(["convert", str(source), str(with_cover)]).exit_code == 0
    assert runner.invoke(["convert", str(source), str(without), "--no-cover-art"]).exit_code == 0

    assert tags(with_cover.read_bytes()).getall("APIC")
    assert not tags(without.read_bytes()).getall("APIC")


def test_converting_a_file_imports_nothing_the_worker_alone_needs(tmp_path: Path) -> None:
    # the command's start is timed against ffmpeg's: no command-line framework, broker, store, or models
    source = tmp_path / "clip.mp4"
    write_sample_video(source, seconds=0.5, width=64, height=48)
    script = (
        "import sys\n"
        "from converter.cli import main\n"
        f"assert main(['convert', {str(source)!r}, {str(tmp_path / 'clip.mp3')!r}]) == 0\n"
        "heavy = {'typer', 'faststream', 'pymongo', 'litestar', 'pydantic', 'contracts.events', 'contracts.options'}\n"
        "print(sorted(name for name in sys.modules if name in heavy or name.split('.')[0] in heavy))\n"
    )

    loaded = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout

    assert loaded.strip() == "[]"
