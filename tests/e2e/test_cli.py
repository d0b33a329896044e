"""The ``vidmp3`` command line against the running system, run as a user runs it: the
installed script in a subprocess, with its own config and state directories."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import httpx
import pytest

from common.stack import Stack
from converter.samples import write_sample_video
from tests.e2e.conftest import System, wait_for
from tests.e2e.test_flow import bearer, decoded_duration, upload, wait_terminal

VIDMP3 = Path(sys.executable).with_name("vidmp3")


@dataclass
class Cli:
    """The installed ``vidmp3`` with a home of its own (``XDG_CONFIG_HOME``, ``XDG_STATE_HOME``)."""

    home: Path
    server: str

    @property
    def config_dir(self) -> Path:
        return self.home / "config" / "vidmp3"

    @property
    def uploads_dir(self) -> Path:
        return self.home / "state" / "vidmp3" / "uploads"

    def env(self, **extra: str) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith("VIDMP3_")}
        return (
            env
            | {
                "VIDMP3_SERVER": self.server,
                "XDG_CONFIG_HOME": str(self.home / "config"),
                "XDG_STATE_HOME": str(self.home / "state"),
                "COLUMNS": "200",
            }
            | extra
        )

    def command(self, *args: str) -> list[str]:
        assert VIDMP3.exists(), f"{VIDMP3} is missing: `uv sync` installs the project's scripts"
        return [str(VIDMP3), *args]

    def __call__(
        self, *args: str, stdin: str | None = None, timeout: float = 120, **env: str
    ) -> subprocess.CompletedProcess[str]:
        self.home.mkdir(parents=True, exist_ok=True)  # also the working directory: downloads land there
        return subprocess.run(
            self.command(*args),
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env(**env),
            timeout=timeout,
            cwd=self.home,
        )

    def json(self, *args: str, **env: str) -> Any:
        result = self("--json", *args, **env)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def login(self, email: str, password: str) -> None:
        result = self("login", email, "--password-stdin", stdin=password + "\n")
        assert result.returncode == 0, result.stderr

    def token(self) -> str:
        servers = json.loads((self.config_dir / "credentials.json").read_text())["servers"]
        return str(servers[self.server]["token"])


@pytest.fixture
def cli(system: System, tmp_path: Path) -> Cli:
    return Cli(home=tmp_path / "home", server=system.gateway)


@pytest.fixture
def user(system: System) -> tuple[str, str]:
    return system.create_user()


@pytest.fixture
def logged_in(cli: Cli, user: tuple[str, str]) -> Cli:
    cli.login(*user)
    return cli


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_login_keeps_the_token_where_only_its_user_can_read_it(cli: Cli, user: tuple[str, str]) -> None:
    result = cli("--json", "login", user[0], "--password-stdin", stdin=user[1] + "\n")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["email"] == user[0]
    assert stat.S_IMODE(cli.config_dir.stat().st_mode) == 0o700
    credentials = cli.config_dir / "credentials.json"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert user[1] not in credentials.read_text()  # the token is kept, never the password
    assert cli.json("jobs") == {"items": [], "next_cursor": None, "next_url": None}


def test_convert_uploads_waits_and_downloads_the_mp3(
    logged_in: Cli, sample_video: tuple[Path, float], tmp_path: Path
) -> None:
    path, audio_seconds = sample_video
    report = logged_in.json("convert", str(path), "-o", str(tmp_path / "mp3s"), "--bitrate", "96", "--channels", "mono")
    [entry] = report
    assert entry["state"] in ("converted", "notified"), entry
    mp3 = Path(entry["mp3"])
    assert mp3 == tmp_path / "mp3s" / "sample.mp3"
    assert abs(decoded_duration(mp3.read_bytes()) - audio_seconds) < 0.1
    with av.open(str(mp3)) as container:  # the options reached the converter
        assert container.streams.audio[0].bit_rate == 96_000
        assert container.streams.audio[0].channels == 1
    assert not list(mp3.parent.glob("*.part"))

    job = logged_in.json("status", entry["job_id"])
    assert job["job_id"] == entry["job_id"]
    assert job["mp3"]["filename"] == "sample.mp3"
    listed = logged_in.json("jobs")["items"]
    assert [item["job_id"] for item in listed] == [entry["job_id"]]


def test_convert_split_per_chapter_downloads_each_chapter_into_a_folder(logged_in: Cli, tmp_path: Path) -> None:
    video = tmp_path / "lecture.mp4"
    write_sample_video(video, seconds=5.0, width=64, height=48, chapters=[(0.0, "Welcome"), (2.0, "Questions")])

    [entry] = logged_in.json("convert", str(video), "-o", str(tmp_path / "out"), "--split-chapters")

    assert entry["mp3"] == str(tmp_path / "out" / "lecture.mp3")
    folder = tmp_path / "out" / "lecture"
    assert entry["chapters"] == [str(folder / "lecture - 01 Welcome.mp3"), str(folder / "lecture - 02 Questions.mp3")]
    for path, seconds in zip(entry["chapters"], (2.0, 3.0), strict=True):
        assert abs(decoded_duration(Path(path).read_bytes()) - seconds) < 0.05
    assert not list(folder.glob("*.part"))

    again = logged_in("download", entry["job_id"], "-o", f"{tmp_path / 'again'}/")
    assert again.returncode == 0, again.stderr
    assert "and 2 MP3s, one per chapter, in" in again.stdout
    copies = sorted((tmp_path / "again" / "lecture").iterdir())
    assert [copy.read_bytes() for copy in copies] == [Path(path).read_bytes() for path in entry["chapters"]]
    refused = logged_in("download", entry["job_id"], "-o", f"{tmp_path / 'again'}/")
    assert refused.returncode == 5, refused.stderr  # never overwritten unasked


def test_an_interrupted_upload_resumes_where_the_server_stopped(logged_in: Cli, system: System, tmp_path: Path) -> None:
    video = tmp_path / "long.mp4"
    seconds = write_sample_video(video, seconds=20.0, width=640, height=480)
    size = video.stat().st_size
    # 150 kB/s in 64 KiB requests: several seconds, so the kill lands mid-way
    command = logged_in.command("upload", str(video), "--limit-rate", "150K", "--chunk-size", "65536")
    process = subprocess.Popen(command, env=logged_in.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        state_file = wait_for(lambda: next(iter(logged_in.uploads_dir.glob("*.json")), None), timeout=30, interval=0.05)
        wait_for(lambda: json.loads(state_file.read_text())["offset"] > 0, timeout=30, interval=0.05)
    finally:
        process.send_signal(signal.SIGKILL)  # a crash: no clean-up of any kind
        process.communicate(timeout=30)
    upload_url = json.loads(state_file.read_text())["url"]
    head = httpx.head(f"{system.gateway}{upload_url}", headers={**bearer(logged_in.token()), "Tus-Resumable": "1.0.0"})
    assert head.status_code == 200, head.text
    stored = int(head.headers["upload-offset"])
    assert 0 < stored < size

    [result] = logged_in.json("upload", str(video))
    assert result["resumed_from"] == stored  # asked the server and went on from its offset
    assert result["upload_url"] == upload_url
    assert result["size"] == size
    assert not list(logged_in.uploads_dir.glob("*.json"))  # done: nothing left to resume
    status = wait_terminal(system, logged_in.token(), result["job_id"])
    assert status["state"] == "notified"
    mp3 = httpx.get(f"{system.gateway}{status['mp3']['download_url']}", headers=bearer(logged_in.token()))
    assert abs(decoded_duration(mp3.content) - seconds) < 0.1  # the resumed bytes make the whole video


def test_a_download_resumes_from_its_part_file(
    logged_in: Cli, system: System, sample_video: tuple[Path, float], tmp_path: Path
) -> None:
    token = logged_in.token()
    job_id = upload(system, token, "talk.mp4", sample_video[0].read_bytes()).json()["job_id"]
    wait_terminal(system, token, job_id)
    whole = httpx.get(f"{system.gateway}/v1/jobs/{job_id}/mp3", headers=bearer(token)).content
    target = tmp_path / "talk.mp3"
    Path(f"{target}.part").write_bytes(whole[:1000])

    result = logged_in.json("download", job_id, "-o", str(target))
    assert result["resumed_from"] == 1000
    assert target.read_bytes() == whole
    assert not Path(f"{target}.part").exists()
    again = logged_in("download", job_id, "-o", str(target))
    assert again.returncode == 5, again.stderr  # never overwritten unasked
    assert "--force" in again.stderr


def test_status_watch_streams_each_change_as_a_json_line(
    logged_in: Cli, system: System, sample_video: tuple[Path, float]
) -> None:
    [uploaded] = logged_in.json("upload", str(sample_video[0]))
    result = logged_in("--json", "status", "--watch", uploaded["job_id"])
    assert result.returncode == 0, result.stderr
    states = [json.loads(line)["state"] for line in result.stdout.splitlines()]
    order = ["queued", "converting", "converted", "notified"]
    assert states[-1] == "notified"
    assert [order.index(state) for state in states] == sorted(order.index(state) for state in states)


def test_each_failure_has_its_exit_code_and_the_servers_reason(
    cli: Cli, user: tuple[str, str], system: System, sample_video: tuple[Path, float], tmp_path: Path
) -> None:
    not_logged_in = cli("jobs")
    assert not_logged_in.returncode == 3
    assert "vidmp3 login" in not_logged_in.stderr

    wrong = cli("login", user[0], "--password-stdin", stdin="not the password\n")
    assert wrong.returncode == 3, wrong.stderr
    assert "The email or password is wrong." in wrong.stderr

    nowhere = f"http://127.0.0.1:{free_port()}"
    unreachable = cli("--server", nowhere, "login", user[0], "--password-stdin", stdin=user[1] + "\n")
    assert unreachable.returncode == 7, unreachable.stderr
    assert "Cannot reach" in unreachable.stderr

    cli.login(*user)
    unreachable = cli("jobs", VIDMP3_SERVER=nowhere, VIDMP3_TOKEN=cli.token())
    assert unreachable.returncode == 7, unreachable.stderr

    missing = str(uuid.uuid4())
    for command in (["status", missing], ["download", missing], ["cancel", missing]):
        result = cli(*command)
        assert result.returncode == 4, (command, result.stderr)
        assert f"No job {missing} in your account" in result.stderr  # the server's words

    usage = cli("upload", str(sample_video[0]), "--bitrate", "100")
    assert usage.returncode == 2, usage.stderr
    assert cli("status", "not-a-job").returncode == 2

    silent = tmp_path / "silent.mp4"
    write_sample_video(silent, seconds=1.0, audio_codec=None)
    refused = cli("--json", "upload", str(silent))
    assert refused.returncode == 6, refused.stderr
    problem = json.loads(refused.stderr)
    assert problem["status"] == 422
    assert problem["exit_code"] == 6
    assert problem["error"] == problem["problem"]["detail"]  # the server's words for people
    assert "audio" in problem["error"]
    assert "FFmpeg" not in refused.stderr

    [done] = cli.json("upload", str(sample_video[0]))
    wait_terminal(system, cli.token(), done["job_id"])
    finished = cli("cancel", done["job_id"])
    assert finished.returncode == 5, finished.stderr
    assert "has already ended" in finished.stderr

    assert cli("delete", done["job_id"]).returncode == 0
    assert cli("status", done["job_id"]).returncode == 4


def test_a_cancelled_job_ends_the_wait_with_exit_code_6(logged_in: Cli, system: System, tmp_path: Path) -> None:
    # five minutes of audio take seconds to convert: the cancel, sent right after the
    # upload, lands while the job is queued or converting
    video = tmp_path / "long.mp4"
    write_sample_video(video, seconds=300.0, width=64, height=48, fps=1)
    token = logged_in.token()
    job_id = upload(system, token, "long.mp4", video.read_bytes()).json()["job_id"]
    cancelled = httpx.post(f"{system.gateway}/v1/jobs/{job_id}/cancel", headers=bearer(token))
    assert cancelled.status_code == 200, cancelled.text

    watched = logged_in("status", "--watch", job_id)
    assert watched.returncode == 6, watched.stderr
    assert "cancelled" in watched.stderr


def test_help_documents_commands_and_exit_codes(cli: Cli) -> None:
    result = cli("--help")
    assert result.returncode == 0
    for word in ("login", "upload", "status", "download", "convert", "jobs", "cancel", "delete", "Exit codes"):
        assert word in result.stdout
    for code in (0, 1, 2, 3, 4, 5, 6, 7, 8, 130):
        assert f"{code}: " in result.stdout
    upload_help = cli("upload", "--help").stdout
    # every conversion option is a flag, made from the options' own fields
    from contracts import ConversionOptions

    for name in ConversionOptions.model_fields:
        assert f"--{name.replace('_', '-')}" in upload_help


def test_login_reads_the_password_from_a_prompt(cli: Cli, user: tuple[str, str]) -> None:
    result = cli("login", user[0], stdin=user[1] + "\n")
    assert result.returncode == 0, result.stderr
    assert "Logged in" in result.stdout
    assert user[1] not in result.stdout  # not echoed


def test_interrupting_with_ctrl_c_exits_130_and_keeps_the_upload(logged_in: Cli, tmp_path: Path) -> None:
    video = tmp_path / "slow.mp4"
    write_sample_video(video, seconds=10.0, width=640, height=480)
    process = subprocess.Popen(
        logged_in.command("upload", str(video), "--limit-rate", "100K", "--chunk-size", "65536"),
        env=logged_in.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for(lambda: list(logged_in.uploads_dir.glob("*.json")), timeout=30, interval=0.05)
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    assert "run the same command again to resume" in stderr
    assert list(logged_in.uploads_dir.glob("*.json"))


def test_a_batch_goes_past_a_bad_file_and_downloads_the_others(
    logged_in: Cli, sample_video: tuple[Path, float], tmp_path: Path
) -> None:
    first, second = tmp_path / "first.mp4", tmp_path / "second.mp4"
    first.write_bytes(sample_video[0].read_bytes())
    second.write_bytes(sample_video[0].read_bytes())
    notes = tmp_path / "notes.mp4"
    notes.write_text("this is not a video\n" * 100)
    out = tmp_path / "mp3s"

    result = logged_in("convert", str(first), str(notes), str(second), "-o", str(out))
    assert result.returncode == 6, result.stderr  # the server refused a video
    assert "notes.mp4" in result.stderr
    assert "1 of 3 files did not make it" in result.stderr
    assert "FFmpeg" not in result.stderr  # the server's words for people, not the library's
    assert sorted(path.name for path in out.iterdir()) == ["first.mp3", "second.mp3"]
    for mp3 in out.iterdir():
        assert abs(decoded_duration(mp3.read_bytes()) - sample_video[1]) < 0.1

    again = logged_in("convert", str(notes), str(first), "-o", str(tmp_path / "again"), "--json")
    assert again.returncode == 6, again.stderr
    report = {Path(entry["file"]).name: entry for entry in json.loads(again.stdout)}
    assert report["first.mp4"]["mp3"].endswith("first.mp3")
    assert report["notes.mp4"]["status"] == 422
    assert report["notes.mp4"]["error"]


def test_jobs_fit_80_columns_with_ids_names_and_times(
    logged_in: Cli, system: System, sample_video: tuple[Path, float]
) -> None:
    token = logged_in.token()
    names = ["a holiday in the mountains with the whole family, part one.mp4", "talk.mp4"]
    ids = [upload(system, token, name, sample_video[0].read_bytes()).json()["job_id"] for name in names]
    wait_for(lambda: len(logged_in.json("jobs")["items"]) == 2, timeout=60)

    table = logged_in("jobs", COLUMNS="80")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), table.stdout
    for job_id, name in zip(ids, names, strict=True):
        [row] = [line for line in lines if job_id[:8] in line]  # each id readable, once
        assert name[:12] in row  # the file's name has room
        assert re.search(r"\b\d\d:\d\d\b", row)  # when
    assert "a holiday in the mountains" in table.stdout


def test_a_job_is_named_by_the_first_characters_of_its_id(
    logged_in: Cli, system: System, sample_video: tuple[Path, float], tmp_path: Path
) -> None:
    token = logged_in.token()
    job_id = upload(system, token, "talk.mp4", sample_video[0].read_bytes()).json()["job_id"]
    wait_terminal(system, token, job_id)
    wait_for(lambda: logged_in.json("jobs")["items"], timeout=60)

    status = logged_in("status", job_id[:6], "--json")  # --json after the command too
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["job_id"] == job_id
    downloaded = logged_in.json("download", job_id[:8].upper(), "-o", str(tmp_path / "talk.mp3"))
    assert downloaded["job_id"] == job_id
    unknown = logged_in("status", "ffff" if not job_id.startswith("ffff") else "0000")
    assert unknown.returncode == 4, unknown.stderr
    assert logged_in("delete", job_id[:8]).returncode == 0
    assert logged_in("status", job_id).returncode == 4


def test_version_json_anywhere_and_shell_completion(logged_in: Cli) -> None:
    version = logged_in("--version")
    assert version.returncode == 0, version.stderr
    assert re.fullmatch(r"vidmp3 \d+\.\d+\.\d+\S*\n", version.stdout)

    before, after = logged_in("--json", "jobs"), logged_in("jobs", "--json")
    assert before.returncode == after.returncode == 0, (before.stderr, after.stderr)
    assert json.loads(before.stdout) == json.loads(after.stdout)

    script = logged_in("--show-completion", "bash")
    assert script.returncode == 0, script.stderr
    assert "complete -o default -F _vidmp3_completion vidmp3" in script.stdout
    completed = logged_in(_VIDMP3_COMPLETE="complete_bash", COMP_WORDS="vidmp3 conv", COMP_CWORD="1")
    assert completed.stdout.split() == ["convert"]  # what the shell offers for "vidmp3 conv<TAB>"


def test_shell_completion_offers_your_jobs(logged_in: Cli, system: System, sample_video: tuple[Path, float]) -> None:
    job_id = upload(system, logged_in.token(), "talk.mp4", sample_video[0].read_bytes()).json()["job_id"]
    wait_for(lambda: logged_in.json("jobs")["items"], timeout=60)
    words = f"vidmp3 status {job_id[:2]}"
    offered = logged_in(_VIDMP3_COMPLETE="complete_zsh", _TYPER_COMPLETE_ARGS=words)
    assert f"{job_id[:8]}:talk.mp4" in offered.stdout.replace('"', "").replace("\\", "")


SHORT_TOKEN_SECONDS = 6


@pytest.fixture(scope="module")
def short_sessions(system: System, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An auth service issuing access tokens that last seconds, and a gateway trusting it, beside
    the system's (same users, same storage and broker: the system's workers convert)."""
    config = dataclasses.replace(
        system.stack.config,
        state_dir=tmp_path_factory.mktemp("short-sessions"),
        base_port=free_port(),
        extra_env={"VIDMP3_TOKEN_TTL_SECONDS": str(SHORT_TOKEN_SECONDS)},
    )
    stack = Stack(config)
    stack.start("auth", "gateway")
    try:
        yield config.url("gateway")
    finally:
        stack.stop("auth", "gateway")


