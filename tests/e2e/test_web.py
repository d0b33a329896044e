"""The web page in headless Chromium (Debian's package, driven by Playwright) against the
running system: sign in, upload, watch, download, delete; a phone-sized screen; keyboard
use. A screenshot of each main screen is saved under ``tests/artifacts/web/``."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import av
import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright

from converter.samples import write_sample_video
from tests.e2e.conftest import System, wait_for
from tests.e2e.test_flow import bearer, decoded_duration

CHROMIUM = Path(os.environ.get("VIDMP3_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(os.environ.get("VIDMP3_TEST_ARTIFACTS", Path(__file__).parents[1] / "artifacts")) / "web"
WAIT_MS = 60_000


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright, request: pytest.FixtureRequest) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium is missing at {CHROMIUM}: run `scripts/browser` (it installs Debian's `chromium`; "
            "`./run test` does it first) or point VIDMP3_CHROMIUM at a Chromium binary",
            pytrace=False,
        )
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
    expect.set_options(timeout=WAIT_MS)  # conversions take seconds on a loaded machine, not 5 s
    yield browser
    browser.close()
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if capture is not None and ARTIFACTS.exists():
        with capture.global_and_fixture_disabled():
            print(f"\nweb page screenshots: {ARTIFACTS}")


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport={"width": 1100, "height": 900}, accept_downloads=True)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors  # type: ignore[attr-defined]
    return page


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=path, full_page=True)
    print(f"screenshot: {path}")
    return path


def sign_in(page: Page, system: System, email: str, password: str) -> None:
    page.goto(f"{system.gateway}/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Convert videos")).to_be_visible()


def job_row(page: Page, filename: str) -> object:
    return page.locator("li.job").filter(has_text=filename)


def test_a_person_signs_in_converts_a_video_and_downloads_the_mp3(
    page: Page, system: System, sample_video: tuple[Path, float], tmp_path: Path
) -> None:
    email, password = system.create_user()
    page.goto(f"{system.gateway}/")
    expect(page).to_have_title("vidmp3 · videos in, MP3s out")
    expect(page.get_by_role("button", name="Sign out")).to_be_hidden()
    screenshot(page, "1-sign-in")

    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#sign-in-error")).to_have_text("Sign-in failed: Wrong email or password.")
    expect(page.get_by_role("heading", name="Convert videos")).to_be_hidden()
    screenshot(page, "2-wrong-password")

    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Convert videos")).to_be_visible()
    expect(page.get_by_text(email)).to_be_visible()
    expect(page.get_by_text("No jobs yet")).to_be_visible()
    screenshot(page, "3-signed-in")

    # a form made from the options' schema
    page.get_by_label("Bitrate (kbit/s)").select_option("128")
    page.get_by_label("Channels").select_option("mono")
    video = tmp_path / "Holiday été.mp4"
    video.write_bytes(sample_video[0].read_bytes())
    page.set_input_files("#files", video)
    row = job_row(page, "Holiday été.mp4")
    expect(row.locator(".state")).to_have_text("notified", timeout=WAIT_MS)  # live, through the event stream
    expect(page.locator("#announcer")).to_contain_text("Holiday été")
    screenshot(page, "4-converted")

    job_id = row.get_attribute("data-job-id")
    token = system.login(email, password)
    states = [
        step["state"]
        for step in httpx.get(f"{system.gateway}/v1/jobs/{job_id}", headers=bearer(token)).json()["history"]
    ]
    assert states == ["queued", "converting", "converted", "notified"]

    with page.expect_download() as download:
        row.get_by_role("button", name="Download Holiday été.mp3").click()
    assert download.value.suggested_filename == "Holiday été.mp3"
    mp3 = tmp_path / "downloaded.mp3"
    download.value.save_as(mp3)
    assert abs(decoded_duration(mp3.read_bytes()) - sample_video[1]) < 0.1
    with av.open(io.BytesIO(mp3.read_bytes())) as container:
        assert container.streams.audio[0].bit_rate == 128_000
        assert container.streams.audio[0].channels == 1

    row.get_by_role("button", name="Delete Holiday été.mp4").click()
    expect(row).to_have_count(0)
    assert httpx.get(f"{system.gateway}/v1/jobs/{job_id}", headers=bearer(token)).status_code == 404
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_video_without_audio_is_refused_with_the_servers_reason(page: Page, system: System, tmp_path: Path) -> None:
    sign_in(page, system, *system.create_user())
    silent = tmp_path / "silent.mp4"
    write_sample_video(silent, seconds=1.0, audio_codec=None)
    page.set_input_files("#files", silent)
    upload = page.locator("li.upload").filter(has_text="silent.mp4")
    expect(upload.locator(".state")).to_have_text("refused")
    expect(upload.locator(".detail")).to_contain_text("audio")
    screenshot(page, "5-refused")


def test_the_page_fits_a_phone_and_works_by_keyboard(
    browser: Browser, system: System, sample_video: tuple[Path, float]
) -> None:
    email, password = system.create_user()
    context = browser.new_context(viewport={"width": 375, "height": 812}, is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        page.goto(f"{system.gateway}/app")
        # keyboard only: the page starts in the email field, the skip link comes before it,
        # the fields follow in order, Enter submits
        expect(page.get_by_label("Email")).to_be_focused()
        page.keyboard.press("Shift+Tab")
        expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
        page.keyboard.press("Tab")
        expect(page.get_by_label("Email")).to_be_focused()
        page.keyboard.type(email)
        page.keyboard.press("Tab")
        expect(page.get_by_label("Password")).to_be_focused()
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline == "solid"  # the focus is visible
        page.keyboard.type(password)
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name="Convert videos")).to_be_visible()

        page.set_input_files("#files", sample_video[0])
        row = job_row(page, "sample.mp4")
        expect(row.locator(".state")).to_have_text("notified")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, f"the page is {width} px wide on a 375 px screen"
        for name in ("Download sample.mp3", "Delete sample.mp4"):
            box = row.get_by_role("button", name=name).bounding_box()
            assert box is not None
            assert box["x"] >= 0
            assert box["x"] + box["width"] <= 375
            assert box["height"] >= 44  # a comfortable touch target
        screenshot(page, "6-phone")

        delete = row.get_by_role("button", name="Delete sample.mp4")
        delete.focus()
        page.keyboard.press("Enter")
        expect(row).to_have_count(0)
        expect(page.get_by_role("button", name="Refresh")).to_be_focused()  # focus is not lost
    finally:
        context.close()


def test_an_upload_cut_off_by_a_reload_resumes_when_the_file_is_dropped_again(
    page: Page, context: BrowserContext, system: System, tmp_path: Path
) -> None:
    video = tmp_path / "big.mp4"
    write_sample_video(video, seconds=20.0, width=640, height=480)
    size = video.stat().st_size
    email, password = system.create_user()
    sign_in(page, system, email, password)
    network = context.new_cdp_session(page)
    network.send("Network.enable")
    network.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 100 * 1024},
    )
    page.set_input_files("#files", video)
    progress = page.get_by_role("progressbar", name="Upload of big.mp4")
    # (a polled attribute: the page's CSP forbids the string evaluation wait_for_function uses)
    wait_for(lambda: int(progress.get_attribute("value") or 0) >= 30, timeout=60, interval=0.05)
    assert int(progress.get_attribute("value") or 0) < 100
    page.reload()  # the upload is cut off mid-way; the session and the upload's URL stay
    network.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    expect(page.get_by_role("heading", name="Convert videos")).to_be_visible()

    token = system.login(email, password)
    key = next(k for k in page.evaluate("Object.keys(localStorage)") if k.startswith("vidmp3.upload:"))
    url = page.evaluate("key => localStorage.getItem(key)", key)
    stored = int(
        httpx.head(f"{system.gateway}{url}", headers={**bearer(token), "Tus-Resumable": "1.0.0"}).headers[
            "upload-offset"
        ]
    )
    assert 0 < stored < size

    page.set_input_files("#files", video)
    percent = stored * 100 // size
    expect(page.locator("li.upload").filter(has_text="big.mp4")).to_contain_text(f"resumed at {percent} %")
    row = job_row(page, "big.mp4")
    expect(row.locator(".state")).to_have_text("notified")
    assert row.get_attribute("data-job-id") == url.rsplit("/", 1)[1]  # the same upload, finished
    assert page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('vidmp3.upload:'))") == []


def test_the_page_is_not_part_of_the_api_document(system: System) -> None:
    document = httpx.get(f"{system.gateway}/docs/openapi.json").json()
    assert not [path for path in document["paths"] if not path.startswith("/v1/")]
    page = httpx.get(f"{system.gateway}/")
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert httpx.get(f"{system.gateway}/app/static/app.js").headers["content-type"].startswith("text/javascript")
    assert httpx.get(f"{system.gateway}/app/static/../web.py").status_code == 404


_CONTRAST = """
selectors => {
  const rgb = text => text.match(/[\\d.]+/g).map(Number);
  const luminance = ([r, g, b]) => {
    const channel = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  };
  const background = node => {
    for (; node; node = node.parentElement) {
      const color = rgb(getComputedStyle(node).backgroundColor);
      if (color.length < 4 || color[3] > 0) return color;
    }
    return [255, 255, 255];
  };
  const found = [];
  for (const selector of selectors) {
    for (const node of document.querySelectorAll(selector)) {
      if (!node.offsetParent && getComputedStyle(node).position !== "fixed") continue;  // not shown
      const [a, b] = [luminance(rgb(getComputedStyle(node).color)), luminance(background(node))];
      found.push([selector, node.textContent.trim().slice(0, 30), (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)]);
    }
  }
  return found;
}
"""


_SELECTORS = [
    *(".bar h1", "#who", "h2", "legend", "label", ".hint", ".field-hint", ".dropzone-title", ".dropzone-hint"),
    *("select", "input", "button", ".name", ".state", ".detail", ".error", "code"),
]


def test_every_text_has_enough_contrast(
    page: Page, system: System, sample_video: tuple[Path, float], tmp_path: Path
) -> None:
    """WCAG AA: 4.5:1 for the text of every kind of element the page shows."""
    email, password = system.create_user()
    page.goto(f"{system.gateway}/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#sign-in-error")).to_be_visible()
    measured = page.evaluate(_CONTRAST, _SELECTORS)  # the sign-in screen, with its error

    sign_in(page, system, email, password)
    page.set_input_files("#files", sample_video[0])
    expect(job_row(page, "sample.mp4").locator(".state")).to_have_text("notified")
    silent = tmp_path / "silent.mp4"
    write_sample_video(silent, seconds=1.0, audio_codec=None)
    page.set_input_files("#files", silent)
    expect(page.locator("li.upload").filter(has_text="silent.mp4").locator(".state")).to_have_text("refused")
    measured += page.evaluate(_CONTRAST, _SELECTORS)  # the signed-in screen: jobs, uploads, a refusal

    assert {selector for selector, _, _ in measured} >= {"button", ".state", ".error", ".hint", "label", "select"}
    low = [(selector, text, round(ratio, 2)) for selector, text, ratio in measured if ratio < 4.5]
    assert not low, f"text below 4.5:1 contrast: {low}"
