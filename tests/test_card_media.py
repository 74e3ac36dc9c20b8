"""Cards on every list show a lazy poster, never a <video>: the video loads when played."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from videostudio.videos.models import Video

from .factories import a_lineage, a_video

pytestmark = pytest.mark.django_db

SPRITED = {
    "spritesheet_file": "videos/test/sprite.jpg",
    "sprite_columns": 5,
    "sprite_rows": 4,
    "sprite_frames": 18,
    "sprite_source": "seams",
}


def card(html: str, video: Video, prefix: str = "video") -> str:
    start = html.index(f'id="{prefix}-{video.pk}"')
    return html[start : html.index("</article>", start)]


def list_pages(owner: Any) -> list[tuple[str, str]]:
    family = a_lineage("remix", owner=owner, **SPRITED)
    return [
        (reverse("videos:list"), "video"),
        (reverse("videos:list") + f"?family={family[0].pk}", "video"),
        (reverse("gallery:index"), "gallery"),
    ]


def test_no_list_puts_a_video_element_on_a_card(client: Client, owner: Any) -> None:
    client.force_login(owner)
    for url, _prefix in list_pages(owner):
        html = client.get(url).content.decode()
        assert "video-card" in html
        assert "<video" not in html, url
        assert 'loading="lazy"' in html


def test_a_finished_card_carries_its_poster_its_shape_and_its_grid(
    client: Client, owner: Any
) -> None:
    client.force_login(owner)
    landscape = a_video(owner=owner, size="1280x720", **SPRITED)
    for url, prefix in [(reverse("videos:list"), "video"), (reverse("gallery:index"), "gallery")]:
        html = card(client.get(url).content.decode(), landscape, prefix)
        media = reverse("videos:media", args=[landscape.pk, "video"])
        assert f'data-video="{media}"' in html
        assert 'data-width="1280" data-height="720"' in html
        assert 'data-cols="5" data-rows="4" data-frames="18"' in html
        assert re.search(r'<img [^>]*loading="lazy"[^>]*width="1280" height="720"', html)


@pytest.mark.parametrize(
    "fields",
    [
        {"sprite_columns": 2, "sprite_rows": 2},  # the old guess: no frame count
        {"spritesheet_file": ""},
        {"size": ""},  # no shape to letterbox the frame to
    ],
)
def test_a_card_without_a_trustworthy_grid_shows_its_thumbnail_only(
    client: Client, owner: Any, fields: dict[str, Any]
) -> None:
    client.force_login(owner)
    if "sprite_columns" in fields:
        fields = {**fields, "sprite_frames": None}
    video = a_video(owner=owner, **{**SPRITED, **fields})
    html = card(client.get(reverse("videos:list")).content.decode(), video)
    assert "data-sprite" not in html and "data-video" in html


def test_cards_in_flight_keep_their_placeholder(client: Client, owner: Any) -> None:
    client.force_login(owner)
    running = a_video(owner=owner, running=True)
    failed = a_video(owner=owner, status=Video.Status.FAILED, archived_at=None, video_file="")
    html = client.get(reverse("videos:list")).content.decode()
    assert 'class="placeholder"' in card(html, running) and "data-video" not in card(html, running)
    assert "placeholder failed" in card(html, failed)


def test_the_detail_page_keeps_its_player(client: Client, owner: Any) -> None:
    client.force_login(owner)
    video = a_video(owner=owner, **SPRITED)
    html = client.get(video.get_absolute_url()).content.decode()
    assert '<video controls preload="metadata"' in html
