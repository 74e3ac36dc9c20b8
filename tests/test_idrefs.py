"""Every page's references point at something: each `aria-describedby`, `aria-labelledby`,
`aria-controls`, label `for` and in-page link names an element of that page, and no id
is used twice. Django 5.2 points a field's `aria-describedby` at `<id>_helptext` and
`<id>_error`; a template that renders help or errors under other ids leaves screen
readers with nothing to read. Each page is rendered as it is, and with its forms'
errors."""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from videostudio.videos.models import Video

from .conftest import make_user
from .factories import (
    BalanceSnapshotFactory,
    LedgerEntryFactory,
    a_lineage,
    a_video,
    some_videos,
)

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
IDREF_LISTS = ("aria-describedby", "aria-labelledby", "aria-controls", "aria-owns")


class References(HTMLParser):
    """The ids a page defines and the ones it refers to."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: Counter[str] = Counter()
        self.refs: list[tuple[str, str, str]] = []  # (tag, attribute, id)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is None:
                continue
            if name == "id":
                self.ids[value] += 1
            elif name in IDREF_LISTS:
                self.refs += [(tag, name, ref) for ref in value.split()]
            elif name == "for" and tag in {"label", "output"}:
                self.refs.append((tag, name, value))
            elif name == "href" and value.startswith("#") and len(value) > 1:
                self.refs.append((tag, name, value[1:]))


def problems(html: str) -> list[str]:
    page = References()
    page.feed(html)
    page.close()
    found = [f"id {id_!r} is used {n} times" for id_, n in page.ids.items() if n > 1]
    found += [
        f'<{tag} {attr}="{ref}"> names no element'
        for tag, attr, ref in page.refs
        if ref not in page.ids
    ]
    return found


def check(response: Any, status: int = 200) -> str:
    assert response.status_code == status, (response.status_code, response.content[:500])
    html = str(response.content.decode())
    assert not problems(html), "\n".join(problems(html))
    return html


def describedby(html: str) -> list[str]:
    return [ref for refs in re.findall(r'aria-describedby="([^"]*)"', html) for ref in refs.split()]


def test_the_checker_finds_dangling_references_and_repeated_ids() -> None:
    page = (
        '<a href="#main">Skip</a><main id="main"><label for="id_x">X</label>'
        '<input id="id_x" aria-describedby="id_x_helptext id_x_error">'
        '<p id="id_x_helptext">Help</p><p id="twice"></p><p id="twice"></p></main>'
    )
    assert problems(page) == [
        "id 'twice' is used 2 times",
        '<input aria-describedby="id_x_error"> names no element',
    ]


def test_the_login_page_with_and_without_errors(client: Client) -> None:
    make_user("olivia")
    check(client.get(reverse("login")))
    wrong = check(client.post(reverse("login"), {"username": "olivia", "password": "nope"}))
    assert "That username and password do not match an account here" in wrong
    blank = check(client.post(reverse("login"), {"username": "", "password": ""}))
    assert "id_username_error" in describedby(blank)


def test_the_password_pages_with_and_without_errors(client: Client, settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.VIDEOSTUDIO_PASSWORD_RESET = True
    user = make_user("olivia", email="olivia@example.com")
    check(client.get(reverse("password_reset")))
    bad = check(client.post(reverse("password_reset"), {"email": "not an address"}))
    assert "id_email_error" in describedby(bad)
    check(client.get(reverse("password_reset_done")))
    check(client.get(reverse("password_reset_complete")))
    check(client.get(reverse("password_reset_confirm", args=["MQ", "set-password"]), follow=True))

    uid = urlsafe_base64_encode(force_bytes(user.pk))
    link = reverse("password_reset_confirm", args=[uid, default_token_generator.make_token(user)])
    choose = client.get(link, follow=True)
    html = check(choose)
    # The new password's rules are its help, read out with the field.
    assert "id_new_password1_helptext" in describedby(html)
    mismatch = check(
        client.post(
            choose.redirect_chain[-1][0],
            {"new_password1": "a brand new lighthouse", "new_password2": "another one"},
        )
    )
    assert "id_new_password2_error" in describedby(mismatch)

    client.force_login(user)
    check(client.get(reverse("password_change")))
    wrong = check(client.post(reverse("password_change"), {"old_password": "nope"}))
    assert "id_old_password_error" in describedby(wrong)
    check(client.get(reverse("password_change_done")))


def test_my_videos_in_each_of_its_states(client: Client, owner: Any, settings: Any) -> None:
    client.force_login(owner)
    check(client.get(reverse("videos:list")))  # empty
    a_video(owner=owner, running=True)
    check(client.get(reverse("videos:list")))  # a job in flight
    a_video(owner=owner, status=Video.Status.WAITING, progress=0, archived_at=None)
    finished = a_lineage("remix", owner=owner)
    # Due for deletion, about to lose the provider's copy, and not saved.
    settings.VIDEOSTUDIO_RETENTION_DAYS = 30
    a_video(owner=owner, completed_at=timezone.now() - timedelta(days=25))
    a_video(owner=owner, expires_at=timezone.now() + timedelta(minutes=30), archived_at=None)
    a_video(owner=owner, archived_at=None, next_poll_at=None, archive_error="disk full")
    a_video(owner=owner, status=Video.Status.FAILED, error_message="The provider refused it.")
    html = check(client.get(reverse("videos:list")))
    assert "Due for deletion" in html and "Needs attention" in html
    check(client.get(reverse("videos:list"), {"family": finished[0].pk}))
    some_videos(24, owner=owner)
    paged = check(client.get(reverse("videos:list"), {"page": 2}))
    assert 'class="pager"' in paged


def test_the_new_video_form_blank_and_with_errors(client: Client, owner: Any) -> None:
    client.force_login(owner)
    html = check(client.get(reverse("videos:new")))
    assert "id_share_helptext" in describedby(html) and "id_image_helptext" in describedby(html)
    errors = {"model": "Sora-2", "prompt": " ", "seconds": "7", "size": "1x1"}
    refused = check(client.post(reverse("videos:new"), errors))
    assert {"id_prompt_error", "id_seconds_error"} <= set(describedby(refused))
    # The form as htmx swaps it in: its references are its own.
    check(client.post(reverse("videos:new"), errors, headers=HTMX))
    fields = client.get(
        reverse("videos:new"), {"model": "Veo-3"}, headers=HTMX | {"HX-Target": "video-fields"}
    )
    check(fields)
    source = a_video(owner=owner, status=Video.Status.FAILED)
    check(client.get(reverse("videos:new"), {"from": source.pk}))


def test_a_video_page_with_its_forms_with_and_without_errors(
    client: Client, owner: Any, teammate: Any
) -> None:
    client.force_login(owner)
    original, remix = a_lineage("remix", owner=owner)
    html = check(client.get(reverse("videos:detail", args=[remix.pk])))
    assert 'id="derive-remix"' in html and 'id="derive-extension"' in html
    for kind, url in (("remix", "videos:remix"), ("extension", "videos:extend")):
        refused = check(client.post(reverse(url, args=[remix.pk]), {"prompt": ""}))
        assert f"id_{kind}_prompt_error" in describedby(refused)
        check(client.post(reverse(url, args=[remix.pk]), {"prompt": ""}, headers=HTMX))
    long_title = check(
        client.post(
            reverse("videos:edit", args=[remix.pk]),
            {"title": "x" * 300, "visibility": "team"},
            headers=HTMX,
        )
    )
    assert "id_title_error" in describedby(long_title)
    check(client.get(reverse("videos:detail", args=[a_video(owner=owner, running=True).pk])))
    check(client.get(reverse("videos:delete", args=[original.pk])))
    client.force_login(teammate)
    check(client.get(reverse("videos:detail", args=[original.pk])))


def test_the_gallery_with_results_none_and_filter_errors(client: Client, owner: Any) -> None:
    client.force_login(owner)
    some_videos(3, owner=owner)
    check(client.get(reverse("gallery:index")))
    check(client.get(reverse("gallery:index"), {"q": "nothing matches this"}))
    refused = check(
        client.get(reverse("gallery:index"), {"since": "2026-05-02", "until": "2026-05-01"})
    )
    assert "id_until_error" in describedby(refused)
    check(client.get(reverse("gallery:index"), {"since": "not a date"}))


def test_the_usage_review_tabs_and_filter_errors(client: Client, owner: Any) -> None:
    staff = make_user("stella", is_staff=True)
    client.force_login(staff)
    a_video(owner=owner, cost_points=13_200)
    a_video(owner=owner, status=Video.Status.FAILED)
    LedgerEntryFactory()
    BalanceSnapshotFactory()
    for tab in ("summary", "jobs", "ledger", "failed", "unsettled"):
        check(client.get(reverse("usage:review"), {"tab": tab}))
    refused = check(
        client.get(reverse("usage:review"), {"start": "2026-05-02", "end": "2026-05-01"})
    )
    assert "id_end_error" in describedby(refused)


def test_the_admin_and_the_error_pages(client: Client, owner: Any, teammate: Any) -> None:
    video = a_video(owner=owner)
    client.force_login(make_user("ada", is_staff=True, is_superuser=True))
    check(client.get(reverse("admin:index")))
    check(client.get(reverse("admin:videos_video_changelist")))
    client.force_login(teammate)
    check(client.get("/no/such/page/"), 404)
    check(client.get(reverse("videos:delete", args=[video.pk])), 403)
