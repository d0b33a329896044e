"""The web page in headless Chromium (Debian's package, driven by Playwright) against the
running system, used as a person would: sign in, drop a video, play and download the MP3,
delete it; an email's links opened signed out; the drop zone on a laptop and a phone screen;
keyboard only; contrast; uploads resumed and stopped (sessions: ``test_web_sessions.py``).
A screenshot of each screen is saved under ``tests/artifacts/web/``."""

from __future__ import annotations

import io
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Error, Locator, Page, Playwright, expect, sync_playwright

from converter.samples import write_sample_video
from tests.e2e.conftest import System, wait_for
from tests.e2e.test_flow import bearer, decoded_duration, upload, wait_terminal

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


def open_page(browser: Browser, width: int = 1100, height: int = 900, **options: Any) -> tuple[BrowserContext, Page]:
    context = browser.new_context(viewport={"width": width, "height": height}, accept_downloads=True, **options)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors  # type: ignore[attr-defined]
    return context, page


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


def screenshot(page: Page, name: str, *, full_page: bool = True) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=path, full_page=full_page)
    print(f"screenshot: {path}")
    return path


def sign_in(page: Page, gateway: str, email: str, password: str, path: str = "/") -> None:
    page.goto(f"{gateway}{path}")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Convert videos")).to_be_visible()


def signed_in_again(page: Page, email: str, password: str) -> None:
    """Past a sign-in screen, if one shows (the session itself is tested on its own)."""
    app, form = page.get_by_role("heading", name="Convert videos"), page.get_by_role("heading", name="Sign in")
    expect(app.or_(form)).to_be_visible()
    if form.is_visible():
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
    expect(app).to_be_visible()


def row(page: Page, name: str) -> Locator:
    return page.locator("li.job").filter(has=page.get_by_role("heading", name=name, exact=True))


def played_seconds(page: Page) -> float:
    return float(page.evaluate("() => document.querySelector('audio')?.currentTime ?? 0"))


