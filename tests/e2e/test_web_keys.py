"""The page's "API keys" section in headless Chromium against the running system: a person
creates a read-only key (shown once, copied with a button), a program uses it, and revoking it
after the page asks stops it within seconds."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.e2e.conftest import System, wait_for
from tests.e2e.test_flow import bearer
from tests.e2e.test_web import WAIT_MS, browser, playwright, screenshot, sign_in

__all__ = ["browser", "playwright"]  # the browser fixtures, shared with test_web


@pytest.fixture
def page(browser: Browser, system: System) -> Iterator[Page]:
    context: BrowserContext = browser.new_context(viewport={"width": 1100, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=system.gateway)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors  # type: ignore[attr-defined]
    yield page
    context.close()


def test_a_key_is_created_shown_once_copied_used_and_revoked(page: Page, system: System) -> None:
    email, password = system.create_user()
    sign_in(page, system.gateway, email, password)

    page.locator("summary", has_text="API keys").click()
    expect(page.get_by_text("You have no API keys.")).to_be_visible()
    page.get_by_label("What the key is for").fill("status board")
    page.get_by_label("Convert new files, and cancel or delete files").uncheck()
    page.get_by_role("button", name="Create key").click()

    shown = page.locator("#new-key-value")
    expect(shown).to_have_value(re.compile(r"^vmk_[0-9a-f]{12}_"))
    key = shown.input_value()
    page.get_by_role("button", name="Copy", exact=True).click()
    expect(page.get_by_text("Copied.")).to_be_visible()
    assert page.evaluate("() => navigator.clipboard.readText()") == key
    row = page.locator("li.key").filter(has=page.get_by_role("heading", name="status board"))
    expect(row).to_contain_text("Can see files and download MP3s")
    assert key not in row.inner_text(), "the list shows the key's start, never the key"
    screenshot(page, "api-keys")
    page.get_by_role("button", name="Done").click()
    expect(shown).to_be_hidden()

    assert httpx.get(f"{system.gateway}/v1/jobs", headers=bearer(key)).status_code == 200
    refused = httpx.post(f"{system.gateway}/v1/jobs", headers=bearer(key), files={"file": ("x.mp4", b"x", "video/mp4")})
    assert refused.status_code == 403, "the key may only read"

    row.get_by_role("button", name="Revoke status board").click()
    expect(row.get_by_text("Programs using it stop working within seconds")).to_be_visible()
    row.get_by_role("button", name="Yes, revoke").click()
    expect(row).to_have_count(0)
    expect(page.get_by_text("You have no API keys.")).to_be_visible()
    wait_for(lambda: httpx.get(f"{system.gateway}/v1/jobs", headers=bearer(key)).status_code == 401, timeout=30.0)

    page.reload()
    page.locator("summary", has_text="API keys").click()
    expect(page.get_by_text("You have no API keys.")).to_be_visible()
    assert page.errors == []  # type: ignore[attr-defined]


def test_keeping_a_key_when_asked_leaves_it_working(page: Page, system: System) -> None:
    email, password = system.create_user()
    sign_in(page, system.gateway, email, password)
    page.locator("summary", has_text="API keys").click()
    page.get_by_label("What the key is for").fill("backup")
    page.get_by_role("button", name="Create key").click()
    expect(page.locator("#new-key-value")).to_have_value(re.compile(r"^vmk_"))
    key = page.locator("#new-key-value").input_value()
    row = page.locator("li.key").filter(has=page.get_by_role("heading", name="backup"))
    expect(row).to_contain_text("Can see, convert and delete files")

    row.get_by_role("button", name="Revoke backup").click()
    row.get_by_role("button", name="Keep it").click()

    expect(row.get_by_role("button", name="Revoke backup")).to_be_focused()
    assert httpx.get(f"{system.gateway}/v1/keys", headers=bearer(system.login(email, password))).json()["keys"]
    assert httpx.get(f"{system.gateway}/v1/jobs", headers=bearer(key)).status_code == 200
