"""Optional retention of the local archive (time travel with explicit `now`)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_q.models import Schedule

from videostudio.gallery.models import Star
from videostudio.videos import tasks
from videostudio.videos.models import Video
from videostudio.videos.retention import retention_due, videos_apply_retention

from .factories import a_lineage, a_video

pytestmark = pytest.mark.django_db


@pytest.fixture
def keep_30_days(settings: Any) -> None:
    settings.VIDEOSTUDIO_RETENTION_DAYS = 30
    settings.VIDEOSTUDIO_RETENTION_NOTICE_DAYS = 7


def aged(days: int, **fields: Any) -> Video:
    return a_video(completed_at=timezone.now() - timedelta(days=days), **fields)


def test_retention_is_off_by_default(owner: Any) -> None:
    aged(400, owner=owner, with_files=True)
    assert videos_apply_retention() == 0
    assert retention_due(owner) == []
    assert Video.objects.filter(deleted_at__isnull=True).count() == 1


def test_old_videos_lose_their_local_copy_but_starred_ones_stay(
    owner: Any, teammate: Any, keep_30_days: None
) -> None:
    old = aged(31, owner=owner, with_files=True)
    starred = aged(31, owner=owner)
    young = aged(10, owner=owner)
    Star.objects.create(user=teammate, video=starred)
    name = str(old.video_file.name)
    assert videos_apply_retention() == 1
    old.refresh_from_db()
    assert old.deleted_at is not None and not default_storage.exists(name)
    for kept in (starred, young):
        kept.refresh_from_db()
        assert kept.deleted_at is None


def test_a_video_with_a_descendant_in_progress_is_not_touched(
    owner: Any, keep_30_days: None
) -> None:
    root, remix = a_lineage("remix", owner=owner, completed_at=timezone.now() - timedelta(days=40))
    a_video(owner=owner, kind="extension", parent=remix, root=root, running=True)
    assert videos_apply_retention() == 0
    Video.objects.filter(kind="extension").update(next_poll_at=None)
    assert videos_apply_retention() == 2


def test_owners_are_told_in_advance_and_can_star_to_keep(
    client: Client, owner: Any, keep_30_days: None
) -> None:
    due = aged(25, owner=owner, prompt="due next week")
    aged(5, owner=owner, prompt="not yet")
    assert [d.video.pk for d in retention_due(owner)] == [due.pk]
    client.force_login(owner)
    html = client.get(reverse("videos:list")).content.decode()
    section = html.split('aria-label="Due for deletion"')[1].split("</section>")[0]
    assert "due next week" in section and "not yet" not in section
    response = client.post(
        reverse("gallery:star", args=[due.pk]), {"starred": "1", "next": reverse("videos:list")}
    )
    assert response.status_code == 302 and response["Location"] == reverse("videos:list")
    assert retention_due(owner) == []


def test_retention_runs_daily(keep_30_days: None, owner: Any) -> None:
    assert Schedule.objects.get(func="videostudio.videos.tasks.retention").schedule_type == "D"
    aged(60, owner=owner)
    assert tasks.retention() == "deleted 1 local copies"
