"""The running gateway serves the event contract next to its OpenAPI UI, and what it serves
is exactly the committed ``asyncapi.yaml``."""

from __future__ import annotations

from pathlib import Path

import httpx
import yaml

from common.asyncapi import document
from gateway.asyncapi_html import render_page
from gateway.asyncapi_page import PAGE_LINKS
from tests.e2e.conftest import System

COMMITTED = (Path(__file__).resolve().parents[2] / "asyncapi.yaml").read_text(encoding="utf-8")


def test_the_yaml_served_is_the_committed_asyncapi_yaml(system: System) -> None:
    response = httpx.get(f"{system.gateway}/docs/asyncapi.yaml", timeout=30)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/yaml")
    assert response.text == COMMITTED


def test_the_json_served_is_the_same_document(system: System) -> None:
    response = httpx.get(f"{system.gateway}/docs/asyncapi.json", timeout=30)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == yaml.safe_load(COMMITTED)


def test_the_page_is_rendered_from_that_document_and_allows_no_scripts(system: System) -> None:
    response = httpx.get(f"{system.gateway}/docs/asyncapi", timeout=30)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "script-src" not in policy  # falls back to default-src: none
    expected = render_page(document(), raw_links=PAGE_LINKS)
    assert response.text == expected


def test_the_openapi_description_links_the_contract_and_every_link_answers(system: System) -> None:
    openapi = httpx.get(f"{system.gateway}/docs/openapi.json").json()
    description = openapi["info"]["description"]
    for path in ("/docs/asyncapi", "/docs/asyncapi.yaml", "/docs/asyncapi.json"):
        assert f"]({path})" in description
        assert httpx.get(f"{system.gateway}{path}", timeout=30).status_code == 200
    # documentation, like /docs itself: not an operation of the API (nor fuzzed as one)
    assert not [path for path in openapi["paths"] if path.startswith("/docs")]
    page = httpx.get(f"{system.gateway}/docs/asyncapi").text
    assert 'href="swagger"' in page
    assert httpx.get(f"{system.gateway}/docs/swagger").status_code == 200
