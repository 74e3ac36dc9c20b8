"""Notifications: each event is recorded once, told to the members it concerns, and
counted by the bell until read."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from videostudio.notifications import services
from videostudio.notifications.kinds import describe
from videostudio.notifications.models import Event, Notification
from videostudio.ops.alerts import THROTTLE_KEY, alerts_raise
from videostudio.provider.types import RemoteVideo
from videostudio.usage.balance import credits_note_exhausted
from videostudio.usage.models import Budget, UsagePolicy
from videostudio.videos import events, states
from videostudio.videos import services as video_services
from videostudio.videos.models import Heartbeat, Video
from videostudio.videos.refresh import MAX_ARCHIVE_ATTEMPTS, Fetched, video_apply

from .conftest import make_user
from .factories import a_video
from .helpers import together
from .mail_kit import MailServer, smtp

pytestmark = pytest.mark.django_db
__all__ = ["smtp"]  # a fixture, used by name
HTMX = {"HX-Request": "true"}
ROOT = Path(__file__).resolve().parent.parent


def heartbeat_beat(*, at: datetime | None = None) -> None:
    Heartbeat.objects.update_or_create(name="tracker", defaults={"at": at or timezone.now()})


def running(owner: Any, **fields: Any) -> Video:
    return a_video(owner=owner, running=True, next_poll_at=datetime.now(UTC), **fields)


def complete(video: Video) -> bool:
    remote = RemoteVideo(id=str(video.provider_id), status="completed", raw_status="completed",
                         progress=100)  # fmt: skip
    return video_apply(video=video, fetched=Fetched(remote=remote, files={
        "video_file": "videos/x/video.mp4"}))  # fmt: skip


def told(user: Any) -> list[str]:
    return list(Notification.objects.filter(recipient=user).values_list("event__kind", flat=True))


# --- What is told, to whom ------------------------------------------------------------------


def test_a_finished_job_is_told_to_its_owner_once_however_often_it_is_seen(
    owner: Any, teammate: Any
) -> None:
    video = running(owner)
    assert complete(video)
    stale = Video.objects.get(pk=video.pk)
    complete(stale)  # the tracker sees the completion again
    complete(video)  # and with the row it read before the first
    assert told(owner) == [events.VIDEO_COMPLETED]
    assert told(teammate) == []
    event = Event.objects.get()
    assert (event.video_id, event.user_id) == (video.pk, owner.pk)
    words = describe(event, owner)
    assert words.title == "Your video is ready" and video.prompt in words.body
    assert words.url == reverse("videos:detail", args=[video.pk])


def test_ready_is_told_when_the_files_are_saved_not_before(owner: Any) -> None:
    video = running(owner)
    remote = RemoteVideo(
        id=str(video.provider_id), status="completed", raw_status="completed", progress=100
    )
    # Completed at the provider, but saving its files failed this time.
    assert video_apply(video=video, fetched=Fetched(remote=remote, archive_error="Disk full."))
    assert told(owner) == []
    video.refresh_from_db()
    assert video.status == Video.Status.COMPLETED and video.next_poll_at is not None
    assert video_apply(video=video, fetched=Fetched(files={"video_file": "videos/x/v.mp4"}))
    assert told(owner) == [events.VIDEO_COMPLETED]


def test_a_failed_job_is_told_with_the_providers_reason(owner: Any) -> None:
    video = running(owner)
    remote = RemoteVideo(
        id=str(video.provider_id),
        status="failed",
        raw_status="failed",
        error_code="moderation",
        error_message="The prompt was refused.",
    )
    assert video_apply(video=video, fetched=Fetched(remote=remote))
    event = Event.objects.get(kind=events.VIDEO_FAILED)
    words = describe(event, owner)
    assert words.title == "Your video failed" and "The prompt was refused." in words.body


def test_a_job_cancelled_by_its_owner_is_not_news(owner: Any) -> None:
    video = a_video(owner=owner, status=Video.Status.WAITING, archived_at=None, video_file="")
    assert states.video_cancelled(video)
    assert not Event.objects.exists()


def test_a_job_whose_files_cannot_be_saved_is_told_once_when_archiving_gives_up(
    owner: Any,
) -> None:
    video = a_video(owner=owner, archived_at=None, video_file="", thumbnail_file="",
                    next_poll_at=datetime.now(UTC))  # fmt: skip
    for attempt in range(MAX_ARCHIVE_ATTEMPTS):
        video.refresh_from_db()
        video_apply(video=video, fetched=Fetched(archive_error="The disk is full."))
        kinds = told(owner)
        assert kinds == ([events.VIDEO_NOT_ARCHIVED] if attempt == MAX_ARCHIVE_ATTEMPTS - 1 else [])
    video.refresh_from_db()
    assert video.next_poll_at is None
    body = describe(Event.objects.get(), owner).body
    assert "The disk is full." in body and "Open it to try again" in body


def test_files_the_provider_no_longer_has_are_not_offered_a_retry(owner: Any) -> None:
    video = a_video(owner=owner, archived_at=None, video_file="", thumbnail_file="",
                    next_poll_at=datetime.now(UTC))  # fmt: skip
    remote = RemoteVideo(id=str(video.provider_id), status="failed", raw_status="expired")
    assert video_apply(video=video, fetched=Fetched(remote=remote))
    body = describe(Event.objects.get(kind=events.VIDEO_NOT_ARCHIVED), owner).body
    assert "cannot be saved any more" in body and "try again" not in body


def test_settled_sends_that_were_never_made_are_told_as_failures(owner: Any) -> None:
    videos = [
        a_video(owner=owner, status=Video.Status.UNCONFIRMED, archived_at=None, video_file="")
        for _ in range(3)
    ]
    assert states.videos_settled_never_made([v.pk for v in videos], message="Never made.") == 3
    assert sorted(Event.objects.values_list("video_id", flat=True)) == sorted(v.pk for v in videos)
    assert states.videos_settled_never_made([v.pk for v in videos], message="again") == 0
    assert Event.objects.count() == 3


def test_a_teammates_shared_remix_is_told_to_the_sources_owner(
    owner: Any, teammate: Any, app_client: Any
) -> None:
    source = a_video(owner=owner, prompt="a red kite over dunes")
    remix = video_services.video_remix(
        actor=teammate, source=source, prompt="in the rain", client=app_client
    )
    assert told(owner) == [events.VIDEO_REMIXED] and told(teammate) == []
    event = Event.objects.get()
    assert (event.actor_id, event.video_id) == (teammate.pk, remix.pk)
    words = describe(event, owner)
    assert words.title == f"{teammate.username} remixed your video"
    assert "a red kite over dunes" in words.body and "in the rain" in words.body


def test_own_and_private_remixes_tell_nobody(owner: Any, teammate: Any, app_client: Any) -> None:
    source = a_video(owner=owner)
    video_services.video_remix(actor=owner, source=source, prompt="mine", client=app_client)
    video_services.video_remix(
        actor=teammate, source=source, prompt="secret", client=app_client, visibility="private"
    )
    assert not Event.objects.exists()


def test_an_extension_by_a_teammate_is_told_as_one(
    owner: Any, teammate: Any, app_client: Any
) -> None:
    source = a_video(owner=owner)
    video_services.video_extend(
        actor=teammate, source=source, prompt="and then", seconds=4, client=app_client
    )
    assert told(owner) == [events.VIDEO_EXTENDED]


def test_a_budget_is_told_at_80_and_100_percent_once_a_month(owner: Any) -> None:
    Budget.objects.create(user=owner, monthly_points=10_000)
    from videostudio.usage.costs import budget_tell

    budget_tell(owner.pk, 10_000, 7_999)
    assert told(owner) == []
    budget_tell(owner.pk, 10_000, 8_000)
    budget_tell(owner.pk, 10_000, 9_000)
    assert told(owner) == [events.BUDGET_WARNING]
    budget_tell(owner.pk, 10_000, 10_000)
    budget_tell(owner.pk, 10_000, 12_000)
    assert sorted(told(owner)) == sorted([events.BUDGET_WARNING, events.BUDGET_REACHED])
    next_month = timezone.now() + timedelta(days=32)
    budget_tell(owner.pk, 10_000, 8_500, now=next_month)
    assert told(owner).count(events.BUDGET_WARNING) == 2
    words = describe(Event.objects.get(kind=events.BUDGET_REACHED), owner)
    assert "12000" not in words.body and "10000 of your 10000 points" in words.body


def test_a_job_that_takes_a_budget_past_80_percent_tells_its_owner(
    owner: Any, app_client: Any
) -> None:
    from videostudio.catalog.services import catalog_specs

    spec = next(s for s in catalog_specs() if s.name == "Sora-2")

    def submit() -> Video:
        return video_services.video_submit(
            owner=owner, spec=spec, prompt="a", seconds=4, size="720x1280", image=None,
            client=app_client,
        )  # fmt: skip

    held = submit().reserved_points
    assert held and told(owner) == []
    Budget.objects.update_or_create(user=owner, defaults={"monthly_points": round(held * 2.4)})
    submit()  # 2 of 2.4 held: 83%
    assert told(owner) == [events.BUDGET_WARNING]
    words = describe(Event.objects.get(), owner)
    assert f"{held * 2} of your {round(held * 2.4)} points" in words.body


def test_the_team_running_out_of_points_is_told_to_staff_once_a_spell(
    owner: Any, staff: Any
) -> None:
    credits_note_exhausted()
    credits_note_exhausted()
    assert told(staff) == [events.TEAM_OUT_OF_POINTS] and told(owner) == []
    UsagePolicy.objects.filter(pk=1).update(out_of_points_since=None)  # points were added
    credits_note_exhausted()
    assert told(staff) == [events.TEAM_OUT_OF_POINTS] * 2


def test_a_quiet_worker_is_told_to_staff_once_per_silence(
    owner: Any, staff: Any, settings: Any
) -> None:
    long_ago = timezone.now() - timedelta(seconds=settings.VIDEOSTUDIO_WORKER_STALE_SECONDS + 60)
    heartbeat_beat(at=long_ago)
    assert alerts_raise() == ["the worker is quiet"]
    alerts_raise()
    assert told(staff) == [events.WORKER_SILENT] and told(owner) == []
    heartbeat_beat()  # it came back...
    assert alerts_raise() == []
    later = timezone.now() + timedelta(seconds=settings.VIDEOSTUDIO_WORKER_STALE_SECONDS + 60)
    alerts_raise(now=later)  # ...and went quiet again
    assert told(staff) == [events.WORKER_SILENT] * 2


def test_health_asked_while_the_worker_is_away_tells_staff(
    client: Client, staff: Any, settings: Any
) -> None:
    cache.delete(THROTTLE_KEY)  # an earlier test's look, within the minute
    long_ago = timezone.now() - timedelta(seconds=settings.VIDEOSTUDIO_WORKER_STALE_SECONDS + 60)
    heartbeat_beat(at=long_ago)
    assert client.get("/health/").status_code == 503
    assert told(staff) == [events.WORKER_SILENT]


@pytest.mark.django_db(transaction=True)
def test_with_the_worker_gone_health_itself_mails_staff(
    client: Client, smtp: MailServer, settings: Any
) -> None:
    """Nobody is browsing and the worker (which sends mail) is the one that stopped:
    a monitor asking /health/ is enough for staff to get the email, sent from here."""
    cache.delete(THROTTLE_KEY)  # an earlier test's look, within the minute
    make_user("stella", is_staff=True, email="stella@example.com")
    long_ago = timezone.now() - timedelta(seconds=settings.VIDEOSTUDIO_WORKER_STALE_SECONDS + 60)
    heartbeat_beat(at=long_ago)
    assert client.get("/health/").status_code == 503
    deadline = time.monotonic() + 10
    while not smtp.inbox.messages and time.monotonic() < deadline:
        time.sleep(0.05)
    [mail] = smtp.inbox.messages
    assert mail["To"] == "stella@example.com"
    assert mail["Subject"] == "videostudio: The worker is not being heard from"
    client.get("/health/")
    time.sleep(0.5)
    assert len(smtp.inbox.messages) == 1  # once per silence


def test_an_archive_at_risk_is_told_to_staff_without_a_private_prompt(
    owner: Any, staff: Any
) -> None:
    heartbeat_beat()
    soon = timezone.now() + timedelta(minutes=10)
    video = a_video(owner=owner, archived_at=None, video_file="", expires_at=soon, private=True,
                    prompt="our secret launch")  # fmt: skip
    assert alerts_raise() == [f"video {video.pk} at risk"]
    alerts_raise()
    assert told(staff) == [events.ARCHIVE_AT_RISK] and told(owner) == []
    words = describe(Event.objects.get(), staff)
    assert "our secret launch" not in f"{words.title} {words.body}" and words.url == ""
    assert "a private video" in words.body
    assert "our secret launch" in describe(Event.objects.get(), owner).body


# --- Once, under any interleaving ------------------------------------------------------------


@hsettings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=1, max_size=25))
def test_each_event_is_one_notification_per_recipient_whatever_the_order(
    owner: Any, staff: Any, emits: list[str]
) -> None:
    """Keys emitted in any order, any number of times, for a member or for staff: one
    event per key, one notification per key and recipient, and the bell counts them."""
    Event.objects.all().delete()
    for key in emits:
        # The same key is the same event: its kind (and so its audience) goes with it.
        kind = events.TEAM_OUT_OF_POINTS if key in "ab" else events.BUDGET_WARNING
        events.emit(events.Happening(kind=kind, key=key, user_id=owner.pk))
    keys = set(emits)
    assert set(Event.objects.values_list("key", flat=True)) == keys
    team_keys = keys & {"a", "b"}
    assert services.unread_count(staff) == len(team_keys)
    assert services.unread_count(owner) == len(keys - team_keys)
    assert Notification.objects.count() == len(keys)


RECORDER = r"""
import json, sys, time
from django.conf import settings
settings.DATABASES["default"]["NAME"] = sys.argv[1]  # the test database
import django
django.setup()
from django.db import connection
from videostudio.videos import events
print("ready", flush=True)
start = float(sys.stdin.readline())
while time.time() < start:
    time.sleep(0.002)
