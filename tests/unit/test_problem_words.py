"""Problems speak to people: every ``detail`` is a sentence a person can act on, with the
machine fields (``errors``: field names, the library's message) kept beside it."""

from __future__ import annotations

import re
from typing import Annotated, Any

import pytest
from litestar import Litestar, get, post
from litestar.params import Parameter
from litestar.testing import TestClient
from pydantic import BaseModel, Field, ValidationError

from common.http import problem_details
from contracts import ConversionOptions
from contracts.option_words import FIELD_WORDS as OPTION_WORDS
from contracts.option_words import option_problem
from gateway.app import create_app
from gateway.settings import GatewaySettings
from gateway.uploads import InvalidUpload, options_from_fields
from gateway.wording import FIELD_WORDS, size_words

# what people must never read in a detail: library wording and code names
LIBRARY_WORDS = re.compile(r"Value error|Expected `|Input should|Validation failed|JSON is malformed|FFmpeg|_[a-z]")


def assert_plain(detail: str) -> None:
    assert detail, "an empty detail"
    assert detail[0].isupper(), detail
    assert not LIBRARY_WORDS.search(detail), detail  # field names have underscores: none either


def test_every_option_has_words() -> None:
    assert set(OPTION_WORDS) == set(ConversionOptions.model_fields)
    for sentence in OPTION_WORDS.values():
        assert_plain(sentence)


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"bitrate_kbps": "100"}, "bitrate_kbps", "32, 40"),
        ({"vbr_quality": "12"}, "vbr_quality", "0 (best) to 9"),
        ({"sample_rate_hz": "1"}, "sample_rate_hz", "44100"),
        ({"channels": "5.1"}, "channels", "mono or stereo"),
        ({"start_seconds": "-1"}, "start_seconds", "0 or more"),
        ({"normalize": "perhaps"}, "normalize", "on or off"),
        ({"bitrate_kbps": "128", "vbr_quality": "2"}, "vbr_quality", "not both"),
        ({"sample_rate_hz": "22050", "bitrate_kbps": "320"}, "bitrate_kbps", "at most 160 kbit/s"),
        ({"start_seconds": "10", "end_seconds": "5"}, "end_seconds", "end after it starts"),
        ({"speed": "2"}, "speed", "does not have"),
    ],
)
def test_each_bad_option_is_said_in_words_and_named_for_programs(
    fields: dict[str, str], field: str, words: str
) -> None:
    with pytest.raises(InvalidUpload) as refused:
        options_from_fields({name: value.encode() for name, value in fields.items()})
    assert words in str(refused.value)
    assert_plain(str(refused.value))
    assert [error["field"] for error in refused.value.errors] == [field]
    assert refused.value.errors[0]["message"]  # the library's words, for integrators
    assert refused.value.errors[0]["source"] == "body"


def test_several_bad_options_get_one_sentence_each() -> None:
    with pytest.raises(ValidationError) as error:
        ConversionOptions.model_validate({"channels": "5.1", "vbr_quality": "12"}, strict=False)
    problem = option_problem(error.value)
    assert OPTION_WORDS["channels"] in problem.detail
    assert OPTION_WORDS["vbr_quality"] in problem.detail
    assert {e["field"] for e in problem.errors} == {"channels", "vbr_quality"}


def _inputs(document: dict[str, Any]) -> set[str]:
    names = set()
    for item in document["paths"].values():
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            names |= {p["name"] for p in operation.get("parameters", []) if p["in"] != "path"}
            for media in (operation.get("requestBody") or {}).get("content", {}).values():
                schema = media["schema"]
                schema = schema.get("allOf", [schema])[0]
                if "$ref" in schema:
                    schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
                names |= set(schema.get("properties", {}))
    return names


def test_every_input_of_the_gateway_has_words() -> None:
    document = create_app(GatewaySettings()).openapi_schema.to_schema()
    known = {name.lower() for name in FIELD_WORDS}
    inputs = _inputs(document)
    assert {"limit", "Upload-Length", "email", "file", "bitrate_kbps"} <= inputs
    assert {name for name in inputs if name.lower() not in known} == set()
    for sentence in FIELD_WORDS.values():
        assert sentence[0].isupper(), sentence


class _Login(BaseModel):
    email: str = Field(min_length=3)
    password: str = Field(min_length=1)


@get("/things", sync_to_thread=False)
def things(
    limit: Annotated[int, Parameter(ge=1, le=100)] = 20,
    tus_resumable: Annotated[str | None, Parameter(header="Tus-Resumable")] = None,
    upload_length: Annotated[int, Parameter(header="Upload-Length", ge=0)] = 0,
) -> str:
    if limit == 13:
        raise RuntimeError("secret internals")
    return "ok"


@post("/login", sync_to_thread=False)
def log_in(data: _Login) -> str:
    return "ok"


@get("/needs-header", sync_to_thread=False)
def needs_header(upload_length: Annotated[int, Parameter(header="Upload-Length")]) -> str:
    return "ok"


@pytest.fixture(scope="module")
def client() -> Any:
    app = Litestar([things, log_in, needs_header], plugins=[problem_details(FIELD_WORDS)])
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.mark.parametrize(
    ("method", "path", "body", "detail", "fields"),
    [
        ("GET", "/things?limit=500", None, FIELD_WORDS["limit"], ["limit"]),
        ("GET", "/things?limit=many", None, FIELD_WORDS["limit"], ["limit"]),
        ("GET", "/needs-header", None, FIELD_WORDS["upload_length"], ["Upload-Length"]),
        ("POST", "/login", b'{"email": ""}', f"{FIELD_WORDS['email']} {FIELD_WORDS['password']}", None),
        ("POST", "/login", b"{not json", "not valid JSON", None),
        ("GET", "/nowhere", None, "nothing at this address", None),
        ("DELETE", "/things", None, "does not take DELETE", None),
        ("GET", "/things?limit=13", None, "has been logged", None),
    ],
)
def test_what_litestar_refuses_is_said_in_words(
    client: Any, *, method: str, path: str, body: bytes | None, detail: str, fields: list[str] | None
) -> None:
    response = client.request(method, path, content=body, headers={"content-type": "application/json"})
    problem = response.json()
    assert response.status_code == problem["status"] >= 400
    assert detail in problem["detail"]
    assert_plain(problem["detail"])
    if fields is not None:
        assert [error["field"] for error in problem["errors"]] == fields
    if method == "POST" and body and body.startswith(b'{"'):
        assert {error["field"] for error in problem["errors"]} == {"email", "password"}


@pytest.mark.parametrize(
    ("size", "words"),
    [(2 * 1024**3, "2 GiB"), (500 * 1024**2, "500 MiB"), (1536, "1.5 KiB"), (900, "900 bytes")],
)
def test_sizes_read_as_people_say_them(size: int, words: str) -> None:
    assert size_words(size) == words
