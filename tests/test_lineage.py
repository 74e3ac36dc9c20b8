from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from videostudio.catalog.services import catalog_find
from videostudio.provider.client import ProviderClient
from videostudio.videos import refresh, services
from videostudio.videos.lineage import descendant_counts, family_tree, lineage_refusal
from videostudio.videos.models import Video

from .conftest import FakeClock
from .factories import a_family, a_lineage, a_video
from .helpers import sent

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}


def build(kind: str, source: Video, actor: Any, client: ProviderClient, seconds: int = 4) -> Video:
    if kind == Video.Kind.REMIX:
        video = services.video_remix(actor=actor, source=source, prompt="x", client=client)
    else:
        video = services.video_extend(
            actor=actor, source=source, prompt="x", seconds=seconds, client=client
        )
    return sent(video, client)


def finished(owner: Any, client: ProviderClient, clock: FakeClock, **kw: Any) -> Video:
    """A real (simulated) job, followed to completion and archived."""
    spec = catalog_find(kw.pop("model", "Sora-2"))
    assert spec is not None
    video = services.video_submit(
        owner=owner, spec=spec.to_spec(), prompt=kw.pop("prompt", "a fox in snow"),
        seconds=kw.pop("seconds", 4), size="720x1280", image=None, client=client, **kw,
    )  # fmt: skip
    video = sent(video, client)
    clock.advance(60)
    return refresh.video_refresh(video=video, client=client)


def test_a_teammate_remixes_a_shared_video_and_owns_the_remix(
    owner: Any, teammate: Any, app_client: ProviderClient, clock: FakeClock, recorder: Any
) -> None:
    source = finished(owner, app_client, clock)
    remix = services.video_remix(
        actor=teammate, source=source, prompt="as a watercolour", client=app_client
    )
    assert remix.status == Video.Status.WAITING and not recorder.paths()[-1].endswith("/remix")
    remix = sent(remix, app_client)
    assert remix.owner == teammate and remix.kind == Video.Kind.REMIX
    assert (remix.parent, remix.root, remix.depth) == (source, source, 1)
    assert (remix.model, remix.seconds, remix.size) == ("Sora-2", 4, "720x1280")
    assert recorder.paths()[-1] == f"POST /v1/videos/{source.provider_id}/remix"
    source.refresh_from_db()
    assert source.remix_count == 1
    clock.advance(60)
    remix = refresh.video_refresh(video=remix, client=app_client)
    assert remix.is_archived


def test_an_extension_is_the_stitched_total_and_keeps_the_root(
    owner: Any, teammate: Any, app_client: ProviderClient, clock: FakeClock, recorder: Any
) -> None:
    source = finished(owner, app_client, clock, seconds=8)
    remix = services.video_remix(actor=teammate, source=source, prompt="noir", client=app_client)
    remix = sent(remix, app_client)
    clock.advance(60)
    remix = refresh.video_refresh(video=remix, client=app_client)
    extension = services.video_extend(
        actor=owner, source=remix, prompt="it rains", seconds=12, client=app_client
    )
    extension = sent(extension, app_client)
    assert extension.seconds == 20 and extension.kind == Video.Kind.EXTENSION
    assert extension.parent == remix and extension.root == source and extension.depth == 2
    assert recorder.paths()[-1] == "POST /v1/videos/extensions"
    assert b'"seconds":12' in recorder.requests[-1].content.replace(b" ", b"")


def test_an_extension_past_the_cap_is_refused_before_anything_is_sent(
    owner: Any, recorder: Any, app_client: ProviderClient
) -> None:
    source = a_video(owner=owner, seconds=116)
    sent = len(recorder.requests)
    assert lineage_refusal(source, Video.Kind.EXTENSION) is None  # 4 s still fit
    with pytest.raises(services.LineageRefused, match="would make 124 s"):
        build(Video.Kind.EXTENSION, source, owner, app_client, seconds=8)
    full = a_video(owner=owner, seconds=120)
    assert "already 120 s long" in (lineage_refusal(full, Video.Kind.EXTENSION) or "")
    assert len(recorder.requests) == sent
    assert Video.objects.count() == 2


@pytest.mark.parametrize(
    ("fields", "kind", "reason"),
    [
        ({"model": "Veo-3"}, Video.Kind.REMIX, "Veo 3 videos cannot be remixed"),
        ({"model": "Veo-3"}, Video.Kind.EXTENSION, "cannot be extended"),
        ({"running": True}, Video.Kind.REMIX, "Only a finished video"),
        ({"status": Video.Status.FAILED}, Video.Kind.EXTENSION, "Only a finished video"),
    ],
)
def test_what_cannot_be_built_on_says_why(
    owner: Any,
    recorder: Any,
    app_client: ProviderClient,
    fields: dict[str, Any],
    kind: str,
    reason: str,
) -> None:
    source = a_video(owner=owner, **fields)
    assert reason in (lineage_refusal(source, kind) or "")
    with pytest.raises(services.LineageRefused, match=reason):
        build(kind, source, owner, app_client)
    assert recorder.requests == []


