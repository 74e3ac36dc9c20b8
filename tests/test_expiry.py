"""Making the provider's deadline visible (time travel with time-machine)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_q.models import OrmQ

from videostudio.videos.expiry import expiry_notice, humanize
from videostudio.videos.models import Video

from .conftest import FakeClock
from .factories import a_lineage, a_video

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(client: Client, owner: Any) -> Client:
    client.force_login(owner)
    return client


def test_the_warning_starts_at_the_threshold_and_turns_urgent_in_the_last_hour(
    owner: Any, settings: Any
) -> None:
    settings.VIDEOSTUDIO_EXPIRY_WARNING_HOURS = 24
    start = timezone.now()
    video = a_video(owner=owner, expires_at=start + timedelta(hours=30))
    assert expiry_notice(video, now=start, can_build=True) is None
    clock = FakeClock(start.timestamp())
    with clock.travelling():
        clock.advance(7 * 3600)
        notice = expiry_notice(video, can_build=True)
        assert notice and notice.level == "soon"
        assert "23 h 0 min" in notice.message and "remixed or extended" in notice.message
        clock.advance(22 * 3600 + 20 * 60)  # 29 h 20 min in
        notice = expiry_notice(video, can_build=True)
        assert notice and notice.level == "urgent" and "40 min" in notice.message
        clock.advance(3600 + 40 * 60)  # 31 h in
        notice = expiry_notice(video, can_build=True)
        assert notice and notice.level == "expired" and "still plays" in notice.message


def test_the_last_hour_warns_even_with_the_threshold_off(owner: Any, settings: Any) -> None:
    settings.VIDEOSTUDIO_EXPIRY_WARNING_HOURS = 0
    now = timezone.now()
    video = a_video(owner=owner, expires_at=now + timedelta(minutes=50))
    notice = expiry_notice(video, now=now, can_build=True)
    assert notice and notice.level == "urgent"
    assert expiry_notice(video, now=now - timedelta(hours=2), can_build=True) is None


def test_nothing_is_said_when_nothing_would_be_lost(owner: Any) -> None:
    now = timezone.now()
    veo = a_video(owner=owner, model="Veo-3", expires_at=now + timedelta(minutes=30))
    assert expiry_notice(veo, now=now, can_build=False) is None
    unsaved = a_video(owner=owner, model="Veo-3", archived_at=None, video_file="",
                      expires_at=now + timedelta(minutes=30))  # fmt: skip
    notice = expiry_notice(unsaved, now=now, can_build=False)
    assert notice and "NOT saved here" in notice.message


def test_my_videos_lists_what_needs_attention_with_a_countdown(
    member: Client, owner: Any, teammate: Any
) -> None:
    now = timezone.now()
    soon = a_video(owner=owner, prompt="leaving soon", expires_at=now + timedelta(hours=3))
    a_video(owner=owner, prompt="plenty of time", expires_at=now + timedelta(days=3))
    a_video(owner=teammate, prompt="not mine", expires_at=now + timedelta(hours=3))
    broken = a_video(
        owner=owner, prompt="never saved", archived_at=None, video_file="",
        archive_error="disk full", expires_at=now + timedelta(days=2),
    )  # fmt: skip
    html = member.get(reverse("videos:list")).content.decode()
    attention = html.split('aria-label="Needs attention"')[1].split("</section>")[0]
    assert "leaving soon" in attention and "never saved" in attention
    assert "plenty of time" not in attention and "not mine" not in attention
    assert f'action="{reverse("videos:archive", args=[broken.pk])}"' in attention
    card = html.split(f'id="video-{soon.pk}"')[1].split("</article>")[0]
    assert 'class="countdown"' in card and "remixed or extended" in card


def test_retrying_a_failed_archive_puts_it_back_in_the_queue(
    member: Client, owner: Any, django_capture_on_commit_callbacks: Any
) -> None:
    video = a_video(
        owner=owner, archived_at=None, video_file="", archive_attempts=6, archive_error="boom"
    )
    html = member.get(reverse("videos:detail", args=[video.pk])).content.decode()
    assert "Try saving again" in html and "loud" in html
    with django_capture_on_commit_callbacks(execute=True):
        member.post(reverse("videos:archive", args=[video.pk]))
    video.refresh_from_db()
    assert video.archive_attempts == 0 and video.next_poll_at is not None
    assert OrmQ.objects.exists()  # the tracker was woken


def test_the_family_view_shows_everyones_visible_videos_of_a_lineage(
    member: Client, owner: Any, teammate: Any
) -> None:
    root, remix, extension = a_lineage("remix", "extension", owner=owner)
    Video.objects.filter(pk=remix.pk).update(owner=teammate)
    secret = a_video(owner=teammate, kind="remix", parent=root, root=root, private=True)
    html = member.get(reverse("videos:list")).content.decode()
    card = html.split(f'id="video-{root.pk}"')[1].split("</article>")[0]
    assert "3 remixes and extensions from this" in card
    family = member.get(reverse("videos:list"), {"family": str(extension.pk)}).content.decode()
    assert "Family of" in family
    for video in (root, remix, extension):
        assert f'id="video-{video.pk}"' in family
    assert f'id="video-{secret.pk}"' not in family


@pytest.mark.parametrize(("minutes", "text"), [(5, "5 min"), (125, "2 h 5 min"), (3000, "2 days")])
def test_durations_read_like_a_person_would_say_them(minutes: int, text: str) -> None:
    assert humanize(timedelta(minutes=minutes)) == text
