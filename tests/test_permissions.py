"""Who may see and change what: owner, teammate, outsider (anonymous: one team per
deployment) and staff, on every page, media URL and action."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from videostudio.gallery.models import Star
from videostudio.videos.models import Video

from .factories import a_video

pytestmark = pytest.mark.django_db

PERSONAS = ["owner", "teammate", "outsider", "staff"]


@pytest.fixture
def as_persona(client: Client, owner: Any, teammate: Any, staff: Any) -> Any:
    def log_in(persona: str) -> Client:
        user = {"owner": owner, "teammate": teammate, "staff": staff}.get(persona)
        client.logout()
        if user is not None:
            client.force_login(user)
        return client

    return log_in


def urls_for(video: Video) -> list[str]:
    return [
        reverse("videos:detail", args=[video.pk]),
        *(reverse("videos:media", args=[video.pk, v]) for v in ("video", "thumbnail")),
        reverse("videos:progress") + f"?id={video.pk}&since=0",
    ]


@pytest.mark.parametrize(
    ("persona", "private", "expected"),
    [
        ("owner", False, 200),
        ("teammate", False, 200),
        ("outsider", False, 302),
        ("staff", False, 200),
        ("owner", True, 200),
        ("teammate", True, 404),
        ("outsider", True, 302),
        # Private means the owner only: staff too.
        ("staff", True, 404),
    ],
)
def test_pages_and_media_answer_each_persona(
    as_persona: Any, owner: Any, persona: str, private: bool, expected: int
) -> None:
    video = a_video(owner=owner, private=private, with_files=True)
    client = as_persona(persona)
    for url in urls_for(video)[:3]:
        response = client.get(url)
        assert response.status_code == expected, (url, response.status_code)
        if expected == 302:
            assert response["Location"].startswith(reverse("login"))
    progress = client.get(urls_for(video)[3])
    if expected == 200:
        assert f'id="video-{video.pk}"' in progress.content.decode()
    elif expected == 404:
        # The poller simply knows nothing of it.
        assert progress.status_code == 286
        assert f"video-{video.pk}" not in progress.content.decode()


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_gallery_and_its_search_hide_private_videos(
    as_persona: Any, owner: Any, persona: str
) -> None:
    a_video(owner=owner, prompt="a shared lighthouse")
    a_video(owner=owner, prompt="a secret lighthouse", private=True)
    client = as_persona(persona)
    response = client.get(reverse("gallery:index"), {"q": "lighthouse"})
    if persona == "outsider":
        assert response.status_code == 302
        return
    html = response.content.decode()
    assert "a shared lighthouse" in html
    assert "a secret lighthouse" not in html  # the gallery shows shared work only


@pytest.mark.parametrize(
    ("persona", "private", "expected"),
    [
        ("owner", False, 302),
        ("teammate", False, 403),
        ("staff", False, 302),
        ("owner", True, 302),
        ("teammate", True, 404),
        ("staff", True, 404),
    ],
)
def test_only_the_owner_and_staff_change_or_delete(
    as_persona: Any, owner: Any, persona: str, private: bool, expected: int
) -> None:
    video = a_video(owner=owner, private=private, with_files=True)
    client = as_persona(persona)
    edit = client.post(
        reverse("videos:edit", args=[video.pk]), {"title": "Renamed", "visibility": "team"}
    )
    assert edit.status_code == expected
    video.refresh_from_db()
    assert (video.title == "Renamed") == (expected == 302)

    delete = client.post(reverse("videos:delete", args=[video.pk]))
    assert delete.status_code == expected
    video.refresh_from_db()
    assert (video.deleted_at is not None) == (expected == 302)


def test_an_outsider_can_change_nothing(client: Client, owner: Any) -> None:
    video = a_video(owner=owner)
    for url in (
        reverse("videos:edit", args=[video.pk]),
        reverse("videos:delete", args=[video.pk]),
        reverse("gallery:star", args=[video.pk]),
    ):
        response = client.post(url, {"title": "x", "visibility": "private", "starred": "1"})
        assert response.status_code == 302 and "login" in response["Location"]
    video.refresh_from_db()
    assert video.title == "" and video.deleted_at is None
    assert Star.objects.count() == 0


def test_a_teammate_cannot_star_or_retry_a_private_video(as_persona: Any, owner: Any) -> None:
    video = a_video(owner=owner, private=True, prompt="hidden recipe")
    client = as_persona("teammate")
    assert (
        client.post(reverse("gallery:star", args=[video.pk]), {"starred": "1"}).status_code == 404
    )
    html = client.get(reverse("videos:new"), {"from": str(video.pk)}).content.decode()
    assert "hidden recipe" not in html


def test_deleting_removes_the_files_and_says_the_provider_keeps_its_copy(
    as_persona: Any, owner: Any
) -> None:
    from django.core.files.storage import default_storage

    video = a_video(owner=owner, with_files=True)
    names = [str(video.video_file.name), str(video.thumbnail_file.name)]
    client = as_persona("owner")
    confirm = client.get(reverse("videos:delete", args=[video.pk])).content.decode()
    assert "provider has no delete" in confirm
    response = client.post(reverse("videos:delete", args=[video.pk]), follow=True)
    assert "provider has no delete" in response.content.decode()
    assert not any(default_storage.exists(name) for name in names)
    assert client.get(reverse("videos:detail", args=[video.pk])).status_code == 404
    assert client.get(reverse("videos:media", args=[video.pk, "video"])).status_code == 404
    assert Video.objects.filter(pk=video.pk).exists()  # kept for the usage records


def test_a_video_still_being_made_cannot_be_deleted(as_persona: Any, owner: Any) -> None:
    video = a_video(owner=owner, running=True)
    client = as_persona("owner")
    response = client.post(reverse("videos:delete", args=[video.pk]), follow=True)
    assert "still being made" in response.content.decode()
    video.refresh_from_db()
    assert video.deleted_at is None


def test_the_owner_edits_title_and_visibility_inline(as_persona: Any, owner: Any) -> None:
    video = a_video(owner=owner)
    client = as_persona("owner")
    detail = client.get(reverse("videos:detail", args=[video.pk])).content.decode()
    assert 'id="owner-tools"' in detail
    response = client.post(
        reverse("videos:edit", args=[video.pk]),
        {"title": "Dawn patrol", "visibility": "private"},
        headers={"HX-Request": "true"},
    )
    html = response.content.decode()
    assert 'id="owner-tools"' in html and "Saved." in html and "<html" not in html
    video.refresh_from_db()
    assert video.title == "Dawn patrol" and video.visibility == "private"
    bad = client.post(
        reverse("videos:edit", args=[video.pk]),
        {"title": "x", "visibility": "everyone"},
        headers={"HX-Request": "true"},
    )
    assert "“everyone” is not a choice here" in bad.content.decode()


def test_teammates_see_no_owner_tools(as_persona: Any, owner: Any) -> None:
    video = a_video(owner=owner)
    html = as_persona("teammate").get(reverse("videos:detail", args=[video.pk])).content.decode()
    assert 'id="owner-tools"' not in html


def test_new_videos_follow_the_deployments_default_visibility(
    as_persona: Any, settings: Any
) -> None:
    settings.VIDEOSTUDIO_DEFAULT_VISIBILITY = "private"
    html = as_persona("owner").get(reverse("videos:new")).content.decode()
    assert 'name="share"' in html and 'name="share" checked' not in html
    settings.VIDEOSTUDIO_DEFAULT_VISIBILITY = "team"
    html = as_persona("owner").get(reverse("videos:new")).content.decode()
    assert "checked" in html.split('name="share"')[1].split(">")[0]


def test_a_stale_admin_form_cannot_roll_a_job_back(client: Client, owner: Any, staff: Any) -> None:
    video = a_video(owner=owner)
    staff.is_superuser = True
    staff.save()
    client.force_login(staff)
    url = reverse("admin:videos_video_change", args=[video.pk])
    html = client.get(url).content.decode()
    assert 'name="title"' in html and 'name="status"' not in html
    # A form that still says "in progress, 40 %" changes only what it may.
    client.post(url, {"title": "renamed", "visibility": "team", "status": "in_progress",
                      "progress": "40", "reserved_points": "40"})  # fmt: skip
    video.refresh_from_db()
    assert video.title == "renamed"
    assert video.status == Video.Status.COMPLETED and video.progress == 100
