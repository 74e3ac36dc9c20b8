"""Pages usable by everyone, checked in a real browser: axe-core finds nothing serious or
critical on any page in its interesting states, the focus survives htmx's swaps, the
skip link works, nothing moves for those who ask for no motion, htmx logs no error on
the New video form, and the icon is there."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser_kit import axe_violations, csp, log_in, page, stack, submit

pytestmark = pytest.mark.browser
# The simulator keeps a finished job's files 10 minutes (Poe: about an hour), so a video
# someone builds on is in its last 15 minutes, and "Needs attention" shows.
STACK_ENV = {"VIDEOSTUDIO_SIMULATOR_EXPIRE_SECONDS": "600"}
__all__ = ["csp", "page", "stack"]  # fixtures, used by name


def assert_accessible(page: Any) -> None:
    found = axe_violations(page)
    assert found == [], "axe-core:\n" + "\n".join(found)


def visit(page: Any, url: str, status: int = 200) -> None:
    response = page.goto(url)
    assert response is not None and response.status == status, (url, response and response.status)
    assert_accessible(page)


def unlabelled_navs(page: Any) -> list[str]:
    return page.eval_on_selector_all(
        "nav", "navs => navs.filter(n => !n.getAttribute('aria-label')).map(n => n.outerHTML)"
    )


def errors_logged(page: Any) -> list[str]:
    """What the page logged as errors (htmx logs its own with console.error)."""
    found: list[str] = []
    page.on("console", lambda m: found.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: found.append(str(e)))
    return found


def finished(page: Any, count: int) -> None:
    page.wait_for_function(
        f"() => document.querySelectorAll('.video-card .scrub.play').length >= {count}",
        timeout=45_000,
    )


def test_the_check_fails_on_a_page_with_a_known_violation(page: Any) -> None:
    page.goto("/accounts/login/")
    assert axe_violations(page) == []
    page.evaluate(
        "() => { const img = document.createElement('img');"
        " img.src = '/static/favicon.svg'; document.querySelector('main').append(img); }"
    )
    found = axe_violations(page)
    assert len(found) == 1 and found[0].startswith("critical: image-alt"), found


def test_the_pages_before_logging_in(page: Any) -> None:
    statuses: list[tuple[int, str]] = []
    page.on("response", lambda r: statuses.append((r.status, r.url)))
    visit(page, "/accounts/login/")
    page.fill("#id_username", "e2e")
    page.fill("#id_password", "not the password")
    page.click("main button[type=submit]")
    page.wait_for_selector(".errors")
    assert_accessible(page)

    # Password reset is there when the stack can send mail (demo mode prints it).
    if page.locator("a[href='/accounts/password_reset/']").count():
        visit(page, "/accounts/password_reset/")
        page.fill("#id_email", "someone@nowhere")  # the browser lets it through; Django does not
        page.click("main button[type=submit]")
        page.wait_for_selector("#id_email_error")
        assert_accessible(page)
        page.fill("#id_email", "nobody@example.com")
        page.click("main button[type=submit]")
        page.wait_for_url("**/password_reset/done/")
        assert_accessible(page)
        visit(page, "/accounts/reset/MQ/set-password/")
        assert "does not work any more" in page.inner_text("main")
        visit(page, "/accounts/reset/done/")

    # Browsers ask for /favicon.ico whatever the page links: it is there, not a 404.
    icon = page.request.get("/favicon.ico")
    assert icon.ok and icon.headers["content-type"] == "image/svg+xml"
    assert page.get_attribute("link[rel=icon]", "href") == "/static/favicon.svg"
    assert not [s for s in statuses if s[0] == 404], statuses


def test_my_videos_the_new_video_form_and_a_video_page(page: Any) -> None:
    log_in(page)
    visit(page, "/")  # empty, or what earlier tests left
    visit(page, "/videos/new/")
    page.fill("#id_prompt", "   ")
    page.click("#video-form button[type=submit]")
    page.wait_for_selector("#id_prompt_error")
    assert page.get_attribute("#id_prompt", "aria-describedby") == "id_prompt_error"
    assert_accessible(page)

    submit(page, "An a11y lighthouse at dawn")
    page.wait_for_selector(".video-card progress")
    assert_accessible(page)  # a job in flight
    finished(page, 1)
    assert_accessible(page)
    # A fresh, saved video says calmly until when it can be remixed or extended.
    visit(page, "/")
    assert page.locator(".video-card .notice.calm").count() >= 1

    page.locator(".video-card .prompt a").first.click()
    page.wait_for_selector("#derive-remix form")
    assert_accessible(page)
    # A form error in each of the remix and extend forms, side by side.
    for kind in ("remix", "extension"):
        # As a browser that does not check `required` itself would send it.
        page.eval_on_selector(f"#derive-{kind} form", "form => form.setAttribute('novalidate', '')")
        page.fill(f"#id_{kind}_prompt", "")
        page.click(f"#derive-{kind} button[type=submit]")
        page.wait_for_selector(f"#id_{kind}_prompt_error")
        described = page.get_attribute(f"#id_{kind}_prompt", "aria-describedby")
        assert described == f"id_{kind}_prompt_error"
    assert_accessible(page)
    # Once someone builds on it, its copy going within the hour needs attention.
    original = page.url
    page.fill("#id_remix_prompt", "as a watercolour")
    page.click("#derive-remix button[type=submit]")
    page.wait_for_url(lambda url: url != original)  # the remix's own page
    visit(page, "/")
    assert "Needs attention" in page.inner_text("main")
    page.locator(".video-card .prompt a", has_text="An a11y lighthouse").first.click()
    page.wait_for_selector("#derive-remix form")
    page.click("text=Delete this video…")
    page.wait_for_url("**/delete/")
    assert_accessible(page)


def test_the_gallery_with_results_without_and_with_filter_errors(page: Any) -> None:
    log_in(page)
    submit(page, "A gallery a11y harbour")
    finished(page, 1)
    visit(page, "/gallery/")
    assert page.locator(".gallery-card").count() >= 1
    visit(page, "/gallery/?q=nothing+is+called+this")
    assert "No shared video matches" in page.inner_text("main")
    visit(page, "/gallery/?since=2026-05-02&until=2026-05-01")
    assert page.get_attribute("#id_until", "aria-describedby") == "id_until_error"


def test_the_usage_review_the_admin_and_the_error_pages(page: Any) -> None:
    log_in(page)
    for tab in ("summary", "jobs", "ledger", "failed", "unsettled"):
        visit(page, f"/usage/?tab={tab}")
        assert unlabelled_navs(page) == []
    visit(page, "/usage/?start=2026-05-02&end=2026-05-01")
    assert page.get_attribute("#id_end", "aria-describedby") == "id_end_error"
    visit(page, "/admin/")
    visit(page, "/admin/videos/video/")
    visit(page, "/no/such/page/", 404)
    # A form whose CSRF token went missing: the 403 page.
    page.goto("/videos/new/")
    page.eval_on_selector(
        "header form", "form => form.querySelector('[name=csrfmiddlewaretoken]').remove()"
    )
    page.click("header button:has-text('Log out')")
    page.wait_for_selector("text=That form could not be accepted")
    assert_accessible(page)
    # Someone else's video, as a teammate sees it.
    submit(page, "An a11y video for a teammate")
    pk = page.locator(".video-card").first.get_attribute("id").removeprefix("video-")
    page.click("header button:has-text('Log out')")
    log_in(page, "mate")
    visit(page, f"/videos/{pk}/")


def test_the_skip_link_and_the_labelled_navigations(page: Any) -> None:
    log_in(page)
    page.goto("/videos/new/")
    page.keyboard.press("Tab")
    skip = page.locator(".skip-link")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    box = skip.bounding_box()
    assert box is not None and box["y"] >= 0 and box["height"] > 10  # visible once focused
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page.keyboard.press("Tab")  # the next stop is in the page, not the header
    assert page.evaluate("document.activeElement.closest('main') !== null")
    assert unlabelled_navs(page) == []
    assert page.get_attribute("header nav", "aria-label") == "Main"


def test_nothing_moves_for_those_who_ask_for_no_motion(page: Any) -> None:
    log_in(page)
    probe = "getComputedStyle(document.querySelector('header .button')).transitionDuration"
    page.emulate_media(reduced_motion="no-preference")
    assert page.evaluate(probe) == "0s"
    page.emulate_media(reduced_motion="reduce")
    assert float(page.evaluate(probe).rstrip("s")) < 0.001
    animation = "getComputedStyle(document.querySelector('main')).animationIterationCount"
    assert page.evaluate(animation) == "1"


def test_the_focus_stays_on_a_card_as_the_poller_swaps_it(page: Any) -> None:
    log_in(page)
    submit(page, "A focused a11y lighthouse")
    card = page.locator(".video-card").first
    card_id = card.get_attribute("id")
    page.wait_for_selector(f"#{card_id} progress")
    link = page.locator(f"#{card_id} .prompt a")
    link.focus()
    page.evaluate(
        f"() => {{ window.__oldCard = document.getElementById('{card_id}');"
        " window.__oldFocus = document.activeElement; }"
    )
    page.wait_for_function(f"() => document.getElementById('{card_id}') !== window.__oldCard")
    page.wait_for_timeout(100)
    state = page.evaluate(
        f"""() => ({{
        same: document.activeElement === window.__oldFocus,
        connected: window.__oldFocus.isConnected,
        inCard: document.activeElement.matches('#{card_id} .prompt a'),
        tag: document.activeElement.tagName,
    }})"""
    )
    assert state == {"same": False, "connected": False, "inCard": True, "tag": "A"}, state


def test_the_focus_stays_on_the_star_a_keyboard_pressed(page: Any) -> None:
    log_in(page)
    submit(page, "A starred a11y harbour")
    finished(page, 1)
    page.goto("/gallery/")
    star = page.locator(".gallery-card .star").first
    card_id = page.locator(".gallery-card").first.get_attribute("id")
    before = star.get_attribute("aria-pressed")
    star.focus()
    page.evaluate("window.__oldStar = document.activeElement")
    page.keyboard.press("Enter")
    after = "true" if before == "false" else "false"
    page.wait_for_selector(f"#{card_id} .star[aria-pressed={after}]")
    page.wait_for_timeout(100)
    assert page.evaluate(
        f"() => document.activeElement !== window.__oldStar"
        f" && document.activeElement.matches('#{card_id} .star')"
    )
    page.keyboard.press("Enter")  # and again, from the new button
    page.wait_for_selector(f"#{card_id} .star[aria-pressed={before}]")
    page.wait_for_timeout(100)
    assert page.evaluate(f"() => document.activeElement.matches('#{card_id} .star')")


def test_the_focus_stays_in_a_form_answered_in_place(page: Any) -> None:
    """The button is disabled while the form is sent (which takes the focus from it), and
    the form comes back in place with its errors: the new button has the focus."""
    log_in(page)
    page.goto("/videos/new/")
    page.fill("#id_prompt", "   ")
    page.focus("#video-form button[type=submit]")
    page.evaluate("window.__oldButton = document.activeElement")
    page.keyboard.press("Enter")
    page.wait_for_selector("#id_prompt_error")
    page.wait_for_timeout(100)
    assert page.evaluate(
        "() => document.activeElement !== window.__oldButton"
        " && document.activeElement.matches('#video-form button[type=submit]')"
    )


def test_the_new_video_form_logs_no_error(page: Any) -> None:
    log_in(page)
    page.goto("/videos/new/")
    errors = errors_logged(page)
    page.select_option("#id_model", "Veo-3")
    page.wait_for_function("() => document.querySelector('#id_seconds option[value=\"6\"]')")
    page.select_option("#id_seconds", "6")
    page.select_option("#id_size", index=1)
    page.select_option("#id_model", "Sora-2")
    page.wait_for_function("() => document.querySelector('#id_seconds option[value=\"12\"]')")
    page.select_option("#id_seconds", "12")
    page.fill("#id_prompt", "   ")
    page.click("#video-form button[type=submit]")
    page.wait_for_selector("#id_prompt_error")
    page.select_option("#id_model", "Veo-3")  # the form as it came back
    page.wait_for_function("() => document.querySelector('#id_seconds option[value=\"6\"]')")
    page.wait_for_load_state("networkidle")
    assert errors == []


def test_an_htmx_error_on_the_new_video_form_would_be_seen(page: Any) -> None:
    """The watch above hears what htmx logs: an element of the form whose own request
    inherited an hx-disabled-elt that finds nothing in it is reported."""
    log_in(page)
    page.goto("/videos/new/")
    errors = errors_logged(page)
    page.evaluate(
        """() => {
        const form = document.getElementById('video-form');
        form.removeAttribute('hx-disinherit');
        const probe = document.createElement('span');
        probe.setAttribute('hx-get', '/videos/new/');
        probe.setAttribute('hx-trigger', 'probe');
        probe.setAttribute('hx-swap', 'none');
        form.append(probe);
        htmx.process(probe);
        htmx.trigger(probe, 'probe');
    }"""
    )
    page.wait_for_load_state("networkidle")
    assert any("hx-disabled-elt returned no matches" in e for e in errors), errors
