"""The command-line client's pure parts: problem messages, event parsing, token and upload
state files, option flags, where a download goes."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path
from uuid import UUID

import httpx
import pytest

from client.api import Api, problem_error
from client.config import Credentials, TokenStore
from client.downloads import target_path
from client.exits import CliError, ExitCode
from client.jobids import resolve_jobs, short_id
from client.options import flag_names, with_conversion_options
from client.session import RefreshingAuth, SessionKeeper
from client.tus import Throttle, UploadStates, encode_metadata
from client.watch import parse_events
from contracts import ConversionOptions

JOB = "3f0c2b7e-8a41-4c4e-9d0b-6a5f1e2d3c4b"


def problem(status: int, body: dict[str, object], **headers: str) -> httpx.Response:
    return httpx.Response(status, json=body, headers={"content-type": "application/problem+json", **headers})


def test_a_problem_becomes_its_detail_and_exit_code() -> None:
    body = {"title": "Not Found", "detail": f"No job {JOB} in your account.", "status": 404}
    error = problem_error(problem(404, body))
    assert error.message == f"No job {JOB} in your account."  # the detail, for people, as it is
    assert error.code is ExitCode.NOT_FOUND
    assert error.status == 404
    assert error.problem == body  # the whole problem, for --json

    refused = problem_error(
        problem(
            422,
            {
                "title": "Unprocessable Entity",
                "detail": "Choose a bitrate an MP3 can have.",
                "errors": [{"field": "bitrate_kbps", "message": "Input should be 32, 40, ..."}],
            },
        )
    )
    assert refused.message == "Choose a bitrate an MP3 can have."  # no library message, no field name
    assert refused.code is ExitCode.JOB_FAILED

    limited = problem_error(
        problem(429, {"title": "Too Many Requests", "detail": "Slow down."}, **{"retry-after": "42"})
    )
    assert limited.code is ExitCode.RATE_LIMITED
    assert limited.hint == "retry in 42 seconds"
    assert problem_error(problem(401, {"title": "Unauthorized"})).hint == "run: vidmp3 login"


def test_an_answer_that_is_not_a_problem_still_reads_well() -> None:
    error = problem_error(httpx.Response(502, text="<html>bad gateway</html>"))
    assert error.message == "The server answered 502 Bad Gateway."
    assert error.code is ExitCode.UNREACHABLE
    assert problem_error(httpx.Response(500, text="")).code is ExitCode.ERROR


class FakeJobs:
    """The jobs API's pages, newest first, as a transport: ``limit`` and ``cursor`` honoured."""

    def __init__(self, ids: list[str]) -> None:
        self.ids, self.pages = ids, 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/jobs"
        self.pages += 1
        start = int(request.url.params.get("cursor", 0))
        limit = int(request.url.params["limit"])
        items = [{"job_id": job_id, "filename": f"{job_id[:4]}.mp4"} for job_id in self.ids[start : start + limit]]
        more = start + limit < len(self.ids)
        return httpx.Response(200, json={"items": items, "next_cursor": str(start + limit) if more else None})


def test_job_ids_are_read_from_ids_urls_and_unambiguous_prefixes() -> None:
    others = [str(UUID(int=n)) for n in range(1, 250)]  # three pages of other jobs
    twins = ["abcd0000-0000-4000-8000-000000000001", "abcd0000-0000-4000-8000-000000000002"]
    jobs = FakeJobs([*others[:120], JOB, *others[120:], *twins])
    api = Api("http://server", transport=httpx.MockTransport(jobs))
    for text in (JOB, f"/v1/jobs/{JOB}", f"http://host:8000/v1/jobs/{JOB}/", f" {JOB.upper()} "):
        assert resolve_jobs(api, [text]) == [UUID(JOB)]
    assert jobs.pages == 0  # whole ids need no lookup
    assert resolve_jobs(api, ["3f0c", "3F0C2B7E-8A"]) == [UUID(JOB), UUID(JOB)]
    assert jobs.pages == 3  # one pass over every page for both prefixes
    with pytest.raises(CliError) as ambiguous:
        resolve_jobs(api, ["abcd"])
    assert ambiguous.value.code is ExitCode.USAGE
    assert twins[0] in ambiguous.value.message
    assert twins[1] in ambiguous.value.message  # the candidates, listed
    with pytest.raises(CliError) as missing:
        resolve_jobs(api, ["ffff"])
    assert missing.value.code is ExitCode.NOT_FOUND
    for typo in ("holiday.mp4", "3f0"):
        with pytest.raises(CliError) as raised:
            resolve_jobs(api, [typo])
        assert raised.value.code is ExitCode.USAGE
    assert short_id(twins[0], twins) == twins[0]  # they differ in their last character only
    assert short_id(twins[0], [twins[0], "abcd0001-0000-4000-8000-000000000001"]) == "abcd0000"
    assert short_id(JOB, [JOB, *others]) == JOB[:8]


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


