"""The gateway's HTTP pieces without services: ranges and validators, page cursors, tus
metadata, problem details, the OPTIONS answers and the OpenAPI document."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from litestar import Litestar, delete, get, post
from litestar.exceptions import HTTPException, NotAuthorizedException
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.plugins.problem_details import ProblemDetailsException
from litestar.testing import TestClient

from common.blobs import ChunkCutter
from common.http import health_routes, options_routes, problem_details
from contracts import ConversionOptions
from gateway.app import create_app
from gateway.downloads import ByteRange, Unsatisfiable, content_disposition, etag_matches, requested_range
from gateway.openapi import QUICK_START
from gateway.settings import GatewaySettings
from gateway.tus import parse_metadata
from gateway.uploads import InvalidUpload, options_from_fields
from gateway.views import Cursor
from projections.job_status import JobStatus

SIZE = 1000


@pytest.mark.parametrize(
    ("header", "wanted"),
    [
        ("bytes=0-99", ByteRange(0, 99)),
        ("bytes=100-", ByteRange(100, 999)),
        ("bytes=-10", ByteRange(990, 999)),
        ("bytes=-5000", ByteRange(0, 999)),
        ("bytes=990-5000", ByteRange(990, 999)),
        ("BYTES=5-5", ByteRange(5, 5)),
        (None, None),
        ("bytes=0-1,5-6", None),  # several ranges: answered whole
        ("items=0-1", None),  # another unit
        ("bytes=9-3", None),  # malformed: ignored
        ("bytes=-", None),
        ("bytes=+1-2", None),
        ("bytes=0x1-2", None),
    ],
)
def test_a_range_header_selects_one_range_or_the_whole_file(header: str | None, wanted: ByteRange | None) -> None:
    assert requested_range(header, SIZE) == wanted


@pytest.mark.parametrize(("header", "size"), [("bytes=1000-", SIZE), ("bytes=5000-6000", SIZE), ("bytes=-0", SIZE)])
def test_a_range_past_the_end_is_unsatisfiable(header: str, size: int) -> None:
    with pytest.raises(Unsatisfiable):
        requested_range(header, size)


def test_a_range_counts_its_bytes_as_content_range_does() -> None:
    assert ByteRange(10, 19).length == 10
    assert ByteRange(10, 19).content_range(SIZE) == "bytes 10-19/1000"


@pytest.mark.parametrize(
    ("header", "matches"),
    [('"abc"', True), ('W/"abc"', True), ('"x", "abc"', True), ("*", True), ('"abd"', False), (None, False)],
)
def test_if_none_match_compares_entity_tags_weakly(header: str | None, matches: bool) -> None:
    assert etag_matches(header, '"abc"') is matches


def test_content_disposition_has_an_ascii_fallback_and_the_utf8_name() -> None:
    header = content_disposition('Été "à" Zürich.mp3')
    assert header.startswith('attachment; filename="_t_ ___ Z_rich.mp3";')
    assert "filename*=UTF-8''%C3%89t%C3%A9%20%22%C3%A0%22%20Z%C3%BCrich.mp3" in header
    assert header.isascii()


def _status(created_at: datetime, job_id: UUID | None = None) -> JobStatus:
    return JobStatus(job_id=job_id or uuid4(), created_at=created_at)


def test_a_cursor_round_trips_and_orders_by_time_then_id() -> None:
    t0 = datetime(2026, 5, 4, 10, 15, 30, 123456, tzinfo=UTC)
    cursor = Cursor.after(_status(t0, UUID(int=5)))
    assert Cursor.decode(cursor.encode()) == cursor
    assert cursor.position.moment == t0.replace(microsecond=123000)  # the lists keep milliseconds
    # newest first: later pages hold older jobs, and in the same millisecond smaller ids
    assert Cursor.after(_status(t0 - timedelta(milliseconds=1))).position < cursor.position
    assert Cursor.after(_status(t0 + timedelta(microseconds=100), UUID(int=4))).position < cursor.position
    assert not Cursor.after(_status(t0, UUID(int=6))).position < cursor.position


@pytest.mark.parametrize(
    "text",
    [
        "",
        "zzz",
        "%%%",
        base64.urlsafe_b64encode(b"2026-01-01T00:00:00|not-a-uuid").decode(),
        "MjAyNg",
        base64.urlsafe_b64encode(f"0001-01-01T00:00:00+01:00|{UUID(int=1)}".encode()).decode(),
    ],
)
def test_a_cursor_that_was_not_handed_out_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="cursor"):
        Cursor.decode(text)


def test_tus_metadata_is_key_base64_pairs() -> None:
    header = "filename w6l0w6kubXA0,filetype dmlkZW8vbXA0,is_confidential,bitrate_kbps MTI4"
    assert parse_metadata(header) == {
        "filename": "été.mp4".encode(),
        "filetype": b"video/mp4",
        "is_confidential": b"",
        "bitrate_kbps": b"128",
    }
    assert parse_metadata(None) == {}


@pytest.mark.parametrize("header", ["filename not*base64", "a YQ==,a YQ==", "ké YQ=="])
def test_invalid_tus_metadata_is_refused(header: str) -> None:
    with pytest.raises(ValueError, match=r"key|base64"):
        parse_metadata(header)


def test_options_from_form_fields_read_numbers_and_refuse_the_rest() -> None:
    assert options_from_fields({"bitrate_kbps": b"128"}).bitrate_kbps == 128
    for bad in ({"bitrate_kbps": b"100"}, {"bitrate_kbps": b"loud"}, {"colour": b"blue"}):
        with pytest.raises(InvalidUpload) as refused:
            options_from_fields(bad)
        assert refused.value.errors


def test_the_chunk_cutter_makes_full_chunks_and_keeps_the_rest() -> None:
    cutter = ChunkCutter(file_id=None, chunk_size=4, n=3, head=b"ab")  # type: ignore[arg-type]
    for piece in (b"c", b"defgh", b"ij"):
        cutter.add(piece)
    assert cutter.pending_bytes == 8
    chunks = cutter.take_full()
    assert [(c["n"], bytes(c["data"])) for c in chunks] == [(3, b"abcd"), (4, b"efgh")]
    rest = cutter.take_rest()
    assert rest is not None
    assert (rest["n"], bytes(rest["data"])) == (5, b"ij")


# problem details: one shape for every error, Litestar's own included


@get("/things/{thing_id:uuid}", sync_to_thread=False)
def get_thing(thing_id: FromPath[UUID], limit: FromQuery[int] = 10) -> dict[str, str]:
    if limit == 13:
        raise RuntimeError("secret internals")
    if limit == 14:
        raise HTTPException(status_code=422, detail="no good", extra={"errors": [{"field": "f", "message": "bad"}]})
    if limit == 15:
        raise ProblemDetailsException(
            status_code=409, detail="taken", type_="https://vidmp3.example/taken", title="Taken"
        )
    raise NotAuthorizedException("a bearer token is required", headers={"WWW-Authenticate": "Bearer"})


@delete("/things/{thing_id:uuid}", sync_to_thread=False)
def delete_thing(thing_id: FromPath[UUID]) -> None:
    return None


@post("/things", sync_to_thread=False)
def make_thing(data: JSONBody[dict[str, int]]) -> dict[str, int]:
    return data


@pytest.fixture(scope="module")
def client() -> Any:
    handlers = [get_thing, delete_thing, make_thing]
    app = Litestar([*options_routes(handlers), *handlers, *health_routes()], plugins=[problem_details()])
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


THING = "/things/00000000-0000-4000-8000-000000000000"


@pytest.mark.parametrize(
    ("method", "path", "status", "title"),
    [
        ("GET", THING, 401, "Unauthorized"),
        ("GET", "/things/not-a-uuid", 404, "Not Found"),
        ("GET", "/nowhere", 404, "Not Found"),
        ("PUT", THING, 405, "Method Not Allowed"),
        ("GET", f"{THING}?limit=x", 400, "Bad Request"),
        ("GET", f"{THING}?limit=13", 500, "Internal Server Error"),
        ("GET", f"{THING}?limit=14", 422, "Unprocessable Entity"),
        ("POST", "/things", 400, "Bad Request"),
    ],
)
def test_every_error_is_a_problem_with_the_reason_phrase_as_title(
    client: Any, method: str, path: str, status: int, title: str
) -> None:
    response = client.request(method, path, content=b"{not json")
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "about:blank"
    assert (problem["status"], problem["title"]) == (status, title)
    assert problem["instance"] == path.partition("?")[0]
    assert problem["detail"]
    assert "secret" not in problem["detail"]


def test_a_problem_keeps_its_message_headers_and_field_errors(client: Any) -> None:
    unauthorized = client.get(THING)
    assert unauthorized.json()["detail"] == "a bearer token is required"
    assert unauthorized.headers["www-authenticate"] == "Bearer"
    invalid = client.get(f"{THING}?limit=x").json()
    assert invalid["errors"] == [{"field": "limit", "message": "Expected `int`, got `str`", "source": "query"}]
    assert client.get(f"{THING}?limit=14").json()["errors"] == [{"field": "f", "message": "bad", "source": None}]
    assert client.put(THING).headers["allow"]


def test_a_problem_type_of_its_own_keeps_its_title(client: Any) -> None:
    problem = client.get(f"{THING}?limit=15").json()
    assert (problem["type"], problem["title"], problem["detail"]) == ("https://vidmp3.example/taken", "Taken", "taken")


def test_options_name_every_method_of_a_path(client: Any) -> None:
    assert client.options(THING).headers["allow"] == "DELETE, GET, OPTIONS"


# the OpenAPI document


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    return create_app(GatewaySettings()).openapi_schema.to_schema()


def _operations(openapi: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in openapi["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict) and "responses" in operation
    ]


def test_every_error_response_is_documented_as_a_problem(openapi: dict[str, Any]) -> None:
    problem = openapi["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"title", "status", "detail", "instance"}
    for method, path, operation in _operations(openapi):
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                content = response["content"]
                assert list(content) == ["application/problem+json"], (method, path, status)
                assert content["application/problem+json"]["examples"], (method, path, status)


def test_every_operation_has_a_summary_and_a_description(openapi: dict[str, Any]) -> None:
    for method, path, operation in _operations(openapi):
        summary = operation.get("summary") or ""
        assert " " in summary, (method, path, summary)  # words, not "UploadVideo"
        assert summary[0].isupper(), (method, path, summary)
        assert len(operation.get("description") or "") > len(summary), (method, path)


def _inputs(openapi: dict[str, Any], operation: dict[str, Any]) -> set[str]:
    names = {parameter["name"] for parameter in operation.get("parameters", [])}
    for media in (operation.get("requestBody") or {}).get("content", {}).values():
        schema = media["schema"].get("allOf", [media["schema"]])[0]
        if "$ref" in schema:
            schema = openapi["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
        names |= set(schema.get("properties", {}))
    return names


ROUTE_NAMED = re.compile(r"\b(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) /")


def test_every_error_example_belongs_to_its_route(openapi: dict[str, Any]) -> None:
    example_id = "3f0c2b7e-8a41-4c4e-9d0b-6a5f1e2d3c4b"
    for method, path, operation in _operations(openapi):
        inputs = _inputs(openapi, operation) | {"file"}  # a multipart body's file part, for every upload
        if "Upload-Metadata" in inputs:  # tus metadata carries the conversion options
            inputs |= set(ConversionOptions.model_fields)
        for status, response in operation["responses"].items():
            for example in (
                (response.get("content") or {}).get("application/problem+json", {}).get("examples", {}).values()
            ):
                problem = example["value"]
                where = (method, path, status)
                assert problem["status"] == int(status), where
                assert problem["instance"] == re.sub(r"\{\w+\}", example_id, path), where
                assert not ROUTE_NAMED.search(problem["detail"]), where  # no other route's request in it
                assert problem["detail"][0].isupper(), where  # a sentence for people
                for error in problem.get("errors", []):
                    assert error["field"] in inputs, (*where, error["field"])


def test_the_check_catches_an_example_pasted_from_another_route() -> None:
    document = create_app(GatewaySettings()).openapi_schema.to_schema()
    login = document["paths"]["/v1/auth/login"]["post"]["responses"]["400"]["content"]["application/problem+json"]
    pasted = document["paths"]["/v1/jobs"]["get"]["responses"]["400"]["content"]["application/problem+json"]
    login["examples"] = pasted["examples"]
    with pytest.raises(AssertionError):
        test_every_error_example_belongs_to_its_route(document)


def test_the_quick_start_is_in_the_document_and_the_readme(openapi: dict[str, Any]) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```(?:sh|python)\n.*?```", QUICK_START, re.DOTALL)
    assert len(blocks) == 2
    for block in blocks:
        assert block in openapi["info"]["description"]
        assert block in readme, "the README's quick start differs from gateway/quickstart.md"


def test_every_operation_has_examples(openapi: dict[str, Any]) -> None:
    for method, path, operation in _operations(openapi):
        for status, response in operation["responses"].items():
            for media in (response.get("content") or {}).values():
                assert media.get("examples") or media.get("example"), (method, path, status)
        if body := operation.get("requestBody"):
            for media in body["content"].values():
                assert media.get("examples") or media.get("example"), (method, path)
        for parameter in operation.get("parameters", []):
            assert parameter.get("examples") or parameter.get("example"), (method, path, parameter["name"])


def test_the_document_names_every_route(openapi: dict[str, Any]) -> None:
    routes = {(method, path) for method, path, _ in _operations(openapi)}
    assert routes >= {
        ("POST", "/v1/auth/login"),
        ("POST", "/v1/jobs"),
        ("GET", "/v1/jobs"),
        ("GET", "/v1/jobs/{job_id}"),
        ("POST", "/v1/jobs/{job_id}/cancel"),
        ("DELETE", "/v1/jobs/{job_id}"),
        ("GET", "/v1/jobs/{job_id}/mp3"),
        ("OPTIONS", "/v1/uploads"),
        ("POST", "/v1/uploads"),
        ("HEAD", "/v1/uploads/{upload_id}"),
        ("PATCH", "/v1/uploads/{upload_id}"),
        ("DELETE", "/v1/uploads/{upload_id}"),
    }
    assert "/metrics" not in openapi["paths"]