def test_after_the_provider_deletes_its_copy_nothing_is_built_but_it_still_plays(
    owner: Any, client: Client, clock: FakeClock
) -> None:
    source = a_video(owner=owner, expires_at=timezone.now() + timedelta(hours=2), with_files=True)
    assert lineage_refusal(source, Video.Kind.REMIX) is None
    with clock.travelling():
        clock.advance(3 * 3600)
        reason = lineage_refusal(source, Video.Kind.REMIX)
        assert reason and "deleted its copy" in reason and "still plays" in reason
        client.force_login(owner)
        html = client.get(reverse("videos:detail", args=[source.pk])).content.decode()
        assert "deleted its copy" in html and "<video" in html
        assert 'id="id_remix_prompt"' not in html
        media = client.get(reverse("videos:media", args=[source.pk, "video"]))
        assert media.status_code == 200


def test_a_teammates_private_video_cannot_be_built_on(
    owner: Any, teammate: Any, client: Client, recorder: Any, app_client: ProviderClient
) -> None:
    secret = a_video(owner=owner, private=True)
    with pytest.raises(services.LineageRefused, match="cannot see"):
        build(Video.Kind.REMIX, secret, teammate, app_client)
    client.force_login(teammate)
    response = client.post(reverse("videos:remix", args=[secret.pk]), {"prompt": "x"})
    assert response.status_code == 404
    assert recorder.requests == []


def test_the_remix_form_sends_and_goes_to_the_new_video(
    owner: Any, teammate: Any, client: Client, app_client: ProviderClient, clock: FakeClock
) -> None:
    source = finished(owner, app_client, clock)
    client.force_login(teammate)
    page = client.get(reverse("videos:detail", args=[source.pk])).content.decode()
    assert 'id="derive-remix"' in page and 'id="derive-extension"' in page
    bad = client.post(reverse("videos:remix", args=[source.pk]), {"prompt": " "}, headers=HTMX)
    assert "Write a prompt for the new video." in bad.content.decode()
    response = client.post(
        reverse("videos:remix", args=[source.pk]),
        {"prompt": "in claymation", "share": "on"},
        headers=HTMX,
    )
    remix = Video.objects.get(kind=Video.Kind.REMIX)
    assert response["HX-Redirect"] == remix.get_absolute_url()
    assert remix.owner == teammate

    odd = client.post(
        reverse("videos:extend", args=[source.pk]), {"prompt": "then", "seconds": "7"}, headers=HTMX
    )
    assert "Sora 2 does not add “7”: it adds 4, 8, 12, 16 or 20 seconds." in odd.content.decode()
    assert Video.objects.filter(kind=Video.Kind.EXTENSION).count() == 0


def test_the_family_tree_shows_ancestors_and_descendants_with_placeholders(
    owner: Any, teammate: Any
) -> None:
    root, remix, extension, again = a_lineage("remix", "extension", "remix", owner=owner)
    cousin = a_video(owner=owner, kind="remix", parent=root, root=root, prompt="cousin")
    secret = a_video(owner=owner, kind="remix", parent=extension, root=root, private=True)
    nodes = family_tree(remix, teammate)
    assert [(n.video.pk, n.depth) for n in nodes] == [
        (root.pk, 0),
        (remix.pk, 1),
        (extension.pk, 2),
        (again.pk, 3),
        (secret.pk, 3),
    ]
    assert cousin.pk not in [n.video.pk for n in nodes]  # another branch
    assert [n.current for n in nodes] == [False, True, False, False, False]
    assert [n.visible for n in nodes][-1] is False
    assert family_tree(remix, owner)[-1].visible is True


def test_a_tree_of_200_renders_in_a_constant_number_of_queries(
    owner: Any, client: Client, django_assert_max_num_queries: Any
) -> None:
    family = a_family(200, owner=owner)
    client.force_login(owner)
    url = reverse("videos:detail", args=[family[0].pk])
    with django_assert_max_num_queries(17):  # 16, and the header's bell
        html = client.get(url).content.decode()
    assert html.count('<li class="node') == 200
    assert html.count('aria-current="true"') == 1


def test_cards_count_what_descends_from_them(owner: Any) -> None:
    root, remix, extension = a_lineage("remix", "extension", owner=owner)
    a_video(owner=owner, kind="remix", parent=root, root=root)
    lonely = a_video(owner=owner)
    counts = descendant_counts([root, remix, extension, lonely])
    assert counts == {root.pk: 3, remix.pk: 1, extension.pk: 0, lonely.pk: 0}


def test_when_a_video_finishes_its_page_offers_remix_and_extend_without_reload(
    owner: Any, client: Client
) -> None:
    video = a_video(owner=owner)  # finished, Sora: both allowed
    client.force_login(owner)
    response = client.get(
        reverse("videos:progress"),
        {"view": "detail", "id": str(video.pk), "since": "0", "bell": "0"},
        headers=HTMX,
    )
    body = response.content.decode()
    assert response.status_code == 286  # nothing left in flight
    assert body.count('hx-swap-oob="true"') == 3  # the panel, remix and extend
    assert 'id="id_remix_prompt"' in body and 'id="id_extension_seconds"' in body
