"""Sessions on the web page, in headless Chromium against a stack of its own whose access
tokens last seconds: a session survives a reload and a second tab (the refresh cookie), an
upload outlives the access token, and a file dropped after the session ended is uploaded
once the person signs in again. The access token is never stored."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Playwright, Response, expect, sync_playwright
from pymongo import MongoClient

from converter.samples import write_sample_video
from tests.e2e.test_web import CHROMIUM, WAIT_MS, open_page, row, screenshot, sign_in, throttle
from tests.services import Endpoints, own_vhost
from tests.system import System, print_log_tails, running_system

SHORT_TOKEN_SECONDS = 15


@pytest.fixture(scope="module")
def short_tokens(
    endpoints: Endpoints, mongo_database_name: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[System]:
    """A stack of its own (its own RabbitMQ virtual host and database) whose access tokens
    last ``SHORT_TOKEN_SECONDS``."""
    database = f"{mongo_database_name}_sessions"
    with (
        own_vhost(endpoints) as private,
        running_system(
            private,
            database,
            tmp_path_factory.mktemp("short-tokens"),
            show_logs=False,
            VIDMP3_TOKEN_TTL_SECONDS=str(SHORT_TOKEN_SECONDS),
            VIDMP3_TOKEN_LEEWAY_SECONDS="0",  # an expired token is refused at once
        ) as system,
    ):
        try:
            yield system
        except BaseException:
            print_log_tails(system.stack)
            raise
        finally:
            with MongoClient(private.mongo_url) as client:
                client.drop_database(database)


@pytest.fixture(scope="module")
def browser(short_tokens: System) -> Iterator[Browser]:
    # (the stack first: Playwright's sync API holds an event loop the stack's set-up cannot share)
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium is missing at {CHROMIUM}: run `scripts/browser`", pytrace=False)
    with sync_playwright() as driver:
        yield launch(driver)


def launch(driver: Playwright) -> Browser:
    expect.set_options(timeout=WAIT_MS)
    return driver.chromium.launch(executable_path=str(CHROMIUM))


def stored_tokens(page: Any) -> list[str]:
    """Anything like a JWT in the page's storage (there must be none: the token lives in memory)."""
    values = page.evaluate("() => [...Object.values(localStorage), ...Object.values(sessionStorage), document.cookie]")
    return [value for value in values if "eyJ" in value]


def test_a_session_survives_a_reload_and_a_second_tab(browser: Browser, short_tokens: System) -> None:
    system = short_tokens
    email, password = system.create_user()
    context, page = open_page(browser)
    try:
        sign_in(page, system.gateway, email, password)
        page.reload()
        expect(page.get_by_role("heading", name="Convert videos")).to_be_visible()
        expect(page.locator("#who")).to_have_text(email)
        expect(page.get_by_role("heading", name="Sign in")).to_be_hidden()
        assert stored_tokens(page) == []

        second = context.new_page()
        second.goto(f"{system.gateway}/")
        expect(second.get_by_role("heading", name="Convert videos")).to_be_visible()
        expect(second.locator("#who")).to_have_text(email)
        screenshot(second, "20-second-tab")

        # both tabs renew their tokens past the access token's lifetime, one after the other
        page.wait_for_timeout((SHORT_TOKEN_SECONDS + 5) * 1000)
        page.get_by_role("button", name="Refresh").click()
        second.get_by_role("button", name="Refresh").click()
        expect(page.locator("#app-error")).to_be_hidden()
        expect(second.locator("#app-error")).to_be_hidden()
        expect(page.get_by_role("heading", name="Convert videos")).to_be_visible()

        second.get_by_role("button", name="Sign out").click()
        expect(second.get_by_role("heading", name="Sign in")).to_be_visible()
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()  # told by the other tab
        page.reload()
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()  # the session is gone
        assert page.errors == []  # type: ignore[attr-defined]
    finally:
        context.close()


def write_large_video(path: Path, seconds: float) -> None:
    """Uncompressed sound makes a file of ~176 kB a second: several tus chunks in a minute."""
    write_sample_video(path, seconds=seconds, width=64, height=48, audio_codec="pcm_s16le", container_format="matroska")


def test_an_upload_outlives_the_access_token(browser: Browser, short_tokens: System, tmp_path: Path) -> None:
    system = short_tokens
    video = tmp_path / "long talk.mkv"
    write_large_video(video, seconds=60.0)
    assert video.stat().st_size > 9 * 1024 * 1024  # two PATCHes of 8 MiB at least
    context, page = open_page(browser)
    statuses: dict[str, list[int]] = {"refresh": [], "uploads": []}

    def record(response: Response) -> None:
        if "/v1/auth/refresh" in response.url:
            statuses["refresh"].append(response.status)
        elif "/v1/uploads" in response.url:
            statuses["uploads"].append(response.status)

    page.on("response", record)
    try:
        sign_in(page, system.gateway, *system.create_user())
        throttle(context, page, 300 * 1024)  # 8 MiB take ~27 s: the token expires during the first PATCH
        page.set_input_files("#files", video)
        item = row(page, "long talk.mkv")
        expect(item.locator(".state")).to_have_text("Ready", timeout=240_000)
        assert statuses["refresh"].count(200) >= 2, statuses  # renewed while it uploaded
        assert len(statuses["uploads"]) >= 3, statuses  # created, then patched more than once
        screenshot(page, "21-upload-outlived-the-token")
    finally:
        context.close()


def test_a_file_dropped_after_the_session_ended_uploads_once_signed_in_again(
    browser: Browser, short_tokens: System, sample_video: tuple[Path, float]
) -> None:
    system = short_tokens
    email, password = system.create_user()
    context, page = open_page(browser)
    try:
        sign_in(page, system.gateway, email, password)
        context.clear_cookies()  # the refresh token is gone: the session ends with the access token
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible(timeout=(SHORT_TOKEN_SECONDS + 30) * 1000)
        page.set_input_files("#files", sample_video[0])  # dropped on the page as it asks to sign in
        expect(page.locator("#sign-in-why")).to_have_text("Please sign in again: 1 file is waiting to upload.")
        screenshot(page, "22-sign-in-again")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        expect(row(page, "sample.mp4").locator(".state")).to_have_text("Ready")  # not lost
    finally:
        context.close()
