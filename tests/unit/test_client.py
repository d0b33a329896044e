"""The command-line client's pure parts: problem messages, event parsing, token and upload
state files, option flags, where a download goes."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path
from uuid import UUID

import httpx
import pytest

from client.api import job_id_argument, problem_error
from client.config import Credentials, TokenStore
from client.downloads import target_path
from client.exits import CliError, ExitCode
from client.options import flag_names, with_conversion_options
from client.tus import Throttle, UploadStates, encode_metadata
from client.watch import parse_events
from contracts import ConversionOptions

JOB = "3f0c2b7e-8a41-4c4e-9d0b-6a5f1e2d3c4b"


def problem(status: int, body: dict[str, object], **headers: str) -> httpx.Response:
    return httpx.Response(status, json=body, headers={"content-type": "application/problem+json", **headers})


def test_a_problem_becomes_its_title_detail_and_exit_code() -> None:
    error = problem_error(problem(404, {"title": "Not Found", "detail": f"no job {JOB}", "status": 404}))
    assert error.message == f"Not Found: no job {JOB}"
    assert error.code is ExitCode.NOT_FOUND
    assert error.status == 404

    refused = problem_error(
        problem(
            422,
            {
                "title": "Unprocessable Entity",
                "detail": "invalid conversion options",
                "errors": [{"field": "bitrate_kbps", "message": "not one of 32, ..."}],
            },
        )
    )
    assert refused.message == "Unprocessable Entity: invalid conversion options (bitrate_kbps: not one of 32, ...)"
    assert refused.code is ExitCode.JOB_FAILED

    limited = problem_error(
        problem(429, {"title": "Too Many Requests", "detail": "slow down"}, **{"retry-after": "42"})
    )
    assert limited.code is ExitCode.RATE_LIMITED
    assert limited.hint == "retry in 42 seconds"
    assert problem_error(problem(401, {"title": "Unauthorized"})).hint == "run: vidmp3 login"


def test_an_answer_that_is_not_a_problem_still_reads_well() -> None:
    error = problem_error(httpx.Response(502, text="<html>bad gateway</html>"))
    assert error.message == "Bad Gateway"
    assert error.code is ExitCode.UNREACHABLE
    assert problem_error(httpx.Response(500, text="")).code is ExitCode.ERROR


def test_job_ids_are_read_from_ids_paths_and_urls() -> None:
    for text in (JOB, f"/v1/jobs/{JOB}", f"http://host:8000/v1/jobs/{JOB}/", f" {JOB.upper()} "):
        assert job_id_argument(text) == UUID(JOB)
    with pytest.raises(CliError) as raised:
        job_id_argument("holiday.mp4")
    assert raised.value.code is ExitCode.USAGE


def test_server_sent_events_are_parsed_as_a_browser_does() -> None:
    lines = [
        "retry: 2000",
        "",
        ": keep-alive",
        "",
        "id: 1",
        "event: status",
        'data: {"state":',
        'data: "queued"}',
        "",
        "data:plain",
        "",
        "event: deleted",
        "",  # no data: not dispatched
    ]
    assert list(parse_events(iter(lines))) == [("status", '{"state":\n"queued"}'), ("message", "plain")]


def test_tokens_are_kept_per_server_readable_by_their_user_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VIDMP3_TOKEN", raising=False)
    store = TokenStore(tmp_path / "config" / "vidmp3" / "credentials.json")
    store.save("http://a", Credentials(token="tok-a", email="a@example.com", expires_at=time.time() + 60))
    store.save("http://b", Credentials(token="tok-b", email="b@example.com", expires_at=time.time() - 1))
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.path.parent.stat().st_mode) == 0o700
    assert store.token("http://a") == "tok-a"
    with pytest.raises(CliError, match="expired") as expired:
        store.token("http://b")
    assert expired.value.code is ExitCode.AUTH
    with pytest.raises(CliError, match="not logged in"):
        store.token("http://c")
    monkeypatch.setenv("VIDMP3_TOKEN", "from-the-environment")
    assert store.token("http://c") == "from-the-environment"
    monkeypatch.delenv("VIDMP3_TOKEN")
    assert store.forget("http://a")
    assert not store.forget("http://a")
    store.path.write_text("{not json")
    with pytest.raises(CliError, match="not logged in"):  # a damaged file: log in again
        store.token("http://a")


def test_a_changed_file_or_other_options_start_a_new_upload(tmp_path: Path) -> None:
    video = tmp_path / "v.mp4"
    video.write_bytes(b"x" * 100)
    first = UploadStates.key("http://a", video, encode_metadata({"bitrate_kbps": "128"}))
    assert first == UploadStates.key("http://a", video, encode_metadata({"bitrate_kbps": "128"}))
    assert first != UploadStates.key("http://a", video, encode_metadata({"bitrate_kbps": "192"}))
    assert first != UploadStates.key("http://b", video, encode_metadata({"bitrate_kbps": "128"}))
    os.utime(video, ns=(1, 1))
    assert first != UploadStates.key("http://a", video, encode_metadata({"bitrate_kbps": "128"}))


def test_metadata_is_base64_per_tus() -> None:
    assert encode_metadata({"filename": "été.mp4", "bitrate_kbps": "128"}) == "filename w6l0w6kubXA0,bitrate_kbps MTI4"


def test_the_throttle_keeps_the_average_rate() -> None:
    throttle = Throttle(1_000_000)
    started = time.monotonic()
    for _ in range(5):
        throttle.sent(50_000)
    assert time.monotonic() - started >= 0.24
    unlimited = Throttle(None)
    started = time.monotonic()
    unlimited.sent(10**9)
    assert time.monotonic() - started < 0.1


def test_every_option_field_is_a_flag_and_is_checked_like_the_server_does() -> None:
    assert flag_names("bitrate_kbps") == ["--bitrate-kbps", "--bitrate"]
    assert flag_names("mono") == ["--mono"]
    received = {}

    def command(*, name: str, options: dict[str, str]) -> None:
        received.update(options)

    wrapped = with_conversion_options(command)
    import inspect

    parameters = inspect.signature(wrapped).parameters
    assert "options" not in parameters
    assert {f"option__{field}" for field in ConversionOptions.model_fields} <= set(parameters)
    wrapped(
        name="x",
        **{f"option__{field}": None for field in ConversionOptions.model_fields} | {"option__bitrate_kbps": 128},
    )
    assert received == {"bitrate_kbps": "128"}  # only what was given, as text
    with pytest.raises(CliError, match="--bitrate-kbps") as raised:
        wrapped(name="x", option__bitrate_kbps=100)
    assert raised.value.code is ExitCode.USAGE


def test_a_download_goes_where_asked_under_the_servers_name(tmp_path: Path) -> None:
    job = {"job_id": JOB, "mp3": {"filename": "../../etc/holiday.mp3"}}
    assert target_path(job, None) == Path("holiday.mp3")  # never a path from the server
    assert target_path(job, tmp_path) == tmp_path / "holiday.mp3"
    assert target_path(job, f"{tmp_path}/new/") == tmp_path / "new" / "holiday.mp3"
    assert (tmp_path / "new").is_dir()
    assert target_path(job, tmp_path / "mine.mp3") == tmp_path / "mine.mp3"
    assert target_path({"job_id": JOB, "mp3": None}, None) == Path(f"{JOB}.mp3")