def test_a_person_signs_in_converts_a_video_plays_and_downloads_the_mp3(
    page: Page, system: System, sample_video: tuple[Path, float], tmp_path: Path
) -> None:
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    email, password = system.create_user()
    page.goto(f"{system.gateway}/")
    expect(page).to_have_title("vidmp3 · videos in, MP3s out")
    expect(page.get_by_role("button", name="Sign out")).to_be_hidden()
    screenshot(page, "01-sign-in")

    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#sign-in-error")).to_have_text("Sign-in failed: Wrong email or password.")
    screenshot(page, "02-wrong-password")

    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Convert videos")).to_be_visible()
    expect(page.get_by_text(email)).to_be_visible()
    expect(page.get_by_text("No files yet")).to_be_visible()
    expect(page.get_by_label("Voice (mono, 64 kbit/s)")).to_be_hidden()  # folded away
    screenshot(page, "03-signed-in")

    page.get_by_text("More options").click()
    page.get_by_label("Voice (mono, 64 kbit/s)").check()
    expect(page.get_by_text("For talks, lectures and podcasts")).to_be_visible()  # help for people
    screenshot(page, "04-more-options")
    video = tmp_path / "Holiday été.mp4"
    video.write_bytes(sample_video[0].read_bytes())
    page.set_input_files("#files", video)
    item = row(page, "Holiday été.mp4")
    expect(item.locator(".state")).to_have_text("Ready")  # live, through the job's event stream
    expect(item.locator(".detail")).to_have_text(re.compile(r"today .* · 0:03 · \d+ kB · kept until "))
    expect(page.locator("#announcer")).to_contain_text("Holiday été")
    screenshot(page, "05-ready")

    item.get_by_role("button", name="Play Holiday été.mp3").click()
    wait_for(lambda: played_seconds(page) > 0.5, timeout=30)  # the player plays
    cover = item.get_by_role("img", name="Cover of Holiday été.mp3")  # beside it, the MP3's cover picture
    expect(cover).to_be_visible()
    assert page.evaluate("() => document.querySelector('img.cover').naturalWidth") > 0
    screenshot(page, "06-playing")

    with page.expect_download() as download:
        item.get_by_role("link", name="Download Holiday été.mp3").click()
    assert download.value.suggested_filename == "Holiday été.mp3"
    mp3 = tmp_path / "downloaded.mp3"
    download.value.save_as(mp3)
    assert abs(decoded_duration(mp3.read_bytes()) - sample_video[1]) < 0.1
    with av.open(io.BytesIO(mp3.read_bytes())) as container:
        assert container.streams.audio[0].bit_rate == 64_000
        assert container.streams.audio[0].channels == 1
    # the player and the download used the signed link: no MP3 passed through the page's memory
    assert any("/v1/downloads/" in url for url in requests)
    assert not [url for url in requests if url.endswith("/mp3")]

    job_id = item.get_attribute("data-job-id")
    item.get_by_role("button", name="Delete Holiday été.mp4").click()
    expect(item.get_by_text("Delete Holiday été.mp4 and its MP3? This cannot be undone.")).to_be_visible()
    screenshot(page, "07-delete-confirmation")
    item.get_by_role("button", name="Yes, delete Holiday été.mp4 and its MP3").click()
    expect(item).to_have_count(0)
    token = system.login(email, password)
    assert httpx.get(f"{system.gateway}/v1/jobs/{job_id}", headers=bearer(token)).status_code == 404
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_video_split_per_chapter_lists_a_download_for_each_chapter(
    page: Page, system: System, tmp_path: Path
) -> None:
    sign_in(page, system.gateway, *system.create_user())
    page.get_by_text("More options").click()
    page.get_by_label("Also one MP3 per chapter").check()
    video = tmp_path / "Lecture.mp4"
    write_sample_video(video, seconds=6.0, width=64, height=48, chapters=[(0.0, "Welcome"), (2.5, "The method")])
    page.set_input_files("#files", video)
    item = row(page, "Lecture.mp4")
    expect(item.locator(".state")).to_have_text("Ready")

    item.get_by_text("One MP3 per chapter (2)").click()
    link = item.get_by_role("link", name="Download chapter 2: The method")
    expect(link).to_be_visible()
    expect(item.locator(".parts li")).to_have_text(
        [re.compile(r"Welcome · 0:0[23]"), re.compile(r"The method · 0:0[34]")]
    )
    screenshot(page, "15-parts-per-chapter")
    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == "Lecture - 02 The method.mp3"
    part = tmp_path / "part.mp3"
    download.value.save_as(part)
    assert abs(decoded_duration(part.read_bytes()) - 3.5) < 0.05

    # after a reload the list gives the number of parts; the page fetches the job's own view for them
    page.reload()
    item = row(page, "Lecture.mp4")
    item.get_by_text("One MP3 per chapter (2)").click()
    expect(item.get_by_role("link", name="Download chapter 1: Welcome")).to_be_visible()
    assert page.errors == []  # type: ignore[attr-defined]


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (390, 844)])
def test_the_drop_zone_is_visible_without_scrolling(browser: Browser, system: System, width: int, height: int) -> None:
    context, page = open_page(browser, width, height, is_mobile=width < 500, has_touch=width < 500)
    try:
        sign_in(page, system.gateway, *system.create_user())
        box = page.locator("#dropzone").bounding_box()
        assert box is not None
        assert box["y"] >= 0
        assert box["y"] + box["height"] <= height, f"the drop zone ends at {box['y'] + box['height']} px of {height}"
        assert box["height"] >= 100
        assert page.evaluate("() => document.documentElement.scrollWidth") <= width
        screenshot(page, f"08-drop-zone-{width}x{height}", full_page=False)
    finally:
        context.close()


