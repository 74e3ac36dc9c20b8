from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from videostudio.gallery.models import Star
from videostudio.gallery.selectors import decode_cursor, gallery_page
from videostudio.videos.models import Video

from .conftest import make_user
from .factories import a_video, some_videos

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


@pytest.fixture
def member(client: Client, owner: Any) -> Client:
    client.force_login(owner)
    return client


def titles(html: str, videos: list[Video]) -> list[str]:
    """The prompts of `videos` in the order the page shows them."""
    found = [(html.find(f'id="gallery-{v.pk}"'), v.prompt) for v in videos]
    return [prompt for position, prompt in sorted(found) if position >= 0]


def test_the_gallery_shows_finished_shared_work_only(member: Client, owner: Any) -> None:
    shown = a_video(owner=owner, prompt="shown")
    hidden = [
        a_video(owner=owner, prompt="private one", private=True),
        a_video(owner=owner, prompt="still running", running=True),
        a_video(owner=owner, prompt="failed one", status=Video.Status.FAILED, archived_at=None),
        a_video(owner=owner, prompt="deleted one", deleted_at=timezone.now()),
    ]
    html = member.get(reverse("gallery:index")).content.decode()
    assert titles(html, [shown, *hidden]) == ["shown"]
    card = html.split(f'id="gallery-{shown.pk}"')[1].split("</article>")[0]
    for piece in ("4 s", "Sora-2", owner.username, "Download", "Star", "Open", "Remix"):
        assert piece in card
    assert "now" in card or "seconds ago" in card  # naturaltime: made moments ago


def test_filters_combine_and_live_in_the_url(member: Client, owner: Any, teammate: Any) -> None:
    now = timezone.now()
    a = a_video(owner=owner, model="Sora-2", prompt="red fox in snow")
    b = a_video(owner=teammate, model="Veo-3", prompt="red panda eating")
    c = a_video(owner=teammate, model="Veo-3", prompt="blue whale", kind="remix")
    Video.objects.filter(pk=a.pk).update(created_at=now - timedelta(days=10))
    everyone = [a, b, c]
    url = reverse("gallery:index")

    def shown(**query: str) -> list[str]:
        return titles(member.get(url, query).content.decode(), everyone)

    assert shown(q="red") == ["red panda eating", "red fox in snow"]
    assert shown(q="RED snow") == ["red fox in snow"]
    assert shown(model="Veo-3") == ["blue whale", "red panda eating"]
    assert shown(author="olivia") == ["red fox in snow"]
    assert shown(kind="remix") == ["blue whale"]
    day = (now - timedelta(days=10)).date().isoformat()
    assert shown(since=day, until=day) == ["red fox in snow"]
    assert shown(q="red", author="theo", model="Veo-3") == ["red panda eating"]


def test_sorts_by_newest_most_remixed_and_longest(member: Client, owner: Any) -> None:
    old = a_video(owner=owner, prompt="old long", seconds=20, remix_count=1)
    mid = a_video(owner=owner, prompt="mid popular", seconds=8, remix_count=9)
    new = a_video(owner=owner, prompt="new short", seconds=4)
    url = reverse("gallery:index")
    every = [old, mid, new]
    assert titles(member.get(url).content.decode(), every) == [
        "new short",
        "mid popular",
        "old long",
    ]
    remixed = member.get(url, {"sort": "remixed"}).content.decode()
    assert titles(remixed, every) == ["mid popular", "old long", "new short"]
    longest = member.get(url, {"sort": "longest"}).content.decode()
    assert titles(longest, every) == ["old long", "mid popular", "new short"]


def test_stars_toggle_and_filter(member: Client, owner: Any) -> None:
    liked = a_video(owner=owner, prompt="liked")
    other = a_video(owner=owner, prompt="other")
    star = reverse("gallery:star", args=[liked.pk])
    response = member.post(star, {"starred": "1"}, headers=HTMX)
    assert "★ Starred" in response.content.decode() and "<html" not in response.content.decode()
    member.post(star, {"starred": "1"}, headers=HTMX)  # twice is harmless
    assert Star.objects.count() == 1
    html = member.get(reverse("gallery:index"), {"starred": "on"}).content.decode()
    assert titles(html, [liked, other]) == ["liked"]
    member.post(star, {"starred": "0"}, headers=HTMX)
    assert Star.objects.count() == 0


def test_htmx_gets_just_the_results_and_history_gets_the_whole_page(member: Client) -> None:
    a_video(prompt="anything", owner=make_user("ann"))
    url = reverse("gallery:index")
    part = member.get(url, {"q": "any"}, headers=HTMX).content.decode()
    assert part.lstrip().startswith('<div id="gallery-results">') and "<html" not in part
    restore = member.get(
        url, {"q": "any"}, headers={**HTMX, "HX-History-Restore-Request": "true"}
    ).content.decode()
    assert "<html" in restore and 'value="any"' in restore


def test_pages_follow_each_other_without_gaps_or_repeats(member: Client, owner: Any) -> None:
    videos = some_videos(55, owner=owner, seconds=4)
    Video.objects.filter(pk__in=[v.pk for v in videos[:30]]).update(seconds=8)  # ties
    seen: list[int] = []
    for sort in ("newest", "longest", "remixed"):
        seen.clear()
        cursor = None
        while True:
            page = gallery_page(user=owner, filters={"sort": sort}, cursor=cursor, size=10)
            seen.extend(v.pk for v in page.videos)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert sorted(seen) == sorted(v.pk for v in videos), sort
    html = member.get(reverse("gallery:index")).content.decode()
    assert "More videos" in html and "after=" in html


def test_the_load_more_button_appends_the_next_page(member: Client, owner: Any) -> None:
    some_videos(30, owner=owner)
    first = member.get(reverse("gallery:index")).content.decode()
    next_url = first.split('hx-get="')[-1].split('"')[0].replace("&amp;", "&")
    more = member.get(next_url, headers=HTMX).content.decode()
    assert more.count('class="video-card gallery-card"') == 6
    assert "More videos" not in more


def test_junk_in_the_url_is_explained_or_ignored(member: Client, owner: Any) -> None:
    a_video(owner=owner, prompt="still here")
    url = reverse("gallery:index")
    html = member.get(
        url, {"since": "2026-05-02", "until": "2026-05-01", "sort": "random", "after": "x~y"}
    ).content.decode()
    assert "The end date is before the start date." in html
    assert "“random” is not a way to sort the gallery" in html
    assert decode_cursor("nonsense", "created_at") is None
    assert decode_cursor("2026-13-01~5", "created_at") is None
    assert decode_cursor("12~7", "seconds") == (12, 7)


def test_a_gallery_page_costs_the_same_queries_however_many_videos(
    member: Client, owner: Any, django_assert_max_num_queries: Any
) -> None:
    some_videos(3, owner=owner)
    url = reverse("gallery:index")
    member.get(url)  # warm up (session, content types)
    with django_assert_max_num_queries(9) as few:  # 8, and the bell
        member.get(url, {"q": "scene"})
    some_videos(40, owner=make_user("someone"))
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = member.get(url, {"q": "scene"})
    assert response.content.decode().count('class="video-card gallery-card"') == 24


def test_dates_out_of_this_world_are_explained(member: Client) -> None:
    url = reverse("gallery:index")
    html = member.get(url, {"until": "9999-12-31"}).content.decode()
    assert "Choose a date before the year 9000." in html
    weird = member.get(url, {"after": "0001-01-01T00:00:00+23:59~1"})
    assert weird.status_code == 200
