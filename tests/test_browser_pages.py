"""Pages that stay calm and say what changed: in headless Chromium against the stack.

A finished job is announced once in the page's live region (and badged in the tab's
title when the tab is in the background, with a browser notification if the member
allowed one); a countdown turns to seconds in its last minute and, when the provider's
copy expires, the open page drops the remix and extend forms by itself; a search is
one history entry.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser_kit import csp, log_in, page, stack, submit

pytestmark = pytest.mark.browser
__all__ = ["csp", "page", "stack"]  # fixtures, used by name

# Files the simulator keeps 70 s after a job completes (Poe: about an hour), so a test
# can watch a copy expire; jobs render in 3 s.
STACK_ENV = {
    "VIDEOSTUDIO_SIMULATOR_EXPIRE_SECONDS": "70",
    "VIDEOSTUDIO_SIMULATOR_RENDER_SECONDS": "3",
}

# A stand-in for the browser's Notification API: records what it is asked.
NOTIFICATIONS = """
window.__notes = []; window.__asked = 0;
window.Notification = function (title, options) { window.__notes.push(options.body); };
window.Notification.permission = "default";
window.Notification.requestPermission = function () {
  window.__asked += 1; window.Notification.permission = "granted";
  return Promise.resolve("granted");
};
"""

HIDE = (
    "Object.defineProperty(document, 'hidden', {configurable: true, get: () => %s});"
    "document.dispatchEvent(new Event('visibilitychange'))"
)


def test_a_finished_job_is_announced_once_and_badged_in_a_background_tab(page: Any) -> None:
    page.add_init_script(NOTIFICATIONS)
    log_in(page)
    submit(page, "Announced: a kite over the sea")
    page.evaluate("window.__sameDocument = true")
    title = page.title()

    # Asked once, and only because the member clicked.
    ask = page.locator("#notify-ask")
    ask.wait_for(state="visible")
    assert page.evaluate("window.__asked") == 0
    ask.click()
    ask.wait_for(state="hidden")
    assert page.evaluate("window.__asked") == 1

    page.evaluate(HIDE % "true")  # the member goes to another tab
    page.wait_for_function("() => document.title.startsWith('(1) ')", timeout=60_000)
    assert page.evaluate("window.__sameDocument") is True
    announced = page.inner_text("#announcer")
    assert announced.count("Ready: Announced: a kite over the sea") == 1, announced
    assert page.evaluate("window.__notes") == ["Ready: Announced: a kite over the sea."]

    page.evaluate(HIDE % "false")  # back: the badge goes, nothing is said twice
    page.wait_for_function(f"() => document.title === {title!r}")
    page.wait_for_timeout(2500)
    assert page.inner_text("#announcer").count("Announced: a kite") == 1
    # The live region holds announcements only: no countdown ticks inside one.
    assert page.locator("[aria-live] time.countdown, [role=status] time.countdown").count() == 0


def test_the_countdown_ends_in_seconds_and_the_open_page_drops_remix_and_extend(
    page: Any,
) -> None:
    log_in(page)
    submit(page, "Expiring: a sandcastle at high tide")
    page.locator(".video-card .prompt a", has_text="Expiring").first.click()
    page.wait_for_selector(".video-panel .notice.calm", timeout=45_000)
    page.evaluate("window.__sameDocument = true")
    assert page.locator("#id_remix_prompt").is_visible()
    countdown = page.locator(".video-panel time.countdown")
    assert countdown.inner_text() in ("1 min", "1 h 0 min") or countdown.inner_text().endswith(" s")
    # The last minute counts in seconds, and keeps counting.
    page.wait_for_function(
        "() => /^[0-9]+ s$/.test(document.querySelector('.video-panel time.countdown')"
        ".textContent)",
        timeout=30_000,
    )
    first = int(countdown.inner_text().split()[0])
    page.fill("#id_remix_prompt", "as a sandcastle at low tide")  # being written at expiry
    page.wait_for_function(
        f"() => parseInt(document.querySelector('.video-panel time.countdown').textContent)"
        f" < {first}",
        timeout=5_000,
    )
    # At expiry the page redraws itself: the forms go, saying why; the video still plays.
    page.wait_for_selector("#derive-remix .refusal", timeout=80_000)
    assert "deleted its copy" in page.inner_text("#derive-remix")
    # What was being written is not lost: the section keeps it to copy.
    assert "as a sandcastle at low tide" in page.inner_text("#derive-remix .kept")
    assert page.locator("#id_remix_prompt, #id_extension_prompt").count() == 0
    assert page.locator(".video-panel .notice").count() == 0
    assert page.locator(".video-panel video").count() == 1
    assert page.evaluate("window.__sameDocument") is True


def test_a_search_then_enter_is_one_step_back(page: Any) -> None:
    log_in(page)
    submit(page, "Searchable: a heron in reeds")
    page.click("header >> text=Gallery")
    page.wait_for_selector("#gallery-filters")
    start = page.url
    length = page.evaluate("history.length")
    page.fill("#id_q", "heron")
    page.wait_for_url("**q=heron**")
    page.press("#id_q", "Enter")
    page.wait_for_timeout(1500)  # the change and the submit land too
    assert page.evaluate("history.length") == length + 1
    page.go_back()
    page.wait_for_function(f"() => location.href === {start!r}")
    assert page.input_value("#id_q") == ""


def test_a_video_playing_in_its_card_plays_on_when_the_card_is_redrawn(page: Any) -> None:
    log_in(page)
    submit(page, "Playing through: waves on a pier")
    card = page.locator(".video-card", has_text="Playing through").first
    card.locator(".scrub.play").wait_for(timeout=45_000)
    card_id = card.get_attribute("id")
    card.locator(".scrub.play").click()
    page.wait_for_function(
        f"() => {{ const v = document.querySelector('#{card_id} video');"
        " return v && v.currentTime > 0.2; }"
    )
    page.evaluate(
        f"() => {{ window.__card = document.getElementById('{card_id}');"
        f" window.__video = window.__card.querySelector('video');"
        " window.__video.loop = true; window.__video.muted = true; }"
    )
    # When the provider's copy expires the poller redraws the card (its notice goes).
    assert card.locator(".notice.calm").count() == 1
    page.wait_for_function(f"() => !document.querySelector('#{card_id} .notice')", timeout=90_000)
    still = page.evaluate(
        f"() => {{ const v = document.querySelector('#{card_id} video');"
        f" return [document.getElementById('{card_id}') !== window.__card,"
        " v === window.__video, v.paused]; }"
    )
    assert still == [True, True, False]  # a new card, the same video, still playing


def test_a_form_the_app_cannot_read_is_refused_above_it_and_keeps_what_was_typed(
    page: Any,
) -> None:
    log_in(page)
    page.click("header >> text=New video")
    page.fill("#id_prompt", "Too many fields: a fox in snow")
    # More fields than Django accepts (DATA_UPLOAD_MAX_NUMBER_FIELDS): a 400, said in
    # the page's alert area, the form left as it was.
    page.evaluate(
        "() => { const form = document.getElementById('video-form');"
        " for (let i = 0; i < 1100; i++) { const f = document.createElement('input');"
        " f.type = 'hidden'; f.name = 'extra' + i; f.value = 'x'; form.append(f); } }"
    )
    page.click("#video-form button[type=submit]")
    page.wait_for_selector("#page-alert #bad-request")
    assert "more fields than this studio accepts" in page.inner_text("#page-alert")
    assert page.input_value("#id_prompt") == "Too many fields: a fox in snow"
