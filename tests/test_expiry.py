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


def test_a_fresh_saved_video_says_calmly_until_when_it_can_be_remixed(
    owner: Any, settings: Any
) -> None:
    settings.VIDEOSTUDIO_EXPIRY_WARNING_HOURS = 24
    start = timezone.now()
    video = a_video(owner=owner, expires_at=start + timedelta(hours=30))
    assert expiry_notice(video, now=start, can_build=True) is None  # too far off to mention
    clock = FakeClock(start.timestamp())
    with clock.travelling():
        clock.advance(7 * 3600)
        notice = expiry_notice(video, can_build=True)
        assert notice and notice.level == "calm" and not notice.loud
        assert notice.left == "23 h 0 min" and "remixed or extended until" in notice.message
        clock.advance(22 * 3600 + 20 * 60)  # 29 h 20 min in: 40 min left, still calm
        notice = expiry_notice(video, can_build=True)
        assert notice and notice.level == "calm" and notice.left == "40 min"
        clock.advance(3600 + 40 * 60)  # 31 h in: gone; the copy here plays, nothing to say
        assert expiry_notice(video, can_build=True) is None


def test_a_copy_someone_builds_on_turns_loud_only_in_its_last_minutes(
    owner: Any, settings: Any
) -> None:
    settings.VIDEOSTUDIO_EXPIRY_WARNING_HOURS = 24
    now = timezone.now()
    video = a_video(owner=owner, expires_at=now + timedelta(hours=1))
    notice = expiry_notice(video, now=now, can_build=True, building_on=True)
    assert notice and notice.level == "calm" and not notice.loud  # an hour is plenty
    notice = expiry_notice(video, now=now + timedelta(minutes=48), can_build=True, building_on=True)
    assert notice and notice.level == "urgent" and notice.loud and notice.left == "12 min"
    assert "no longer be remixed or extended" in notice.message
    quiet = expiry_notice(video, now=now + timedelta(minutes=48), can_build=True)
    assert quiet and quiet.level == "calm"  # nobody is building on it: nothing to do


def test_the_last_minutes_still_count_with_the_threshold_off(owner: Any, settings: Any) -> None:
    settings.VIDEOSTUDIO_EXPIRY_WARNING_HOURS = 0
    now = timezone.now()
    video = a_video(owner=owner, expires_at=now + timedelta(minutes=10))
    notice = expiry_notice(video, now=now, can_build=True, building_on=True)
    assert notice and notice.level == "urgent"
    assert expiry_notice(video, now=now - timedelta(hours=2), can_build=True) is None


def test_nothing_is_said_when_nothing_would_be_lost(owner: Any) -> None:
    now = timezone.now()
    veo = a_video(owner=owner, model="Veo-3", expires_at=now + timedelta(minutes=30))
    assert expiry_notice(veo, now=now, can_build=False, building_on=True) is None


def test_an_unsaved_video_is_loud_only_once_saving_is_at_risk(owner: Any, settings: Any) -> None:
    settings.VIDEOSTUDIO_ARCHIVE_RISK_MINUTES = 30
    now = timezone.now()
    saving = a_video(owner=owner, archived_at=None, video_file="", next_poll_at=now,
                     expires_at=now + timedelta(minutes=55))  # fmt: skip
    assert expiry_notice(saving, now=now, can_build=False) is None  # the card says "Saving"
    notice = expiry_notice(saving, now=now + timedelta(minutes=30), can_build=False)
    assert notice and notice.loud and "NOT saved here" in notice.message
    given_up = a_video(owner=owner, archived_at=None, video_file="", archive_error="disk full",
                       expires_at=now + timedelta(hours=5))  # fmt: skip
    notice = expiry_notice(given_up, now=now, can_build=True)
    assert notice and notice.level == "urgent"
    notice = expiry_notice(given_up, now=now + timedelta(hours=6), can_build=True)
    assert notice and notice.level == "lost" and notice.loud and not notice.counting


def test_needs_attention_lists_only_what_needs_the_member(
    member: Client, owner: Any, teammate: Any
) -> None:
    now = timezone.now()
    fresh = a_video(owner=owner, prompt="fresh and saved", expires_at=now + timedelta(minutes=55))
    built_on = a_video(owner=owner, prompt="being built on", expires_at=now + timedelta(minutes=10))
    a_video(owner=owner, kind="remix", parent=built_on, root=built_on, prompt="its remix",
            expires_at=now + timedelta(hours=2))  # fmt: skip
    a_video(owner=owner, prompt="plenty of time", expires_at=now + timedelta(days=3))
    a_video(owner=teammate, prompt="not mine", archived_at=None, video_file="")
    broken = a_video(
        owner=owner, prompt="never saved", archived_at=None, video_file="",
        archive_error="disk full", expires_at=now + timedelta(days=2),
    )  # fmt: skip
    html = member.get(reverse("videos:list")).content.decode()
    attention = html.split('aria-label="Needs attention"')[1].split("</section>")[0]
    assert "being built on" in attention and "never saved" in attention
    for calm in ("fresh and saved", "its remix", "plenty of time", "not mine"):
        assert calm not in attention
    assert f'action="{reverse("videos:archive", args=[broken.pk])}"' in attention
    card = html.split(f'id="video-{fresh.pk}"')[1].split("</article>")[0]
    assert 'class="notice calm"' in card and 'class="countdown"' in card
    assert "remixed or extended until" in card and 'role="status"' not in card
    loud = html.split(f'id="video-{built_on.pk}"')[1].split("</article>")[0]
    assert 'class="notice urgent"' in loud


