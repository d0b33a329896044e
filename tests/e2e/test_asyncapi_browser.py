"""The AsyncAPI page in headless Chromium, with JavaScript off and every request outside the
gateway refused (as behind a firewall): it renders whole, asks for nothing but itself, and its
links lead where they say. A screenshot is saved under ``tests/artifacts/web/``."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urljoin, urlsplit

import pytest
from playwright.sync_api import Browser, Page, Route, expect

from tests.e2e.conftest import System
from tests.e2e.test_web import WAIT_MS, screenshot
from tests.e2e.test_web import browser as browser  # noqa: PLC0414 (the module's fixtures, shared)
from tests.e2e.test_web import playwright as playwright  # noqa: PLC0414


class Offline:
    """A page whose requests are recorded, and refused unless they go to the gateway."""

    def __init__(self, page: Page, gateway: str) -> None:
        self.page, self.gateway = page, urlsplit(gateway).netloc
        self.requests: list[str] = []
        self.refused: list[str] = []
        self.errors: list[str] = []
        page.on("console", lambda message: self.errors.append(message.text) if message.type == "error" else None)
        page.route("**/*", self._route)

    def _route(self, route: Route) -> None:
        url = route.request.url
        self.requests.append(url)
        if urlsplit(url).netloc == self.gateway:
            route.continue_()
        else:
            self.refused.append(url)
            route.abort()


@pytest.fixture
def offline(browser: Browser, system: System) -> Iterator[Offline]:
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    yield Offline(page, system.gateway)
    context.close()


def test_the_page_renders_with_nothing_but_itself(offline: Offline, system: System) -> None:
    page = offline.page
    page.goto(f"{system.gateway}/docs/asyncapi")

    expect(page).to_have_title("vidmp3 events 1.0.0: events")
    expect(page.get_by_role("heading", name="Routing keys")).to_be_visible()
    expect(page.get_by_role("heading", name="ConversionFailed conversion.failed")).to_be_visible()
    reason = page.locator("#schema-ConversionFailed ~ table").first.locator("tr", has_text="reason")
    expect(reason).to_contain_text("FailureReason")
    expect(reason).to_contain_text("yes")  # required
    screenshot(page, "asyncapi")

    assert offline.requests == [f"{system.gateway}/docs/asyncapi"], "the page asked for more than itself"
    assert offline.refused == []
    assert offline.errors == []


def test_the_links_lead_to_the_event_the_raw_document_and_the_rest_api(offline: Offline, system: System) -> None:
    page = offline.page
    page.goto(f"{system.gateway}/docs/asyncapi")

    page.locator("#routing").locator("xpath=following::table[1]").get_by_role("link", name="Mp3Converted").click()
    assert page.url.endswith("#schema-Mp3Converted")
    expect(page.locator("#schema-Mp3Converted")).to_be_in_viewport()

    for name, path in (("YAML", "/docs/asyncapi.yaml"), ("JSON", "/docs/asyncapi.json")):
        href = page.get_by_role("link", name=name, exact=True).get_attribute("href") or ""
        assert urljoin(page.url, href).split("#")[0] == f"{system.gateway}{path}"
        assert page.request.get(f"{system.gateway}{path}").ok

    page.get_by_role("link", name="REST API (OpenAPI)").click()
    assert page.url == f"{system.gateway}/docs/swagger"
