"""The REST API's documentation as integrators meet it: the Swagger UI page in headless Chromium
with every request outside the gateway refused (as where there is no internet), and the quick
start pasted as it is written (curl in bash, then Python) against the running system."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from converter.samples import write_sample_video
from gateway.docs_page import ASSETS
from gateway.openapi import QUICK_START
from tests.e2e.conftest import System
from tests.e2e.test_asyncapi_browser import Offline
from tests.e2e.test_flow import decoded_duration
from tests.e2e.test_web import WAIT_MS, screenshot
from tests.e2e.test_web import browser as browser  # noqa: PLC0414 (the module's fixtures, shared)
from tests.e2e.test_web import playwright as playwright  # noqa: PLC0414


@pytest.fixture
def online_docs(browser: Browser, system: System) -> Iterator[Offline]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    watched = Offline(page, system.gateway)
    page.on("pageerror", lambda error: watched.errors.append(str(error)))
    yield watched
    context.close()


@pytest.mark.parametrize("path", ["/docs", "/docs/swagger"])
def test_the_api_page_renders_with_nothing_from_another_site(online_docs: Offline, system: System, path: str) -> None:
    page = online_docs.page
    page.goto(f"{system.gateway}{path}")

    expect(page.get_by_role("heading", name=re.compile("vidmp3 gateway"))).to_be_visible()
    expect(page.get_by_role("heading", name="Quick start")).to_be_visible()
    upload = page.locator(".opblock-post", has_text="/v1/jobs").filter(has_text="Upload a video").first
    expect(upload).to_be_visible()
    upload.locator(".opblock-summary").click()  # an operation opens: its description and examples
    expect(upload).to_contain_text("multipart/form-data")
    expect(upload).to_contain_text("This video has no audio track")  # its own 422 example
    if path == "/docs":
        screenshot(page, "openapi")

    assert online_docs.refused == [], "the page asked another site"
    assert online_docs.errors == [], "the page's scripts failed (a refused source is a console error too)"
    served = {url.split("?")[0].removeprefix(system.gateway) for url in online_docs.requests}
    assert {"/docs/static/swagger-ui-bundle.js", "/docs/openapi.json"} <= served


def test_the_page_serves_the_installed_swagger_ui(system: System) -> None:
    bundle = httpx.get(f"{system.gateway}/docs/static/swagger-ui-bundle.js")
    assert bundle.status_code == 200
    assert bundle.content == (ASSETS / "swagger-ui-bundle.js").read_bytes()  # the package's file, as installed
    page = httpx.get(f"{system.gateway}/docs")
    assert "default-src 'none'" in page.text
    assert "https://" not in page.text.split("<body")[0]  # no script or style from elsewhere
    assert httpx.get(f"{system.gateway}/docs/static/..%2Fcore.py").status_code == 404


def _block(language: str) -> str:
    match = re.search(rf"```{language}\n(.*?)```", QUICK_START, re.DOTALL)
    assert match, f"no {language} block in the quick start"
    return match.group(1)


@pytest.fixture
def integrator(system: System, tmp_path: Path) -> tuple[Path, str, str, float]:
    """A working directory with ``holiday.mp4``, an account, and the video's audio length."""
    seconds = write_sample_video(tmp_path / "holiday.mp4", seconds=3.0, width=64, height=48)
    email, password = system.create_user()
    return tmp_path, email, password, seconds


def _pasted(code: str, system: System, email: str, password: str) -> str:
    """The quick start as an integrator adapts it: their server, their account."""
    return (
        code.replace("http://127.0.0.1:8000", system.gateway)
        .replace("demo@example.com", email)
        .replace("demo-password", password)
    )


def test_the_curl_quick_start_works_as_pasted(system: System, integrator: tuple[Path, str, str, float]) -> None:
    assert shutil.which("jq"), "the quick start uses jq: install it (Debian: apt-get install jq)"
    here, email, password, seconds = integrator
    script = "set -euo pipefail\n" + _pasted(_block("sh"), system, email, password)
    result = subprocess.run(["bash", "-c", script], cwd=here, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "event: status" in result.stdout  # the live stream
    assert '"notified"' in result.stdout or '"converted"' in result.stdout  # the poll
    assert abs(decoded_duration((here / "holiday.mp3").read_bytes()) - seconds) < 0.1


def test_the_python_quick_start_works_as_pasted(system: System, integrator: tuple[Path, str, str, float]) -> None:
    here, email, password, seconds = integrator
    code = _pasted(_block("python"), system, email, password)
    result = subprocess.run([sys.executable, "-c", code], cwd=here, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert abs(decoded_duration((here / "holiday.mp3").read_bytes()) - seconds) < 0.1
