"""The core loop in a real browser against the real stack: headless Chromium logs
in, submits, watches progress and plays the result."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser_kit import CSPWatch, csp, log_in, page, stack, submit

pytestmark = pytest.mark.browser
__all__ = ["csp", "page", "stack"]  # fixtures, used by name


def test_a_member_makes_a_video_and_watches_it_arrive(page: Any) -> None:
    progress_requests: list[str] = []
    media_statuses: list[int] = []
    page.on(
        "request",
        lambda r: progress_requests.append(r.url) if "/videos/progress/" in r.url else None,
    )
    page.on(
        "response",
        lambda r: media_statuses.append(r.status) if r.url.endswith("/video/") else None,
    )
    log_in(page)

    # The form follows the catalog: Veo offers 4/6/8 s, Sora up to 20 s.
    page.click("header >> text=New video")
    page.select_option("#id_model", "Veo-3")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#id_seconds option')]"
        ".map(o => o.value).join() === '4,6,8'"
    )
    page.select_option("#id_model", "Sora-2")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#id_seconds option')].some(o => o.value === '12')"
    )
    # Bad input is explained inline, next to the field.
    page.fill("#id_prompt", "   ")
    page.click("#video-form button[type=submit]")
    page.wait_for_selector("#field-prompt .field-error")
    assert "Write a prompt" in page.inner_text("#field-prompt")

    submit(page, "A paper boat on a rainy street 雨中的纸船")
    submit(page, "A lighthouse at dawn")
    page.evaluate("window.__sameDocument = true")
    cards = page.locator(".video-card")
    assert cards.count() == 2

    # Progress moves without a reload.
    bar = page.locator(".video-card progress").first
    bar.wait_for()
    first_value = float(bar.get_attribute("value") or 0)
    page.wait_for_function(
        f"() => [...document.querySelectorAll('.video-card progress')]"
        f".some(p => Number(p.value) > {first_value})"
    )

    # One polling request per interval covers both cards.
    started = len(progress_requests)
    page.wait_for_timeout(3000)
    window = progress_requests[started:]
    assert 1 <= len(window) <= 5, window
    assert all(url.count("id=") == 2 for url in window if "id=" in url)

    # Both finish; their posters appear, in the same document, and nothing loads the
    # videos themselves until one is played.
    page.wait_for_function(
        "() => document.querySelectorAll('.video-card .scrub.play').length === 2",
        timeout=45_000,
    )
    assert page.evaluate("window.__sameDocument") is True
    poster = page.locator(".video-card .scrub.play").first
    assert poster.locator("img").get_attribute("src")
    assert page.locator(".video-card video").count() == 0

    # Polling stopped once nothing was in flight.
    page.wait_for_timeout(1500)
    settled = len(progress_requests)
    page.wait_for_timeout(3000)
    assert len(progress_requests) == settled

    # Polling is over: no request for a video so far.
    assert media_statuses == []

    # A click plays it in place (a card swapped in by the poller plays too), with its
    # poster; seeking works (the server answers ranges).
    poster.click()
    video = page.locator(".video-card video").first
    video.wait_for()
    assert video.get_attribute("poster")
    assert page.locator(".video-card video").count() == 1
    video.evaluate("v => { v.muted = true; return v.play(); }")
    page.wait_for_function(
        "() => document.querySelector('.video-card video').currentTime > 0.3", timeout=15_000
    )
    video.evaluate(
        "v => new Promise(done => { v.addEventListener('seeked', done, {once: true});"
        " v.currentTime = 3.0; })"
    )
    state = video.evaluate("v => [v.currentTime, v.readyState, v.duration, v.error]")
    assert state[0] >= 2.9 and state[1] >= 2 and state[3] is None, state
    assert abs(state[2] - 4.0) < 0.5, state
    assert 206 in media_statuses

    # Its page has the facts and the downloads.
    page.locator(".video-card .prompt a").first.click()
    page.wait_for_selector(".video-panel video")
    text = page.inner_text("main")
    for expected in ("Download video", "Thumbnail", "Spritesheet", "Sora-2", "4 seconds"):
        assert expected in text


def test_a_member_browses_the_gallery_and_plays_a_video_from_the_middle(page: Any) -> None:
    log_in(page)
    submit(page, "Gallery lighthouse at dusk")
    submit(page, "Gallery harbour in fog")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.video-card')].filter("
        "c => /Gallery/.test(c.textContent) && c.querySelector('.scrub.play')).length === 2",
        timeout=45_000,
    )
    page.click("header >> text=Gallery")
    page.wait_for_selector(".gallery-card")
    page.evaluate("window.__sameDocument = true")

    # A preview is showing while the search runs: htmx's snapshot of the page (restored by
    # going back) must not keep the preview's styles, which the CSP would refuse.
    scrub = page.locator(".gallery-card .scrub[data-sprite]").first
    box = scrub.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    assert scrub.get_attribute("data-frame") is not None

    # Search narrows the grid without a reload and lands in the URL; back undoes it.
    page.fill("#id_q", "lighthouse")
    page.wait_for_url("**q=lighthouse**")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.gallery-card')].every("
        "c => /lighthouse/.test(c.textContent))"
    )
    assert page.evaluate("window.__sameDocument") is True
    page.go_back()
    page.wait_for_function(
        "() => [...document.querySelectorAll('.gallery-card')]"
        ".some(c => /harbour/.test(c.textContent))"
    )
    assert "q=lighthouse" not in page.url

    # Hovering scrubs through the spritesheet.
    card = page.locator(".gallery-card", has_text="lighthouse").first
    poster = card.locator(".scrub")
    box = poster.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + 2, box["y"] + box["height"] / 2)
    first = poster.get_attribute("data-frame")
    page.mouse.move(box["x"] + box["width"] - 2, box["y"] + box["height"] / 2)
    last = poster.get_attribute("data-frame")
    assert first is not None and last is not None and int(last) > int(first)
    assert card.locator(".sprite").is_visible()

    # Star it.
    card.locator("button.star").click()
    card.locator("button.star.on").wait_for()

    # Click plays in place; seeking to the middle works.
    poster.click()
    video = card.locator("video")
    video.wait_for()
    video.evaluate("v => { v.muted = true; return v.play(); }")
    page.wait_for_function(
        "() => { const v = document.querySelector('.gallery-card video');"
        " return v && v.readyState >= 2 && v.duration > 0; }"
    )
    middle = video.evaluate(
        "v => new Promise(done => { v.addEventListener('seeked', () => done(v.currentTime),"
        " {once: true}); v.currentTime = v.duration / 2; })"
    )
    assert abs(middle - 2.0) < 0.3


def test_a_teammate_remixes_a_video_then_extends_the_remix(page: Any) -> None:
    log_in(page)
    submit(page, "Family origin: a red kite over hills")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.video-card')].some("
        "c => /Family origin/.test(c.textContent) && c.querySelector('.scrub.play'))",
        timeout=45_000,
    )
    original_url = page.locator(".video-card .prompt a", has_text="Family origin").first
    original_href = original_url.get_attribute("href")
    page.click("header button:has-text('Log out')")
    page.wait_for_url("**/accounts/login/**")

    log_in(page, "mate")
    page.goto(original_href)
    page.fill("#id_remix_prompt", "as a neon night scene")
    page.click("#derive-remix button[type=submit]")
    page.wait_for_url(lambda url: not url.endswith(original_href))
    page.wait_for_selector(".video-panel video", timeout=45_000)  # the remix, finished
    assert "as a neon night scene" in page.inner_text("h1")
    tree = page.locator("#family .node")
    assert tree.count() == 2
    assert "Remix" in tree.nth(1).inner_text() and tree.nth(1).get_attribute("aria-current")

    remix_url = page.url
    page.select_option("#id_extension_seconds", "8")
    page.fill("#id_extension_prompt", "then it starts to rain")
    page.click("#derive-extension button[type=submit]")
    page.wait_for_url(lambda url: url != remix_url)
    tree = page.locator("#family .node")
    assert tree.count() == 3
    texts = [tree.nth(i).inner_text() for i in range(3)]
    assert "Family origin" in texts[0] and "Remix" in texts[1] and "Extension" in texts[2]
    assert "12 s" in texts[2]  # 4 s remixed, extended by 8: the stitched total
    assert tree.nth(2).get_attribute("aria-current") == "true"

    # The original's page shows the whole family too.
    page.goto(original_href)
    assert page.locator("#family .node").count() == 3


def test_staff_review_who_spent_what(page: Any, tmp_path: Path) -> None:
    log_in(page)
    submit(page, "Costed: a paper plane")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.video-card')].some("
        "c => /Costed/.test(c.textContent) && c.querySelector('.scrub.play'))",
        timeout=45_000,
    )
    page.click("header >> text=Usage")
    page.wait_for_selector("svg.chart")
    members = page.inner_text("#per-member")
    assert "e2e" in members
    row = page.locator("#per-member tr", has_text="e2e").inner_text().split()
    assert int(row[1]) > 0  # points, as the provider reported them

    page.click(".tabs >> text=Jobs")
    page.wait_for_selector("table#jobs")
    assert "Costed" not in page.inner_text("table#jobs")  # ids, not prompts
    assert "(reported by the provider)" in page.inner_text("table#jobs")

    with page.expect_download() as download:
        page.click("text=Download CSV")
    path = tmp_path / "jobs.csv"
    download.value.save_as(path)
    header = path.read_text().splitlines()[0]
    assert header.startswith("time,video,member,model")


def test_polling_rests_while_the_tab_is_hidden(page: Any) -> None:
    progress: list[str] = []
    page.on("request", lambda r: progress.append(r.url) if "/videos/progress/" in r.url else None)
    log_in(page)
    submit(page, "Hidden tab: a slow sunrise")
    page.wait_for_function("() => document.querySelector('#poller[hx-get]')")
    # What the browser says when the tab goes to the background.
    page.evaluate(
        "Object.defineProperty(document, 'hidden', {configurable: true, get: () => true});"
        "document.dispatchEvent(new Event('visibilitychange'))"
    )
    page.wait_for_timeout(300)
    hidden_from = len(progress)
    page.wait_for_timeout(2500)
    assert len(progress) == hidden_from  # the 1 s poller skipped its turns

    # Back in front: it asks again, and goes on until the video is there.
    with page.expect_request("**/videos/progress/**", timeout=5000):
        page.evaluate(
            "Object.defineProperty(document, 'hidden', {configurable: true, get: () => false});"
            "document.dispatchEvent(new Event('visibilitychange'))"
        )
    page.wait_for_function(
        "() => [...document.querySelectorAll('.video-card')].some("
        "c => /Hidden tab/.test(c.textContent) && c.querySelector('.scrub.play'))",
        timeout=45_000,
    )


def test_the_admin_works_under_the_policy(page: Any) -> None:
    log_in(page)
    page.goto("/admin/")
    page.wait_for_selector("text=Review usage")
    for path, expect in (
        ("/admin/videos/video/", "#changelist"),
        ("/admin/catalog/catalogentry/", "text=Sync from provider"),
        ("/admin/usage/ledgerentry/", "#changelist"),
        ("/admin/auth/user/add/", "#user_form"),
    ):
        page.goto(path)
        page.wait_for_selector(expect)
    # The change list's script runs: picking a row offers the actions.
    page.goto("/admin/catalog/catalogentry/")
    page.locator("#action-toggle").check()
    page.wait_for_function("() => document.querySelector('.action-counter').textContent.length")
    page.goto("/admin/catalog/catalogentry/1/change/")
    page.wait_for_selector("#catalogentry_form")


INJECTED = (
    "<script>window.__injectedRan = true</script>"
    '<p id="injected" style="color: red">injected</p>'
    '<div hx-get="/accounts/login/" hx-trigger="click [window.__filterRan = true]"></div>'
)


def test_the_watch_catches_an_injected_inline_script(page: Any, csp: CSPWatch) -> None:
    """The check every browser test ends with must see a violation when there is one."""

    def inject(route: Any) -> None:
        response = route.fetch()
        route.fulfill(response=response, body=response.text().replace("</main>", INJECTED))

    page.route("**/accounts/login/", inject)
    page.goto("/accounts/login/")
    page.wait_for_selector("#injected")
    page.wait_for_function("() => window.htmx !== undefined")
    page.wait_for_timeout(300)
    # Blocked, all three: the script, the style, the htmx filter (htmx won't eval it).
    assert page.evaluate("window.__injectedRan") is None
    assert page.evaluate("getComputedStyle(injected).color") != "rgb(255, 0, 0)"
    assert {v["directive"] for v in csp.violations} >= {"script-src-elem", "style-src-attr"}
    problems = csp.problems()
    assert any(p.startswith("htmx:") for p in problems), problems
    csp.clear()  # this test's violations were the point; the teardown check stays for others


def test_an_image_too_large_is_refused_above_the_form_which_keeps_what_was_typed(
    page: Any,
) -> None:
    log_in(page)
    page.click("header >> text=New video")
    page.select_option("#id_model", "Sora-2")
    page.fill("#id_prompt", "Too big: a whale in a teacup")
    # Past VIDEOSTUDIO_MAX_UPLOAD_MB + 1 MB (10 + 1 by default): the app answers 413
    # from the length alone, and htmx shows it in the page's alert area.
    huge = b"\x89PNG\r\n\x1a\n" + bytes(12 * 1024 * 1024)
    page.set_input_files(
        "#id_image", files=[{"name": "huge.png", "mimeType": "image/png", "buffer": huge}]
    )
    page.click("#video-form button[type=submit]")
    page.wait_for_selector("#page-alert #request-too-large")
    assert "too large to accept" in page.inner_text("#page-alert")
    assert page.input_value("#id_prompt") == "Too big: a whale in a teacup"
    assert page.locator("#video-form").count() == 1
