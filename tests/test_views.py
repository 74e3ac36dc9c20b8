from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from videostudio.provider.client import ProviderClient
from videostudio.videos import refresh, services
from videostudio.videos.models import Video

from .conftest import FakeClock, png_bytes
from .helpers import sent

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


@pytest.fixture
def browser(client: Client, owner: Any) -> Client:
    client.force_login(owner)
    return client


def form_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "model": "Sora-2",
        "prompt": "一只可爱的小猫在花园里玩耍",
        "seconds": "4",
        "size": "720x1280",
    }
    data.update(overrides)
    return data


def make_video(owner: Any, **fields: Any) -> Video:
    values: dict[str, Any] = {
        "model": "Sora-2",
        "prompt": "a lighthouse at dawn",
        "seconds": 4,
        "size": "720x1280",
        "status": Video.Status.QUEUED,
        "next_poll_at": timezone.now(),
    }
    values.update(fields)
    return Video.objects.create(owner=owner, **values)


@pytest.mark.parametrize(
    "url",
    [
        reverse("videos:list"),
        reverse("videos:new"),
        reverse("videos:progress"),
        reverse("videos:detail", args=[1]),
        reverse("videos:media", args=[1, "video"]),
    ],
)
def test_every_page_asks_strangers_to_log_in(client: Client, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_the_login_page_logs_a_member_in(client: Client, owner: Any) -> None:
    assert client.get(reverse("login")).status_code == 200
    response = client.post(
        reverse("login"),
        {"username": "olivia", "password": "correct horse battery staple"},
    )
    assert response.status_code == 302
    assert client.get(reverse("videos:list")).status_code == 200


def test_the_form_offers_every_model_of_the_catalog(browser: Client) -> None:
    html = browser.get(reverse("videos:new")).content.decode()
    for name in ("Sora-2", "Sora-2-Pro", "Veo-3", "Veo-3.1-Fast"):
        assert f'value="{name}"' in html
    assert "Demo mode" in html


def test_changing_the_model_redraws_durations_and_sizes(browser: Client) -> None:
    response = browser.get(
        reverse("videos:new"),
        {"model": "Veo-3", "seconds": "12", "size": "1280x720"},
        headers={**HTMX, "HX-Target": "video-fields"},
    )
    html = response.content.decode()
    assert 'id="video-fields"' in html and "<form" not in html
    assert 'value="12"' not in html
    assert '<option value="8" selected>' in html  # 12 is not allowed: Veo's default
    assert '<option value="1280x720" selected>' in html  # still allowed: kept


def test_a_valid_form_queues_the_job_and_redirects_without_waiting_on_the_provider(
    browser: Client, recorder: Any, app_client: Any
) -> None:
    response = browser.post(reverse("videos:new"), form_data(), headers=HTMX)
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("videos:list")
    video = Video.objects.get()
    assert video.status == Video.Status.WAITING
    assert video.prompt == "一只可爱的小猫在花园里玩耍"
    assert recorder.paths() == []  # the web request never called the provider
    page = browser.get(reverse("videos:list")).content.decode()
    assert "Waiting to send" in page and "send queue" in page
    video = sent(video, app_client)
    assert video.status == Video.Status.QUEUED
    assert recorder.paths() == ["POST /v1/videos"]


def test_a_waiting_job_can_be_cancelled_by_its_owner_only(
    browser: Client, teammate: Any, recorder: Any, app_client: Any
) -> None:
    browser.post(reverse("videos:new"), form_data(), headers=HTMX)
    video = Video.objects.get()
    assert "Cancel</button>" in browser.get(reverse("videos:list")).content.decode()
    other = Client()
    other.force_login(teammate)
    assert other.post(reverse("videos:cancel", args=[video.pk])).status_code == 404  # private
    response = browser.post(reverse("videos:cancel", args=[video.pk]), follow=True)
    assert "Cancelled; nothing was spent." in response.content.decode()
    video.refresh_from_db()
    assert video.status == Video.Status.FAILED and video.error_code == "cancelled"
    assert (video.reserved_points, video.cost_source) == (0, Video.Cost.NONE)
    assert sent(video, app_client).status == Video.Status.FAILED
    assert recorder.paths() == []  # never sent
    again = browser.post(reverse("videos:cancel", args=[video.pk]), follow=True)
    assert "can no longer be cancelled" in again.content.decode()


def test_the_form_works_without_javascript_too(browser: Client, recorder: Any) -> None:
    response = browser.post(reverse("videos:new"), form_data())
    assert response.status_code == 302
    assert Video.objects.count() == 1


def test_a_reference_image_is_fitted_to_the_size_and_sent(
    browser: Client, recorder: Any, app_client: Any
) -> None:
    upload = SimpleUploadedFile("me.png", png_bytes((300, 300)), content_type="image/png")
    browser.post(reverse("videos:new"), {**form_data(), "image": upload}, headers=HTMX)
    video = sent(Video.objects.get(), app_client)
    from PIL import Image

    with video.reference_image.open("rb") as fh:
        assert Image.open(fh).size == (720, 1280)
    assert b'name="input_reference"' in recorder.requests[0].content


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"prompt": "   "}, "prompt", "Write a prompt"),
        ({"prompt": "x" * 5000}, "prompt", "the limit is 4000"),
        ({"model": "Sora-1"}, "model", "“Sora-1” is not a model offered here now"),
        ({"model": "Veo-3", "seconds": "12"}, "seconds", "choose 4, 6 or 8 seconds"),
        ({"size": "640x480"}, "size", "“640x480” is not a size Sora 2 makes"),
    ],
)
def test_bad_input_is_explained_next_to_the_field_and_nothing_is_sent(
    browser: Client, recorder: Any, overrides: dict[str, str], field: str, message: str
) -> None:
    response = browser.post(reverse("videos:new"), form_data(**overrides), headers=HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert f'id="field-{field}"' in html
    field_html = html.split(f'id="field-{field}"', 1)[1].split('<div class="field', 1)[0]
    assert message in field_html
    assert Video.objects.count() == 0
    assert recorder.requests == []


def test_a_file_that_is_not_an_image_is_refused(browser: Client, recorder: Any) -> None:
    upload = SimpleUploadedFile("cat.png", b"%PDF-1.4 not an image", content_type="image/png")
    response = browser.post(reverse("videos:new"), {**form_data(), "image": upload}, headers=HTMX)
    assert "not an image we can read" in response.content.decode()
    assert recorder.requests == [] and Video.objects.count() == 0


def test_a_too_large_image_is_refused(browser: Client, recorder: Any, settings: Any) -> None:
    settings.MAX_UPLOAD_MB = 1
    big = io.BytesIO(png_bytes((10, 10)) + b"\0" * (1024 * 1024 + 10))
    upload = SimpleUploadedFile("big.png", big.getvalue(), content_type="image/png")
    response = browser.post(reverse("videos:new"), {**form_data(), "image": upload}, headers=HTMX)
    assert "the limit is 1 MB" in response.content.decode()
    assert recorder.requests == []


def test_a_provider_refusal_shows_on_the_card_and_try_again_keeps_the_prompt(
    browser: Client, recorder: Any, app_client: Any
) -> None:
    prompt = "a foggy harbour [error:402]"
    browser.post(reverse("videos:new"), form_data(prompt=prompt), headers=HTMX)
    video = sent(Video.objects.get(), app_client)
    assert video.status == Video.Status.FAILED
    card = browser.get(reverse("videos:list")).content.decode()
    assert "error-text" in card and "point balance is used up" in card
    again = browser.get(reverse("videos:new"), {"from": video.pk}).content.decode()
    assert prompt in again


def test_my_videos_lists_only_my_own_jobs(browser: Client, owner: Any, teammate: Any) -> None:
    mine = make_video(owner, prompt="mine: a red kite")
    make_video(teammate, prompt="theirs: a blue whale")
    html = browser.get(reverse("videos:list")).content.decode()
    assert "mine: a red kite" in html and "theirs" not in html
    assert f"id={mine.pk}" in html  # the poller asks about it


def test_the_poller_answers_only_changed_cards_and_stops_when_done(
    browser: Client, owner: Any
) -> None:
    moving = make_video(owner, prompt="moving", progress=40)
    still = make_video(owner, prompt="still", progress=10)
    since = timezone.now().timestamp() + 0.5
    Video.objects.filter(pk=moving.pk).update(
        progress=70, updated_at=timezone.now().replace(year=2100)
    )
    url = reverse("videos:progress")
    ids = [str(moving.pk), str(still.pk)]
    response = browser.get(url, {"id": ids, "since": str(since)}, headers=HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert f'id="video-{moving.pk}"' in html and 'hx-swap-oob="true"' in html
    assert f'id="video-{still.pk}"' not in html
    assert 'value="70"' in html and "hx-trigger" in html

    Video.objects.update(next_poll_at=None, status=Video.Status.FAILED)
    response = browser.get(url, {"id": ids, "since": "0"}, headers=HTMX)
    assert response.status_code == 286
    assert "hx-trigger" not in response.content.decode()


def test_the_detail_page_explains_a_failure_in_plain_words(browser: Client, owner: Any) -> None:
    video = make_video(
        owner,
        status=Video.Status.FAILED,
        next_poll_at=None,
        error_message="The prompt was rejected by the provider's content rules.",
    )
    html = browser.get(reverse("videos:detail", args=[video.pk])).content.decode()
    assert "content rules" in html and "What went wrong" in html
    assert "Traceback" not in html


def test_a_finished_video_plays_and_downloads_on_its_page(
    browser: Client, owner: Any, provider: ProviderClient, clock: FakeClock
) -> None:
    from videostudio.provider.catalog import find_model

    spec = find_model("Sora-2")
    assert spec
    video = services.video_submit(
        owner=owner,
        spec=spec,
        prompt="waves",
        seconds=4,
        size="720x1280",
        image=None,
        client=provider,
    )
    video = sent(video, provider)
    clock.advance(60)
    refresh.video_refresh(video=video, client=provider)
    html = browser.get(reverse("videos:detail", args=[video.pk])).content.decode()
    assert "<video" in html and "poster=" in html
    for variant in ("video", "thumbnail", "spritesheet"):
        assert reverse("videos:media", args=[video.pk, variant]) + "?download=1" in html

    media = reverse("videos:media", args=[video.pk, "video"])
    whole = browser.get(media)
    body = b"".join(whole.streaming_content)  # type: ignore[attr-defined]
    assert whole.status_code == 200 and whole["Content-Type"] == "video/mp4"
    assert whole["Accept-Ranges"] == "bytes" and int(whole["Content-Length"]) == len(body)

    part = browser.get(media, HTTP_RANGE="bytes=100-199")
    assert part.status_code == 206
    assert part["Content-Range"] == f"bytes 100-199/{len(body)}"
    assert b"".join(part.streaming_content) == body[100:200]  # type: ignore[attr-defined]

    tail = browser.get(media, HTTP_RANGE="bytes=-50")
    assert b"".join(tail.streaming_content) == body[-50:]  # type: ignore[attr-defined]
    open_ended = browser.get(media, HTTP_RANGE=f"bytes={len(body) - 10}-")
    assert b"".join(open_ended.streaming_content) == body[-10:]  # type: ignore[attr-defined]

    beyond = browser.get(media, HTTP_RANGE=f"bytes={len(body) + 5}-")
    assert beyond.status_code == 416 and beyond["Content-Range"] == f"bytes */{len(body)}"

    cached = browser.get(media, HTTP_IF_NONE_MATCH=whole["ETag"])
    assert cached.status_code == 304

    download = browser.get(media + "?download=1")
    assert download["Content-Disposition"].startswith("attachment;")


def test_media_that_is_not_archived_or_unknown_is_a_404(browser: Client, owner: Any) -> None:
    video = make_video(owner)
    assert browser.get(reverse("videos:media", args=[video.pk, "video"])).status_code == 404
    assert browser.get(reverse("videos:media", args=[video.pk, "secrets"])).status_code == 404
    assert browser.get(reverse("videos:detail", args=[999999])).status_code == 404


def test_the_detail_page_poller_refreshes_its_panel(browser: Client, owner: Any) -> None:
    video = make_video(owner, status=Video.Status.IN_PROGRESS, progress=55)
    html = browser.get(reverse("videos:detail", args=[video.pk])).content.decode()
    assert "view=detail" in html and f"id={video.pk}" in html
    response = browser.get(
        reverse("videos:progress"),
        {"view": "detail", "id": str(video.pk), "since": "0"},
        headers=HTMX,
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert 'class="video-panel' in body and 'hx-swap-oob="true"' in body
    assert 'value="55"' in body


def test_junk_in_the_poller_query_is_ignored(browser: Client, owner: Any) -> None:
    response = browser.get(
        reverse("videos:progress"),
        {"id": ["abc", "-1", "9" * 30], "since": "soon"},
        headers=HTMX,
    )
    assert response.status_code == 286


def test_the_admin_is_for_staff(client: Client, owner: Any, staff: Any) -> None:
    assert client.get(reverse("admin:login")).status_code == 200
    client.force_login(owner)
    assert client.get(reverse("admin:index")).status_code == 302
    staff.is_superuser = True
    staff.save()
    client.force_login(staff)
    assert client.get(reverse("admin:videos_video_changelist")).status_code == 200


def test_try_again_fills_the_form_with_the_failed_jobs_settings(
    browser: Client, owner: Any
) -> None:
    failed = make_video(
        owner,
        model="Veo-3",
        prompt="a windmill in a storm",
        seconds=6,
        size="1280x720",
        status=Video.Status.FAILED,
        next_poll_at=None,
        error_message="Provider error",
    )
    listing = browser.get(reverse("videos:list")).content.decode()
    assert f"?from={failed.pk}" in listing
    html = browser.get(reverse("videos:new"), {"from": str(failed.pk)}).content.decode()
    assert "a windmill in a storm</textarea>" in html
    assert '<option value="Veo-3" selected>' in html
    assert '<option value="6" selected>' in html
    assert '<option value="1280x720" selected>' in html


def test_errors_have_readable_pages(browser: Client, owner: Any, teammate: Any) -> None:
    missing = browser.get(reverse("videos:detail", args=[424242])).content.decode()
    assert "Not found" in missing and "private to someone else" in missing
    theirs = make_video(teammate, next_poll_at=None)
    forbidden = browser.post(reverse("videos:edit", args=[theirs.pk]), {"visibility": "team"})
    assert forbidden.status_code == 403
    assert "Only the owner can change this video." in forbidden.content.decode()


def test_damaged_and_giant_images_are_refused_not_crashed_on(
    browser: Client, recorder: Any
) -> None:
    jpeg = png_bytes((400, 400), fmt="JPEG")
    truncated = SimpleUploadedFile("cut.jpg", jpeg[: len(jpeg) // 2], content_type="image/jpeg")
    response = browser.post(
        reverse("videos:new"), {**form_data(), "image": truncated}, headers=HTMX
    )
    assert response.status_code == 200
    assert "damaged" in response.content.decode() or "not an image" in response.content.decode()

    giant = SimpleUploadedFile("big.png", png_bytes((9000, 5000)), content_type="image/png")
    response = browser.post(reverse("videos:new"), {**form_data(), "image": giant}, headers=HTMX)
    assert "45 megapixels; the limit is 40" in response.content.decode()
    assert recorder.requests == [] and Video.objects.count() == 0


def test_odd_digits_in_query_strings_are_ignored(browser: Client, owner: Any) -> None:
    for url in (
        reverse("videos:list") + "?family=%C2%B2",
        reverse("videos:new") + "?from=%C2%B2",
        reverse("videos:progress") + "?id=%C2%B2&since=0",
    ):
        assert browser.get(url).status_code in (200, 286), url


def test_a_familys_pages_stay_in_the_family(browser: Client, owner: Any) -> None:
    from .factories import a_video

    root = a_video(owner=owner)
    for _ in range(25):
        a_video(owner=owner, kind="remix", parent=root, root=root)
    html = browser.get(reverse("videos:list"), {"family": str(root.pk)}).content.decode()
    assert f"?family={root.pk}&amp;page=2" in html