def test_a_video_without_audio_is_refused_with_the_servers_words(page: Page, system: System, tmp_path: Path) -> None:
    email, password = system.create_user()
    silent = tmp_path / "silent.mp4"
    write_sample_video(silent, seconds=1.0, audio_codec=None)
    refused = upload(system, system.login(email, password), "silent.mp4", silent.read_bytes())
    assert refused.status_code == 422

    sign_in(page, system.gateway, email, password)
    page.set_input_files("#files", silent)
    item = page.locator("li.job").filter(has_text="silent.mp4")
    expect(item.locator(".state")).to_have_text("Not accepted")
    expect(item.locator(".reason")).to_have_text(refused.json()["detail"])  # the problem's detail, nothing else
    expect(item.get_by_role("button", name="Remove silent.mp4 from the list")).to_be_visible()
    screenshot(page, "09-not-accepted")


def test_an_emails_links_open_the_mp3_signed_out_and_the_job_after_signing_in(
    browser: Browser, system: System, sample_video: tuple[Path, float]
) -> None:
    email, password = system.create_user()
    token = system.login(email, password)
    job_id = upload(system, token, "emailed.mp4", sample_video[0].read_bytes()).json()["job_id"]
    assert wait_terminal(system, token, job_id)["state"] == "notified"
    [message] = wait_for(lambda: system.mailbox.for_job(job_id), timeout=30)
    text = message.get_payload()[0].get_payload(decode=True).decode()
    [download_link] = re.findall(rf"{re.escape(system.gateway)}/v1/downloads/\S+", text)
    [job_link] = re.findall(rf"{re.escape(system.gateway)}/jobs/\S+", text)

    context, page = open_page(browser)  # a browser nobody signed in to
    try:
        with page.expect_download() as download, pytest.raises(Error, match=r"ERR_ABORTED|Download is starting"):
            page.goto(download_link)  # a download ends the navigation: that is the point
        assert download.value.suggested_filename == "emailed.mp3"
        expected = httpx.get(f"{system.gateway}/v1/jobs/{job_id}/mp3", headers=bearer(token)).content
        assert Path(download.value.path()).read_bytes() == expected

        page.goto(job_link)
        expect(page.get_by_text("Sign in to see this job.")).to_be_visible()
        screenshot(page, "10-job-link-signed-out")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        opened = page.locator(f'li.job[data-job-id="{job_id}"]')
        expect(opened).to_have_class(re.compile(r"\bopened\b"))
        expect(opened.get_by_role("heading", name="emailed.mp4")).to_be_focused()
        expect(opened.locator(".state")).to_have_text("Ready")
        screenshot(page, "11-job-link-opened")
    finally:
        context.close()


def test_the_page_works_by_keyboard_alone(browser: Browser, system: System, sample_video: tuple[Path, float]) -> None:
    email, password = system.create_user()
    context, page = open_page(browser, 390, 844, is_mobile=True, has_touch=True)
    try:
        page.goto(f"{system.gateway}/app")
        # the page starts in the email field; before it come the home link and the skip link
        expect(page.get_by_label("Email")).to_be_focused()
        page.keyboard.press("Shift+Tab")
        expect(page.get_by_role("link", name="vidmp3")).to_be_focused()
        page.keyboard.press("Shift+Tab")
        expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
        page.keyboard.press("Tab")
        page.keyboard.press("Tab")
        page.keyboard.type(email)
        page.keyboard.press("Tab")
        expect(page.get_by_label("Password")).to_be_focused()
        expect(page.get_by_label("Password")).to_have_css("outline-style", "solid")  # waits: a busy page styles late
        page.keyboard.type(password)
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name="Convert videos")).to_be_visible()
        # the page moves focus to its title once the options and the list have loaded: tabbing
        # before that (a busy machine) would be undone by it
        expect(page.locator("#upload-title")).to_be_focused()

        page.keyboard.press("Tab")
        expect(page.locator("#files")).to_be_focused()  # the drop zone, with a visible ring
        expect(page.locator("#dropzone")).to_have_css("outline-style", "solid", timeout=15_000)
        page.keyboard.press("Tab")
        expect(page.get_by_text("More options")).to_be_focused()
        page.keyboard.press("Enter")
        page.keyboard.press("Tab")
        expect(page.get_by_label("Standard 192 kbit/s")).to_be_focused()
        page.keyboard.press("ArrowDown")
        expect(page.get_by_label("High 320 kbit/s")).to_be_checked()

        page.set_input_files("#files", sample_video[0])  # (choosing a file is the system's dialog)
        item = row(page, "sample.mp4")
        expect(item.locator(".state")).to_have_text("Ready")
        item.get_by_role("button", name="Play sample.mp3").focus()
        page.keyboard.press("Enter")
        wait_for(lambda: played_seconds(page) > 0.3, timeout=30)
        for name in ("Hide player of sample.mp3", "Delete sample.mp4"):
            box = item.get_by_role("button", name=name).bounding_box()
            assert box is not None
            assert box["x"] >= 0
            assert box["x"] + box["width"] <= 390
            assert box["height"] >= 44  # a comfortable touch target
        screenshot(page, "13-phone-keyboard")

        item.get_by_role("button", name="Delete sample.mp4").focus()
        page.keyboard.press("Enter")
        expect(item.get_by_role("button", name="Yes, delete sample.mp4 and its MP3")).to_be_focused()
        page.keyboard.press("Enter")
        expect(item).to_have_count(0)
        expect(page.get_by_role("button", name="Refresh")).to_be_focused()  # focus is not lost
    finally:
        context.close()


