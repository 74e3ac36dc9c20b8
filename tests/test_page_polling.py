"""A page asks for progress when something on it is next expected to change, learns of
an expiry as it happens, and a poll that finds nothing new costs four queries."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse
from django.utils import timezone
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from videostudio.videos.expiry import notice_moments
from videostudio.videos.models import Video
from videostudio.videos.watching import LANDING_SECONDS, watch

from .conftest import FakeClock
from .factories import a_video

HTMX = {"HX-Request": "true"}
NOW = timezone.now()
FASTEST, SLOWEST = 2.0, 15.0


def _flying(offset: float, leased: bool) -> Video:
    return Video(
        pk=None, status=Video.Status.IN_PROGRESS, next_poll_at=NOW + timedelta(seconds=offset),
        lease_until=NOW + timedelta(seconds=20) if leased else None,
    )  # fmt: skip


def _finished(offset: float, archived: bool) -> Video:
    return Video(
        status=Video.Status.COMPLETED, expires_at=NOW + timedelta(seconds=offset),
        archived_at=NOW if archived else None, video_file="v.mp4" if archived else "",
    )  # fmt: skip


videos = st.lists(
    st.one_of(
        st.builds(_flying, st.floats(-900, 900), st.booleans()),
        st.builds(_finished, st.floats(-7200, 30 * 3600), st.booleans()),
    ),
    max_size=12,
)


@override_settings(
    VIDEOSTUDIO_PAGE_POLL_SECONDS=FASTEST,
    VIDEOSTUDIO_PAGE_POLL_MAX_SECONDS=SLOWEST,
    VIDEOSTUDIO_POLL_OVERDUE_SECONDS=300,
)
@hsettings(max_examples=300, deadline=None)
@given(videos)
def test_the_next_turn_comes_when_the_soonest_change_is_due_and_never_too_often(
    batch: list[Video],
) -> None:
    for number, video in enumerate(batch, start=1):
        video.pk = number
    watched = watch(batch, now=NOW)
    flying = [v for v in batch if v.in_flight]
    clocked = {v.pk: notice_moments(v, now=NOW) for v in batch if not v.in_flight}
    assert watched.ids == [v.pk for v in batch if v.in_flight or clocked.get(v.pk)]
    if not watched.ids:
        assert watched.seconds is None  # nothing will change: the page stops asking
        return
    assert watched.seconds is not None and watched.seconds >= FASTEST
    changes = []  # when each watched card is expected to change, seconds from now
    for video in flying:
        assert video.next_poll_at is not None
        due = (video.next_poll_at - NOW).total_seconds()
        if video.lease_until is not None or -300 <= due <= 0:
            changes.append(0.0)
        elif due > 0:
            changes.append(due)
        else:
            changes.append(SLOWEST)  # long overdue: the worker is away
    changes += [(m[0] - NOW).total_seconds() for m in clocked.values() if m]
    # Never later than the soonest change (once it has had a moment to land)...
    assert watched.seconds <= max(FASTEST, min(changes) + LANDING_SECONDS) + 0.05
    if flying:
        assert watched.seconds <= SLOWEST  # ...and a job in flight is asked after often
    # ...and not sooner than needed either: far-off changes mean a slow page.
    assert watched.seconds >= min(max(FASTEST, min(changes)), SLOWEST if flying else 1e9) - 0.05


def _poller(html: str) -> tuple[str | None, int | None]:
    url = re.search(r'id="poller"\s+hx-get="([^"]+)"', html)
    every = re.search(r'hx-trigger="every (\d+)ms', html)
    return (
        url.group(1).replace("&amp;", "&") if url else None,
        int(every.group(1)) if every else None,
    )


@pytest.mark.django_db
def test_an_open_page_loses_remix_and_extend_the_moment_the_copy_expires(
    client: Client, owner: Any
) -> None:
    start = timezone.now() + timedelta(seconds=2)  # the row was saved before
    video = a_video(owner=owner, expires_at=start + timedelta(seconds=50))
    client.force_login(owner)
    clock = FakeClock(start.timestamp())
    with clock.travelling():
        html = client.get(reverse("videos:detail", args=[video.pk])).content.decode()
        assert 'id="id_remix_prompt"' in html and 'class="notice calm"' in html
        url, every = _poller(html)
        assert url is not None and every is not None
        assert 50_000 <= every <= 52_000  # asks once, just after the expiry

        clock.advance(20)  # early: nothing to redraw, and the poller keeps its aim
        early = client.get(url, headers=HTMX)
        assert early.status_code == 200 and "hx-swap-oob" not in early.content.decode()
        assert 30_000 <= (_poller(early.content.decode())[1] or 0) <= 32_000

        clock.advance(31.5)  # just past the expiry
        late = client.get(url, headers=HTMX)
        body = late.content.decode()
        assert late.status_code == 286  # nothing left to watch
        assert body.count('hx-swap-oob="true"') == 3  # the panel, remix and extend
        assert "notice" not in body.split('id="derive-remix"')[0]
        assert "deleted its copy" in body and 'id="id_remix_prompt"' not in body


@pytest.mark.django_db
def test_a_job_in_flight_is_asked_after_when_the_tracker_next_looks(
    client: Client, owner: Any, settings: Any
) -> None:
    settings.VIDEOSTUDIO_PAGE_POLL_SECONDS = 2
    settings.VIDEOSTUDIO_PAGE_POLL_MAX_SECONDS = 15
    now = timezone.now()
    a_video(owner=owner, running=True, next_poll_at=now + timedelta(seconds=8))
    client.force_login(owner)
    _, every = _poller(client.get(reverse("videos:list")).content.decode())
    assert every is not None and 8_000 <= every <= 9_500
    Video.objects.update(next_poll_at=now + timedelta(seconds=40))
    _, every = _poller(client.get(reverse("videos:list")).content.decode())
    assert every == 15_000


@pytest.mark.django_db
@pytest.mark.parametrize("view", ["list", "detail", "family"])
@pytest.mark.parametrize("staff", [False, True])
def test_a_poll_that_finds_nothing_new_costs_four_queries(
    client: Client, owner: Any, view: str, staff: bool
) -> None:
    owner.is_staff = staff
    owner.save()
    videos = [a_video(owner=owner, running=True) for _ in range(5)]
    client.force_login(owner)
    later = timezone.now().timestamp() + 5
    query = {"view": view, "since": str(later), "id": [str(v.pk) for v in videos], "bell": "0"}
    client.get(reverse("videos:progress"), query, headers=HTMX)  # warm the session
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("videos:progress"), query, headers=HTMX)
    assert response.status_code == 200 and "hx-swap-oob" not in response.content.decode()
    # The session, the user, the cards, the bell's count: no balance, no budget, no
    # worker check.
    assert len(queries.captured_queries) == 4, [q["sql"][:80] for q in queries]


@pytest.mark.django_db
def test_a_search_asked_twice_is_one_history_entry(client: Client, owner: Any) -> None:
    client.force_login(owner)
    url = "/gallery/?q=cat&model=&sort=newest"
    first = client.get(url, headers={**HTMX, "HX-Current-URL": "http://testserver/gallery/"})
    assert first.status_code == 200 and "HX-Push-Url" not in first.headers
    again = client.get(  # the same search (Enter after typing): already where it is
        url,
        headers={**HTMX, "HX-Current-URL": "http://testserver/gallery/?sort=newest&q=cat&model="},
    )
    assert again.headers["HX-Push-Url"] == "false"


@pytest.mark.django_db
def test_a_saved_video_with_an_hour_left_is_asked_after_only_when_its_notice_can_change(
    client: Client, owner: Any
) -> None:
    start = timezone.now() + timedelta(seconds=2)
    video = a_video(owner=owner, expires_at=start + timedelta(minutes=59))
    client.force_login(owner)
    clock = FakeClock(start.timestamp())
    with clock.travelling():
        html = client.get(reverse("videos:detail", args=[video.pk])).content.decode()
        url, every = _poller(html)
        assert url is not None and every is not None
        # Next at 15 min before the end (it turns loud if someone builds on it by then),
        # not at the saving-at-risk moment, which is only for a video not saved here.
        assert 44 * 60_000 <= every <= 44 * 60_000 + 2_000
        clock.advance(30 * 60)  # a turn (a tab woken, say) half an hour before: nothing
        quiet = client.get(url, headers=HTMX)
        assert quiet.status_code == 200 and "hx-swap-oob" not in quiet.content.decode()


@pytest.mark.django_db
def test_a_redrawn_video_page_leaves_remix_and_extend_alone_while_they_say_the_same(
    client: Client, owner: Any
) -> None:
    video = a_video(owner=owner, expires_at=timezone.now() + timedelta(minutes=50))
    client.force_login(owner)
    html = client.get(reverse("videos:detail", args=[video.pk])).content.decode()
    url, _ = _poller(html)
    assert url is not None and "derive=f.f" in url
    Video.objects.filter(pk=video.pk).update(title="renamed", updated_at=timezone.now())
    body = client.get(url, headers=HTMX).content.decode()
    assert body.count('hx-swap-oob="true"') == 1  # the panel, not the forms being typed in
    assert 'id="derive-remix"' not in body
    # A page that cannot say what it shows gets every section back.
    body = client.get(url.replace("derive=f.f", "derive=junk"), headers=HTMX).content.decode()
    assert body.count('hx-swap-oob="true"') == 3


@pytest.mark.django_db
def test_needs_attention_follows_the_cards_as_they_change(client: Client, owner: Any) -> None:
    soon = timezone.now() + timedelta(minutes=10)
    video = a_video(owner=owner, prompt="saving it", archived_at=None, video_file="",
                    next_poll_at=timezone.now(), expires_at=soon)  # fmt: skip
    client.force_login(owner)
    html = client.get(reverse("videos:list")).content.decode()
    assert "It is being saved now." in html.split('id="attention"')[1]
    url, _ = _poller(html)
    assert url is not None
    Video.objects.filter(pk=video.pk).update(
        archived_at=timezone.now(), video_file="v.mp4", next_poll_at=None, updated_at=timezone.now()
    )
    body = client.get(url, headers=HTMX).content.decode()
    assert '<div id="attention" hx-swap-oob="true">' in body
    assert "Needs attention" not in body  # saved: nothing is left to do