for n in range(30):
    happening = events.Happening(kind="video.completed", key=f"k{n}", user_id=int(sys.argv[2]))
    events.emit(happening)
print(json.dumps({"done": True}))
"""


@pytest.mark.django_db(transaction=True)
def test_processes_recording_the_same_events_at_once_record_each_once() -> None:
    member = make_user("member")
    reports = together(RECORDER, str(member.pk), processes=3)
    assert reports == [{"done": True}] * 3
    assert Event.objects.count() == 30
    assert Notification.objects.filter(recipient=member).count() == 30
    assert json.dumps(sorted(Event.objects.values_list("key", flat=True))) == json.dumps(
        sorted(f"k{n}" for n in range(30))
    )


class Broken:
    def happened(self, happening: events.Happening) -> None:
        Event.objects.create(kind="x", key=happening.key)
        raise RuntimeError("the listener broke")


def test_a_broken_listener_does_not_undo_the_job_moving(owner: Any) -> None:
    broken = Broken()
    events.register(broken)
    try:
        video = running(owner)
        assert complete(video)
    finally:
        events.unregister(broken)
    video.refresh_from_db()
    assert video.status == Video.Status.COMPLETED
    # The broken listener's own write went with it; the real one recorded the event.
    assert list(Event.objects.values_list("kind", flat=True)) == [events.VIDEO_COMPLETED]


# --- The bell and the page -------------------------------------------------------------------


def _bell(html: str) -> str:
    start = html.index('id="bell"')
    return html[start : html.index("</a>", start)]


def test_the_bell_counts_unread_and_a_poll_redraws_it_only_when_it_moved(
    client: Client, owner: Any
) -> None:
    video = running(owner)
    client.force_login(owner)
    page = client.get(reverse("videos:list")).content.decode()
    assert "none unread" in _bell(page) and "&amp;bell=0" in page
    query = {"view": "list", "since": str(time.time() + 5), "id": str(video.pk), "bell": "0"}
    quiet = client.get(reverse("videos:progress"), query, headers=HTMX).content.decode()
    assert 'id="bell"' not in quiet
    video.refresh_from_db()
    complete(video)
    answer = client.get(reverse("videos:progress"), {**query, "since": "0"}, headers=HTMX)
    bell = _bell(answer.content.decode())
    assert 'hx-swap-oob="true"' in bell and "1 unread" in bell and 'data-count="1"' in bell
    again = client.get(reverse("videos:progress"), {**query, "bell": "1"}, headers=HTMX)
    assert 'id="bell"' not in again.content.decode()


def test_the_notifications_page_marks_read_one_and_all(
    client: Client, owner: Any, teammate: Any
) -> None:
    first, second = running(owner), running(owner)
    complete(first)
    complete(second)
    client.force_login(owner)
    page = client.get(reverse("notifications:list")).content.decode()
    assert page.count('class="notification unread"') == 2 and "Your video is ready" in page
    mine = Notification.objects.filter(recipient=owner).order_by("pk")
    response = client.post(reverse("notifications:read"), {"id": str(mine[0].pk)})
    assert response.status_code == 302 and services.unread_count(owner) == 1
    unread = client.get(reverse("notifications:list"), {"unread": "1"}).content.decode()
    assert unread.count('class="notification unread"') == 1
    client.post(reverse("notifications:read"), {"all": "1"}, follow=True)
    assert services.unread_count(owner) == 0
    assert "Nothing unread." in client.get("/notifications/?unread=1").content.decode()


def test_opening_a_notification_reads_it_and_goes_to_its_video(
    client: Client, owner: Any, teammate: Any
) -> None:
    video = running(owner)
    complete(video)
    notification = Notification.objects.get()
    client.force_login(teammate)
    assert client.post(reverse("notifications:open", args=[notification.pk])).status_code == 404
    assert (
        client.post(reverse("notifications:read"), {"id": str(notification.pk)}).status_code == 302
    )
    assert services.unread_count(owner) == 1  # a teammate cannot read it for them
    client.force_login(owner)
    response = client.post(reverse("notifications:open", args=[notification.pk]))
    assert response.status_code == 302 and response["Location"] == video.get_absolute_url()
    assert services.unread_count(owner) == 0


def test_junk_on_the_notifications_pages_gets_a_clear_word(client: Client, owner: Any) -> None:
    client.force_login(owner)
    response = client.post(reverse("notifications:read"), {"id": "x'; drop"}, follow=True)
    assert response.status_code == 200
    assert "That is not one of your notifications" in response.content.decode()
    assert client.get("/notifications/?page=zebra").status_code == 200
    assert client.get(reverse("notifications:read")).status_code == 405


def test_the_notifications_page_needs_a_login(client: Client) -> None:
    response = client.get(reverse("notifications:list"))
    assert response.status_code == 302 and reverse("login") in response["Location"]


def test_old_notifications_are_pruned(owner: Any, settings: Any) -> None:
    complete(running(owner))
    complete(running(owner))
    Notification.objects.filter(pk=Notification.objects.order_by("pk")[0].pk).update(
        created_at=timezone.now() - timedelta(days=settings.VIDEOSTUDIO_NOTIFICATION_DAYS + 1)
    )
    Event.objects.update(created_at=timezone.now() - timedelta(days=400))
    services.notifications_prune()
    assert Notification.objects.count() == 1
    assert Event.objects.count() == 1  # the one still notified is kept


def test_a_deleted_user_takes_their_notifications_along(owner: Any) -> None:
    complete(running(owner))
    assert Notification.objects.count() == 1
    User.objects.filter(pk=owner.pk).update(is_active=False)
    complete(running(owner))  # an inactive member is told nothing
    assert Notification.objects.count() == 1


def test_health_answers_when_the_cache_does_not_while_the_worker_is_away(
    client: Client, staff: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("the cache does not answer")

    long_ago = timezone.now() - timedelta(seconds=settings.VIDEOSTUDIO_WORKER_STALE_SECONDS + 60)
    heartbeat_beat(at=long_ago)
    monkeypatch.setattr(cache, "add", broken)
    monkeypatch.setattr(cache, "set", broken)
    response = client.get("/health/")
    assert response.status_code == 503 and response.json()["checks"]["cache"] != "ok"