def throttle(context: BrowserContext, page: Page, upload_bytes_per_second: int) -> None:
    network = context.new_cdp_session(page)
    network.send("Network.enable")
    network.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": upload_bytes_per_second},
    )
    page.cdp = network  # type: ignore[attr-defined]


def unthrottle(page: Page) -> None:
    page.cdp.send(  # type: ignore[attr-defined]
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )


def test_an_upload_cut_off_by_a_reload_resumes_when_the_file_is_dropped_again(
    page: Page, context: BrowserContext, system: System, tmp_path: Path
) -> None:
    video = tmp_path / "big.mp4"
    write_sample_video(video, seconds=20.0, width=640, height=480)
    size = video.stat().st_size
    email, password = system.create_user()
    sign_in(page, system.gateway, email, password)
    throttle(context, page, 100 * 1024)
    page.set_input_files("#files", video)
    progress = page.get_by_role("progressbar", name="Upload of big.mp4")
    # (a polled attribute: the page's CSP forbids the string evaluation wait_for_function uses)
    wait_for(lambda: int(progress.get_attribute("value") or 0) >= 30, timeout=60, interval=0.05)
    assert int(progress.get_attribute("value") or 0) < 100
    page.reload()  # the upload is cut off mid-way; the upload's URL stays in localStorage
    unthrottle(page)
    signed_in_again(page, email, password)

    key = next(k for k in page.evaluate("() => Object.keys(localStorage)") if k.startswith("tus::vidmp3:"))
    url = page.evaluate("key => JSON.parse(localStorage.getItem(key)).uploadUrl", key)
    token = system.login(email, password)
    head = httpx.head(f"{system.gateway}{url}", headers={**bearer(token), "Tus-Resumable": "1.0.0"})
    stored = int(head.headers["upload-offset"])
    assert 0 < stored < size

    page.set_input_files("#files", video)
    item = row(page, "big.mp4")
    expect(item).to_contain_text(f"resumed at {stored * 100 // size} %")
    expect(item.locator(".state")).to_have_text("Ready")
    assert item.get_attribute("data-job-id") == url.rsplit("/", 1)[1]  # the same upload, finished
    assert [k for k in page.evaluate("() => Object.keys(localStorage)") if k.startswith("tus::")] == []


