"""Private means the owner only, at every door, staff and superusers included: they see
a private job's cost row in the usage review, never its prompt, page or files."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse

from videostudio.videos.models import Video

from .conftest import make_user
from .factories import a_lineage, a_video

pytestmark = pytest.mark.django_db

SECRET = "the secret recipe for lighthouse soup"
PERSONAS = ["owner", "teammate", "staff", "superuser"]


@pytest.fixture
def people(owner: Any, teammate: Any, staff: Any) -> dict[str, Any]:
    boss = make_user("sam", is_staff=True, is_superuser=True)
    return {"owner": owner, "teammate": teammate, "staff": staff, "superuser": boss}


@pytest.fixture
def secret(owner: Any) -> Video:
    video = a_video(
        owner=owner,
        private=True,
        prompt=SECRET,
        title="Soup",
        provider_id="video_secret_123",
        with_files=True,
        cost_points=3300,
        cost_source=Video.Cost.REPORTED,
        billed_seconds=4,
    )
    video.spritesheet_file.save("sprites.jpg", ContentFile(b"\xff\xd8jpeg"))
    video.reference_image.save("reference.jpg", ContentFile(b"\xff\xd8jpeg"))
    return video


def as_(client: Client, user: Any) -> Client:
    client.force_login(user)
    return client


def leaks(html: str) -> bool:
    return SECRET in html or "Soup" in html or "video_secret_123" in html


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_video_page_files_and_progress_are_the_owners_alone(
    client: Client, people: dict[str, Any], secret: Video, persona: str
) -> None:
    as_(client, people[persona])
    allowed = persona == "owner"
    pages = [reverse("videos:detail", args=[secret.pk])] + [
        reverse("videos:media", args=[secret.pk, variant])
        for variant in ("video", "thumbnail", "spritesheet", "reference")
    ]
    for url in pages:
        response = client.get(url)
        assert response.status_code == (200 if allowed else 404), (persona, url)
    progress = client.get(reverse("videos:progress"), {"id": str(secret.pk), "since": "0"})
    assert (f'id="video-{secret.pk}"' in progress.content.decode()) == allowed
    again = client.get(reverse("videos:new"), {"from": secret.pk}).content.decode()
    assert (SECRET in again) == allowed
    family = client.get(reverse("videos:list"), {"family": secret.pk})
    assert family.status_code == (200 if allowed else 404)


@pytest.mark.parametrize("persona", ["teammate", "staff", "superuser"])
def test_nobody_else_may_act_on_it(
    client: Client, people: dict[str, Any], secret: Video, persona: str
) -> None:
    as_(client, people[persona])
    for name in ("edit", "delete", "archive", "cancel", "remix", "extend"):
        response = client.post(
            reverse(f"videos:{name}", args=[secret.pk]),
            {"title": "mine now", "visibility": "team", "prompt": "a copy"},
        )
        assert response.status_code == 404, (persona, name)
    star = client.post(reverse("gallery:star", args=[secret.pk]), {"starred": "1"})
    assert star.status_code == 404
    secret.refresh_from_db()
    assert secret.visibility == Video.Visibility.PRIVATE and secret.title == "Soup"
    assert secret.deleted_at is None
    assert Video.objects.count() == 1


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_gallery_and_its_search_never_show_it(
    client: Client, people: dict[str, Any], secret: Video, persona: str
) -> None:
    as_(client, people[persona])
    html = client.get(reverse("gallery:index"), {"q": "lighthouse soup"}).content.decode()
    assert not leaks(html)


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_family_tree_shows_a_private_branch_as_a_placeholder(
    client: Client, people: dict[str, Any], owner: Any, teammate: Any, persona: str
) -> None:
    original, remix = a_lineage("remix", owner=owner)
    remix.visibility, remix.prompt = Video.Visibility.PRIVATE, SECRET
    remix.save()
    html = as_(client, people[persona]).get(original.get_absolute_url()).content.decode()
    if persona == "owner":
        assert SECRET in html
    else:
        assert "Private video" in html and not leaks(html)
        assert reverse("videos:media", args=[remix.pk, "thumbnail"]) not in html


@pytest.mark.parametrize("persona", ["staff", "superuser"])
def test_the_usage_review_shows_its_cost_but_not_what_it_is(
    client: Client, people: dict[str, Any], secret: Video, persona: str
) -> None:
    as_(client, people[persona])
    jobs = client.get(reverse("usage:review"), {"tab": "jobs"}).content.decode()
    assert f"#{secret.pk}" in jobs and "3300" in jobs and "olivia" in jobs
    assert not leaks(jobs)
    assert secret.get_absolute_url() not in jobs  # no link to a page that would 404
    csv = client.get(reverse("usage:review"), {"tab": "jobs", "export": "csv"}).content.decode()
    assert str(secret.pk) in csv and "3300" in csv and not leaks(csv)


def test_the_owners_own_private_job_links_to_its_page_in_the_review(
    client: Client, owner: Any
) -> None:
    owner.is_staff = True
    owner.save()
    video = a_video(owner=owner, private=True, cost_points=10, cost_source="reported")
    jobs = as_(client, owner).get(reverse("usage:review"), {"tab": "jobs"}).content.decode()
    assert f'href="{video.get_absolute_url()}"' in jobs


@pytest.mark.parametrize(
    "lookup",
    [
        "prompt__startswith",
        "prompt__regex",
        "title__startswith",
        "provider_id",
        "error_message__contains",
        "video_file__startswith",
        "parent__prompt__startswith",
        "owner__password__startswith",
    ],
)
def test_the_admins_address_filters_cannot_tell_what_it_holds(
    client: Client, people: dict[str, Any], secret: Video, lookup: str
) -> None:
    as_(client, people["superuser"])
    changelist = reverse("admin:videos_video_changelist")
    # Were it allowed, whether row `id` is listed would answer "does it start so?".
    for value in (SECRET[:3], "zzz"):
        response = client.get(changelist, {"id": str(secret.pk), lookup: value})
        assert response.status_code == 400 and not leaks(response.content.decode())
    # What anyone may see of it still filters.
    for allowed in ({"status__exact": secret.status}, {"owner__id__exact": str(secret.owner_id)}):
        listed = client.get(changelist, {"id": str(secret.pk), **allowed})
        assert listed.status_code == 200 and "(private)" in listed.content.decode()


@pytest.mark.parametrize("persona", ["staff", "superuser"])
def test_the_admin_lists_it_without_its_prompt_and_will_not_open_it_up(
    client: Client, people: dict[str, Any], secret: Video, persona: str
) -> None:
    user = people[persona]
    if not user.is_superuser:
        from django.contrib.auth.models import Permission

        user.user_permissions.add(
            *Permission.objects.filter(codename__in=["view_video", "change_video"])
        )
    as_(client, user)
    changelist = reverse("admin:videos_video_changelist")
    listing = client.get(changelist).content.decode()
    assert f">{secret.pk}<" in listing and "(private)" in listing and not leaks(listing)
    # Searching prompts or provider ids must not tell what it holds.
    for term in ("lighthouse soup", "video_secret_123"):
        found = client.get(changelist, {"q": term}).content.decode()
        assert "0 videos" in found or "0 results" in found, term
    # Its owner's name finds it (as the usage review names them).
    assert "(private)" in client.get(changelist, {"q": "olivia"}).content.decode()

    change = reverse("admin:videos_video_change", args=[secret.pk])
    page = client.get(change)
    assert page.status_code == 200
    html = page.content.decode()
    assert not leaks(html) and "View on site" not in html
    for name in (secret.video_file.name, secret.thumbnail_file.name, secret.reference_image.name):
        assert str(name) not in html
    assert "3300" in html and 'name="visibility"' not in html and 'name="title"' not in html
    client.post(change, {"title": "mine now", "visibility": "team"})
    secret.refresh_from_db()
    assert secret.visibility == Video.Visibility.PRIVATE and secret.title == "Soup"
    delete = client.get(reverse("admin:videos_video_delete", args=[secret.pk]))
    assert delete.status_code == 403


def test_in_the_admin_a_staff_members_own_private_video_is_theirs_to_see(
    client: Client, people: dict[str, Any]
) -> None:
    boss = people["superuser"]
    own = a_video(owner=boss, private=True, prompt=SECRET)
    html = as_(client, boss).get(reverse("admin:videos_video_changelist")).content.decode()
    assert SECRET[:60] in html
    page = client.get(reverse("admin:videos_video_change", args=[own.pk])).content.decode()
    assert 'name="title"' in page and SECRET in page


def test_a_video_is_named_without_its_prompt(secret: Video) -> None:
    assert str(secret) == f"Video #{secret.pk} (Sora-2)"
    assert not leaks(str(secret))


@pytest.mark.parametrize("persona", ["teammate", "staff", "superuser"])
def test_team_videos_stay_open_to_the_team(
    client: Client, people: dict[str, Any], owner: Any, persona: str
) -> None:
    shared = a_video(owner=owner, prompt="a shared lighthouse", with_files=True)
    as_(client, people[persona])
    assert client.get(shared.get_absolute_url()).status_code == 200
    assert client.get(reverse("videos:media", args=[shared.pk, "video"])).status_code == 200
    html = client.get(reverse("gallery:index"), {"q": "lighthouse"}).content.decode()
    assert "a shared lighthouse" in html


def test_the_admins_delete_selected_will_not_take_others_private_videos(
    client: Client, people: dict[str, Any], secret: Video, owner: Any
) -> None:
    shared = a_video(owner=owner)
    as_(client, people["superuser"])
    url = reverse("admin:videos_video_changelist")
    chosen = {"action": "delete_selected", "_selected_action": [secret.pk, shared.pk]}
    confirm = client.post(url, chosen).content.decode()
    assert "permission to delete" in confirm and not leaks(confirm)
    assert client.post(url, {**chosen, "post": "yes"}).status_code == 403
    assert Video.objects.filter(pk__in=[secret.pk, shared.pk]).count() == 2