def _session(token: str, *, ttl: float, refresh: str | None = "r1", refresh_ttl: float = 3600) -> Credentials:
    now = time.time()
    return Credentials(
        token=token,
        email="a@example.com",
        expires_at=now + ttl,
        refresh_token=refresh,
        refresh_expires_at=now + refresh_ttl if refresh else None,
        issued_at=now - 60,
    )


class FakeAuth:
    """The auth routes as a transport: rotating refresh tokens, a reused one refused."""

    def __init__(self) -> None:
        self.valid, self.used, self.calls = {"r1"}, set(), []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        sent = json.loads(request.content)["refresh_token"]
        self.calls.append((request.url.path, sent))
        if request.url.path == "/v1/auth/logout":
            self.valid.discard(sent)
            return httpx.Response(204)
        if sent not in self.valid:
            return httpx.Response(401, json={"status": 401, "detail": "This session has ended."})
        self.valid.discard(sent)
        self.used.add(sent)
        fresh = f"r{len(self.used) + 1}"
        self.valid.add(fresh)
        answer = {"access_token": f"a-{fresh}", "token_type": "Bearer", "expires_in": 900}
        return httpx.Response(200, json=answer | {"refresh_token": fresh, "refresh_expires_in": 86400})


def test_sessions_are_kept_per_server_readable_by_their_user_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VIDMP3_TOKEN", raising=False)
    store = TokenStore(tmp_path / "config" / "vidmp3" / "credentials.json")
    store.save("http://a", _session("tok-a", ttl=600))
    store.save("http://b", _session("tok-b", ttl=-1, refresh=None))
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.path.parent.stat().st_mode) == 0o700
    assert SessionKeeper("http://a", store).access_token() == "tok-a"
    with pytest.raises(CliError, match="expired") as expired:
        SessionKeeper("http://b", store).access_token()
    assert expired.value.code is ExitCode.AUTH
    with pytest.raises(CliError, match="not logged in"):
        SessionKeeper("http://c", store).access_token()
    monkeypatch.setenv("VIDMP3_TOKEN", "from-the-environment")
    assert SessionKeeper("http://c", store).access_token() == "from-the-environment"
    monkeypatch.delenv("VIDMP3_TOKEN")
    assert store.forget("http://a")
    assert not store.forget("http://a")
    store.path.write_text("{not json")
    with pytest.raises(CliError, match="not logged in"):  # a damaged file: log in again
        SessionKeeper("http://a", store).access_token()


def test_a_session_renews_itself_before_it_expires_and_stores_the_new_pair_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VIDMP3_TOKEN", raising=False)
    store, auth = TokenStore(tmp_path / "credentials.json"), FakeAuth()
    keeper = SessionKeeper("http://a", store, transport=httpx.MockTransport(auth))
    store.save("http://a", _session("a-r1", ttl=600))
    assert keeper.access_token() == "a-r1"  # not due: no request
    assert auth.calls == []

    store.save("http://a", _session("a-r1", ttl=5))  # within the last quarter of its life
    assert keeper.access_token() == "a-r2"
    stored = store.load("http://a")
    assert stored is not None
    assert (stored.token, stored.refresh_token) == ("a-r2", "r2")  # rotated, and kept
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600

    # another command renewed meanwhile: the stale token's renewal uses theirs, spends nothing
    assert keeper.renew("a-r1") == "a-r2"
    assert auth.calls == [("/v1/auth/refresh", "r1")]

    # a refused refresh token (reused, revoked) ends the session here too
    store.save("http://a", _session("a-r1", ttl=5, refresh="r1"))
    with pytest.raises(CliError, match="ended") as ended:
        keeper.access_token()
    assert ended.value.code is ExitCode.AUTH
    assert store.load("http://a") is None


def test_a_refused_token_is_renewed_and_the_request_sent_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VIDMP3_TOKEN", raising=False)
    store, auth = TokenStore(tmp_path / "credentials.json"), FakeAuth()
    keeper = SessionKeeper("http://a", store, transport=httpx.MockTransport(auth))
    store.save("http://a", _session("a-r1", ttl=600))
    seen: list[str] = []

    def server(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["authorization"])
        return httpx.Response(200 if request.headers["authorization"] == "Bearer a-r2" else 401)

    with Api("http://a", RefreshingAuth(keeper), transport=httpx.MockTransport(server)) as api:
        assert api.http.get("/v1/jobs").status_code == 200
    assert seen == ["Bearer a-r1", "Bearer a-r2"]


def test_logging_out_revokes_the_refresh_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VIDMP3_TOKEN", raising=False)
    store, auth = TokenStore(tmp_path / "credentials.json"), FakeAuth()
    keeper = SessionKeeper("http://a", store, transport=httpx.MockTransport(auth))
    store.save("http://a", _session("a-r1", ttl=600))
    assert keeper.revoke()
    assert auth.calls == [("/v1/auth/logout", "r1")]
    assert "r1" not in auth.valid
    assert store.load("http://a") is None
    assert not keeper.revoke()


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