def test_an_upload_and_a_wait_outlive_the_access_token(
    short_sessions: str, user: tuple[str, str], tmp_path: Path
) -> None:
    cli = Cli(home=tmp_path / "home", server=short_sessions)
    cli.login(*user)
    video = tmp_path / "long.mp4"
    seconds = write_sample_video(video, seconds=20.0, width=640, height=480)
    size = video.stat().st_size
    rate = 40 * 1024
    assert size / rate > 3 * SHORT_TOKEN_SECONDS  # the upload takes several tokens' lifetimes
    started = time.monotonic()

    result = cli("--json", "convert", str(video), "-o", str(tmp_path / "mp3s"), "--limit-rate", "40K",
                 "--chunk-size", "65536", timeout=600)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started > 2 * SHORT_TOKEN_SECONDS
    [entry] = json.loads(result.stdout)
    assert abs(decoded_duration(Path(entry["mp3"]).read_bytes()) - seconds) < 0.1
    stored = json.loads((cli.config_dir / "credentials.json").read_text())["servers"][short_sessions]
    assert stored["refresh_token"]  # renewed and kept
    assert stat.S_IMODE((cli.config_dir / "credentials.json").stat().st_mode) == 0o600

    assert cli("logout").returncode == 0  # revokes: the stored refresh token no longer works
    refused = httpx.post(f"{short_sessions}/v1/auth/refresh", json={"refresh_token": stored["refresh_token"]})
    assert refused.status_code == 401
