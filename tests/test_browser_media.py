"""Card media in a real browser: lists load posters only (no video request until a
card is played), hovering a poster shows exactly one frame of the spritesheet in a
box of the video's shape, and reduced motion stops the keyboard preview's animation."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser_kit import CHROMIUM_ARGS, CSPWatch, _chromium, csp, log_in, page, stack

pytestmark = pytest.mark.browser
__all__ = ["csp", "page", "stack"]  # fixtures, used by name

VIDEO_URL = re.compile(r"/videos/\d+/video/")
SIZES = {"Media portrait": "720x1280", "Media landscape": "1280x720"}


def make(page: Any, prompt: str, size: str) -> None:
    page.click("header >> text=New video")
    # Choosing the model redraws the durations and sizes (htmx): wait for that redraw,
    # or a slow one lands after the size is chosen and puts the default back.
    with page.expect_response(lambda r: "/videos/new/" in r.url and r.request.method == "GET"):
        page.select_option("#id_model", "Sora-2")
    page.wait_for_load_state("networkidle")
    page.fill("#id_prompt", prompt)
    page.select_option("#id_seconds", "4")
    page.select_option("#id_size", size)
    assert page.input_value("#id_size") == size
    page.click("#video-form button[type=submit]")
    page.wait_for_selector(".video-card")


def finished_videos(page: Any) -> None:
    """One portrait and one landscape video, finished, on My videos (made once per stack)."""
    page.goto("/")
    for prompt, size in SIZES.items():
        if page.locator(".video-card", has_text=prompt).count() == 0:
            make(page, prompt, size)
    page.wait_for_function(
        "prompts => prompts.every(p => [...document.querySelectorAll('.video-card')].some("
        "c => c.textContent.includes(p) && c.querySelector('.scrub.play[data-sprite]')))",
        arg=list(SIZES),
        timeout=60_000,
    )


def video_requests(page: Any) -> list[str]:
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url) if VIDEO_URL.search(r.url) else None)
    return seen


def hover_middle(page: Any, poster: Any) -> None:
    box = poster.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] * 0.55, box["y"] + box["height"] / 2)


def test_lists_request_no_video_until_a_card_is_played(page: Any) -> None:
    log_in(page)
    finished_videos(page)
    seen = video_requests(page)

    for url in ("/", "/gallery/"):
        page.goto(url)
        page.wait_for_load_state("networkidle")
        posters = page.locator(".video-card .scrub.play")
        assert posters.count() >= 2
        assert page.locator(".video-card video").count() == 0
        # Hovering and focusing preview from the spritesheet, not the video.
        hover_middle(page, posters.first)
        posters.nth(1).focus()
        page.wait_for_timeout(600)
    # A family's list: the same cards.
    page.goto("/")
    link = page.locator(".video-card .prompt a", has_text="Media portrait").first
    href = link.get_attribute("href")
    assert href
    video_id = href.rstrip("/").split("/")[-1]
    page.goto(f"/?family={video_id}")
    page.wait_for_load_state("networkidle")
    assert page.locator(".video-card .scrub.play").count() == 1
    assert seen == [], seen

    # Played: now, and only now, the video is asked for, and it plays in place.
    page.locator(".video-card .scrub.play").first.click()
    video = page.locator(".video-card video")
    video.wait_for()
    video.evaluate("v => { v.muted = true; return v.play(); }")
    page.wait_for_function(
        "() => document.querySelector('.video-card video').currentTime > 0.2", timeout=15_000
    )
    assert seen and all(f"/videos/{video_id}/video/" in url for url in seen), seen


@pytest.mark.parametrize("prompt", list(SIZES))
def test_hovering_a_poster_shows_exactly_one_frame_in_the_videos_shape(
    page: Any, prompt: str
) -> None:
    log_in(page)
    finished_videos(page)
    for url in ("/", "/gallery/"):
        page.goto(url)
        card = page.locator(".video-card", has_text=prompt).first
        poster = card.locator(".scrub[data-sprite]")
        # The simulator's sheets: 10 frames, 5 across; read from the sheet when archived.
        assert poster.get_attribute("data-cols") == "5"
        assert poster.get_attribute("data-rows") == "2"
        assert poster.get_attribute("data-frames") == "10"
        width, height = (int(n) for n in SIZES[prompt].split("x"))

        box = poster.bounding_box()
        assert box is not None
        for fraction in (0.02, 0.35, 0.98):
            page.mouse.move(box["x"] + box["width"] * fraction, box["y"] + box["height"] / 2)
            frame = int(poster.get_attribute("data-frame") or -1)
            assert frame == min(9, int(fraction * 10))
            layer = card.locator(".sprite")
            assert layer.is_visible()
            style = layer.evaluate(
                "el => { const s = getComputedStyle(el);"
                " return [s.backgroundSize, s.backgroundPositionX, s.backgroundPositionY]; }"
            )
            # The sheet drawn at 5 x 2 times the box: one tile fills it...
            assert style[0] == "500% 200%"
            # ...the tile of this frame (column, row), and nothing of its neighbours.
            column, row = frame % 5, frame // 5
            assert float(style[1].rstrip("%")) == pytest.approx(column / 4 * 100)
            assert float(style[2].rstrip("%")) == pytest.approx(row * 100)

            # The box has the video's shape, fits the poster and is centred in it:
            # the frame is letterboxed, not stretched to the card.
            shown = layer.bounding_box()
            assert shown is not None
            assert shown["width"] / shown["height"] == pytest.approx(width / height, rel=0.02)
            assert shown["width"] <= box["width"] + 0.5 and shown["height"] <= box["height"] + 0.5
            assert max(shown["width"] / box["width"], shown["height"] / box["height"]) == (
                pytest.approx(1, abs=0.01)
            )
            centre = (shown["x"] + shown["width"] / 2, shown["y"] + shown["height"] / 2)
            assert centre[0] == pytest.approx(box["x"] + box["width"] / 2, abs=1)
            assert centre[1] == pytest.approx(box["y"] + box["height"] / 2, abs=1)

        # Leaving the poster puts its thumbnail back, and no style stays behind.
        page.mouse.move(0, 0)
        assert not card.locator(".sprite").is_visible()
        assert card.locator(".sprite").get_attribute("style") is None


def frames_while_focused(page: Any, poster: Any) -> list[str | None]:
    poster.focus()
    frames = []
    for _ in range(6):
        frames.append(poster.get_attribute("data-frame"))
        page.wait_for_timeout(300)
    return frames


def test_the_keyboard_preview_plays_through_the_frames(page: Any) -> None:
    log_in(page)
    finished_videos(page)
    page.goto("/")
    poster = page.locator(".video-card .scrub[data-sprite]").first
    frames = frames_while_focused(page, poster)
    assert len(set(frames)) >= 3, frames  # it moves (the check below can fail)


@pytest.fixture
def calm_page(stack: str, csp: CSPWatch) -> Iterator[Any]:
    """A page whose user asked for reduced motion."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=_chromium(), args=CHROMIUM_ARGS)
        context = browser.new_context(base_url=stack, reduced_motion="reduce")
        csp.attach(context)
        calm = context.new_page()
        calm.set_default_timeout(20_000)
        yield calm
        calm.wait_for_timeout(200)
        problems = csp.problems()
        context.close()
        browser.close()
    assert not problems, "Content-Security-Policy violations:\n" + "\n".join(problems)


def test_reduced_motion_holds_the_keyboard_preview_on_one_frame(calm_page: Any) -> None:
    log_in(calm_page)
    finished_videos(calm_page)
    for url in ("/", "/gallery/"):
        calm_page.goto(url)
        poster = calm_page.locator(".video-card .scrub[data-sprite]").first
        frames = frames_while_focused(calm_page, poster)
        assert frames[0] is not None and len(set(frames)) == 1, frames
        # Still one whole frame, of the video's shape.
        style = poster.locator(".sprite").evaluate("el => getComputedStyle(el).backgroundSize")
        assert style == "500% 200%"
