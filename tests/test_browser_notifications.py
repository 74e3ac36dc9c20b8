"""The bell, in headless Chromium against the stack: a finished job moves its count
without a reload, and the notifications page takes the member to the video."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser_kit import axe_violations, csp, log_in, page, stack, submit

pytestmark = pytest.mark.browser
__all__ = ["csp", "page", "stack"]  # fixtures, used by name

STACK_ENV = {"VIDEOSTUDIO_SIMULATOR_RENDER_SECONDS": "3"}


def test_the_bell_counts_a_finished_job_without_a_reload_and_leads_to_it(page: Any) -> None:
    log_in(page)
    bell = page.locator("header #bell")
    assert bell.get_attribute("aria-label") == "Notifications, none unread"
    assert bell.locator(".count").count() == 0
    submit(page, "Belled: a lighthouse at dusk")
    page.evaluate("window.__sameDocument = true")

    # The page's own progress poll brings the new count: no request of its own, no reload.
    page.wait_for_selector("header #bell .count", timeout=60_000)
    assert page.evaluate("window.__sameDocument") is True
    assert bell.locator(".count").inner_text() == "1"
    assert bell.get_attribute("aria-label") == "Notifications, 1 unread"
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.wait_for_timeout(1500)
    assert not [url for url in requests if "/notifications" in url]

    bell.click()
    page.wait_for_url("**/notifications/")
    item = page.locator(".notification.unread")
    assert item.count() == 1 and "Your video is ready" in item.inner_text()
    assert "Belled: a lighthouse at dusk" in item.inner_text()
    assert axe_violations(page) == []
    item.get_by_role("button", name="Open").click()
    page.wait_for_url("**/videos/*/")
    assert "Belled: a lighthouse at dusk" in page.inner_text("main")
    assert page.locator("header #bell").get_attribute("aria-label") == (
        "Notifications, none unread"
    )


def test_the_email_and_webhook_pages_pass_axe(page: Any) -> None:
    log_in(page)
    for path in ("/notifications/settings/", "/notifications/webhooks/",
                 "/notifications/webhooks/new/"):  # fmt: skip
        page.goto(path)
        assert page.locator("main h1").count() == 1, path
        assert axe_violations(page) == [], path
    # A refused address is said next to its field, and the form keeps what was typed.
    page.fill("#id_name", "Team chat")
    page.fill("#id_url", "http://169.254.169.254/latest")
    page.click("main form button[type=submit]")
    page.wait_for_selector("#id_url_error")
    assert "link-local" in page.inner_text("#id_url_error")
    assert page.input_value("#id_name") == "Team chat"
    assert axe_violations(page) == []