def test_an_upload_can_be_stopped(page: Page, context: BrowserContext, system: System, tmp_path: Path) -> None:
    video = tmp_path / "stopped.mp4"
    write_sample_video(video, seconds=20.0, width=640, height=480)
    email, password = system.create_user()
    sign_in(page, system.gateway, email, password)
    throttle(context, page, 50 * 1024)
    page.set_input_files("#files", video)
    item = page.locator("li.job").filter(has_text="stopped.mp4")
    wait_for(lambda: item.get_attribute("data-job-id"), timeout=60)
    job_id = item.get_attribute("data-job-id")
    item.get_by_role("button", name="Stop uploading stopped.mp4").click()
    expect(item.locator(".state")).to_have_text("Stopped")
    screenshot(page, "14-upload-stopped")
    unthrottle(page)
    token = system.login(email, password)
    # the upload is gone from the server, and from what the page would resume
    wait_for(
        lambda: (
            httpx.head(
                f"{system.gateway}/v1/uploads/{job_id}", headers={**bearer(token), "Tus-Resumable": "1.0.0"}
            ).status_code
            == 404
        ),
        timeout=30,
    )
    assert [k for k in page.evaluate("() => Object.keys(localStorage)") if k.startswith("tus::")] == []


def test_the_page_and_its_library_are_served_and_not_part_of_the_api_document(system: System) -> None:
    document = httpx.get(f"{system.gateway}/docs/openapi.json").json()
    assert not [path for path in document["paths"] if not path.startswith("/v1/")]
    page = httpx.get(f"{system.gateway}/")
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert httpx.get(f"{system.gateway}/jobs/{uuid.uuid4()}").text == page.text  # the emails' job links
    assert httpx.get(f"{system.gateway}/app/static/app.js").headers["content-type"].startswith("text/javascript")
    assert httpx.get(f"{system.gateway}/app/static/../web.py").status_code == 404
    library = httpx.get(f"{system.gateway}/app/vendor/tus.min.js")  # from node_modules, put there by npm ci
    assert library.status_code == 200
    assert library.headers["content-type"].startswith("text/javascript")
    assert b"tus" in library.content
    assert httpx.get(f"{system.gateway}/app/vendor/package.json").status_code == 404  # an allow-list
    assert set(httpx.get(f"{system.gateway}/app/failures.json").json()) >= {"no_audio_stream", "timed_out"}


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
      if (node.disabled) continue;  // WCAG exempts inactive controls
      const [a, b] = [luminance(rgb(getComputedStyle(node).color)), luminance(background(node))];
      found.push([selector, node.textContent.trim().slice(0, 30), (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)]);
    }
  }
  return found;
}
"""


_SELECTORS = [
    *(".bar h1 a", "#who", "h2", "h3", "legend", "label", "summary", ".hint", ".field-hint", ".dropzone-title"),
    *(".dropzone-hint", ".link-like", "select", "input", "button", "a.button", ".name", ".state", ".detail"),
    *(".reason p", ".error", ".confirm"),
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

    sign_in(page, system.gateway, email, password)
    page.get_by_text("More options").click()
    page.get_by_label("Custom settings").check()
    page.set_input_files("#files", sample_video[0])
    expect(row(page, "sample.mp4").locator(".state")).to_have_text("Ready")
    silent = tmp_path / "silent.mp4"
    write_sample_video(silent, seconds=1.0, audio_codec=None)
    page.set_input_files("#files", silent)
    expect(page.locator("li.job").filter(has_text="silent.mp4").locator(".state")).to_have_text("Not accepted")
    measured += page.evaluate(_CONTRAST, _SELECTORS)  # signed in: options, a ready file, a refusal
    row(page, "sample.mp4").get_by_role("button", name="Delete sample.mp4").click()
    measured += page.evaluate(_CONTRAST, [".confirm", "button"])  # a question

    kinds = {selector for selector, _, _ in measured}
    assert kinds >= {"button", "a.button", ".state", ".error", ".hint", "label", "select", ".confirm", ".reason p"}
    low = [(selector, text, round(ratio, 2)) for selector, text, ratio in measured if ratio < 4.5]
    assert not low, f"text below 4.5:1 contrast: {low}"