def test_a_calm_page_has_no_needs_attention_at_all(member: Client, owner: Any) -> None:
    now = timezone.now()
    a_video(owner=owner, expires_at=now + timedelta(minutes=59))  # just finished, saved
    html = member.get(reverse("videos:list")).content.decode()
    assert "Needs attention" not in html and 'class="notice calm"' in html


def test_a_budget_about_to_run_out_needs_attention(member: Client, owner: Any) -> None:
    from videostudio.usage.models import Budget

    Budget.objects.create(user=owner, monthly_points=10_000)
    a_video(owner=owner, cost_points=9_200, cost_at=timezone.now())
    html = member.get(reverse("videos:list")).content.decode()
    attention = html.split('aria-label="Needs attention"')[1].split("</section>")[0]
    assert "800 of 10000 points left" in attention
    a_video(owner=owner, cost_points=900, cost_at=timezone.now())
    html = member.get(reverse("videos:list")).content.decode()
    assert "monthly budget is used up" in html


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
    assert "3 videos made from this" in card
    family = member.get(reverse("videos:list"), {"family": str(extension.pk)}).content.decode()
    assert "Family of" in family
    for video in (root, remix, extension):
        assert f'id="video-{video.pk}"' in family
    assert f'id="video-{secret.pk}"' not in family


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0 s"), (59.9, "59 s"), (60, "1 min"), (300, "5 min"), (7500, "2 h 5 min"),
     (180_000, "2 days"), (-5, "0 s")],
)  # fmt: skip
def test_durations_read_like_a_person_would_say_them(seconds: float, text: str) -> None:
    assert humanize(timedelta(seconds=seconds)) == text


def test_a_teammates_video_i_build_on_needs_my_attention_in_its_last_hour(
    member: Client, owner: Any, teammate: Any
) -> None:
    now = timezone.now()
    theirs = a_video(owner=teammate, prompt="their harbour", expires_at=now + timedelta(minutes=10))
    a_video(owner=teammate, prompt="their forest", expires_at=now + timedelta(minutes=10))
    a_video(owner=owner, kind="remix", parent=theirs, root=theirs, prompt="my remix of it")
    secret = a_video(owner=teammate, prompt="their secret", private=True,
                     expires_at=now + timedelta(minutes=10))  # fmt: skip
    a_video(owner=owner, kind="remix", parent=secret, root=secret)  # made before it went private
    html = member.get(reverse("videos:list")).content.decode()
    attention = html.split('aria-label="Needs attention"')[1].split("</section>")[0]
    assert "their harbour" in attention and "goes in" in attention
    assert "their forest" not in attention and "their secret" not in attention


def test_quiet_videos_never_crowd_out_what_needs_attention(member: Client, owner: Any) -> None:
    now = timezone.now()
    for n in range(25):  # a busy hour: fresh, saved, nothing to do
        a_video(owner=owner, prompt=f"quiet {n}", expires_at=now + timedelta(minutes=20 + n))
    a_video(owner=owner, prompt="never saved", archived_at=None, video_file="",
            archive_error="disk full", expires_at=None)  # fmt: skip
    built_on = a_video(owner=owner, prompt="being built on", expires_at=now + timedelta(minutes=12))
    a_video(owner=owner, kind="remix", parent=built_on, root=built_on)
    html = member.get(reverse("videos:list")).content.decode()
    attention = html.split('aria-label="Needs attention"')[1].split("</section>")[0]
    assert "never saved" in attention and "being built on" in attention
    assert "quiet" not in attention


def test_the_calm_notice_says_only_what_can_still_be_made(owner: Any) -> None:
    from videostudio.videos.expiry import video_cards

    now = timezone.now()
    roomy = a_video(owner=owner, seconds=100, expires_at=now + timedelta(minutes=50))
    full = a_video(owner=owner, seconds=118, expires_at=now + timedelta(minutes=50))
    veo = a_video(owner=owner, model="Veo-3", expires_at=now + timedelta(minutes=50))
    cards = {card.video.pk: card.notice for card in video_cards([roomy, full, veo], now=now)}
    roomy_notice, full_notice = cards[roomy.pk], cards[full.pk]
    assert roomy_notice and roomy_notice.ways == "remixed or extended"
    assert full_notice and full_notice.ways == "remixed"  # 118 s of Sora's 120
    assert "can be remixed until" in full_notice.message
    assert cards[veo.pk] is None  # Veo makes nothing from a video


def test_building_on_a_video_still_being_saved_is_not_a_failure(member: Client, owner: Any) -> None:
    now = timezone.now()
    saving = a_video(owner=owner, prompt="still saving", archived_at=None, video_file="",
                     next_poll_at=now, expires_at=now + timedelta(minutes=10))  # fmt: skip
    a_video(owner=owner, kind="extension", parent=saving, root=saving, running=True)
    html = member.get(reverse("videos:list")).content.decode()
    attention = html.split('id="attention"')[1].split("</div>\n")[0]
    assert "saving its files failed" not in attention
    assert "being saved now" in attention  # at risk (10 min left), and said so calmly
