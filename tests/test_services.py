from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from videostudio.provider.catalog import find_model
from videostudio.provider.client import ProviderClient
from videostudio.simulator.app import Simulator
from videostudio.videos import refresh, services, tracking
from videostudio.videos.models import Lease, Video

from .conftest import FakeClock, png_bytes
from .helpers import RecordingTransport, sent

pytestmark = pytest.mark.django_db

_SORA = find_model("Sora-2")
assert _SORA is not None
SORA = _SORA


def submit(
    owner: Any, client: ProviderClient, prompt: str = "a red fox in snow", **kw: Any
) -> Video:
    options: dict[str, Any] = {"seconds": 4, "size": "720x1280", "image": None}
    options.update(kw)
    video = services.video_submit(owner=owner, spec=SORA, prompt=prompt, client=client, **options)
    return sent(video, client)


def make_due() -> None:
    Video.objects.exclude(next_poll_at=None).update(next_poll_at=timezone.now())


def test_it_records_the_job_then_sends_it(owner: Any, provider: ProviderClient) -> None:
    video = submit(owner, provider)
    assert video.status == Video.Status.QUEUED
    assert video.provider_id and video.provider_id.startswith("video_")
    assert video.submitted_at is not None
    assert video.next_poll_at is not None and video.next_poll_at > timezone.now()
    assert video.lease_token is None


def test_it_sends_the_reference_image_as_multipart(
    owner: Any, simulator: Simulator, client_for: Any
) -> None:
    recorder = RecordingTransport(simulator.transport())
    client = ProviderClient(
        base_url="http://sim.test/v1", api_key="k", transport=recorder, sleep=lambda s: None
    )
    image = SimpleUploadedFile("ref.png", png_bytes((720, 1280)), content_type="image/png")
    video = submit(owner, client, image=image)
    assert video.status == Video.Status.QUEUED
    create = recorder.requests[0]
    assert create.headers["content-type"].startswith("multipart/form-data")
    assert b'name="input_reference"' in create.content
    assert video.reference_image
    assert default_storage.exists(str(video.reference_image.name))


def test_a_refused_job_is_kept_as_failed_with_a_message_about_the_team(
    owner: Any, provider: ProviderClient
) -> None:
    video = submit(owner, provider, prompt="a quiet lake [error:402]")
    assert video.status == Video.Status.FAILED
    assert video.next_poll_at is None and video.cost_source == Video.Cost.NONE
    assert "point" in video.error_message.lower()


def test_a_rejected_key_is_reported_as_the_teams_problem(
    owner: Any, provider: ProviderClient
) -> None:
    video = submit(owner, provider, prompt="a quiet lake [error:401]")
    assert video.status == Video.Status.FAILED
    assert "VIDEOSTUDIO_API_KEY" in video.error_message or "admin" in video.error_message


def test_an_unreachable_provider_leaves_the_job_waiting_until_it_answers(
    owner: Any, simulator: Simulator
) -> None:
    up = False

    def maybe(request: httpx.Request) -> httpx.Response:
        if not up:
            raise httpx.ConnectError("connection refused", request=request)
        return simulator.transport().handle_request(request)

    client = ProviderClient(
        base_url="http://sim.test/v1",
        api_key="k",
        transport=httpx.MockTransport(maybe),
        sleep=lambda s: None,
    )
    video = services.video_submit(
        owner=owner, spec=SORA, prompt="a fox", seconds=4, size="720x1280", image=None,
        client=client,
    )  # fmt: skip
    for _ in range(services.SEND_ATTEMPTS + 2):
        video = sent(video, client)
        assert video.status == Video.Status.WAITING and video.next_poll_at is not None
        assert video.next_poll_at > timezone.now() and video.lease_token is None
        make_due()
    up = True
    video = sent(video, client)
    assert video.status == Video.Status.QUEUED and video.provider_id


def test_the_same_form_sent_twice_makes_one_job(owner: Any, provider: ProviderClient) -> None:
    token = uuid.uuid4()
    first = submit(owner, provider, token=token)
    second = submit(owner, provider, token=token)
    assert first.pk == second.pk
    assert Video.objects.count() == 1


def test_it_follows_a_job_to_completion_and_archives_every_file(
    owner: Any, provider: ProviderClient, clock: FakeClock
) -> None:
    video = submit(owner, provider)
    clock.advance(5)  # 2 s queued, then 3 of 10 s rendering
    video = refresh.video_refresh(video=video, client=provider)
    assert video.status == Video.Status.IN_PROGRESS
    assert 10 <= video.progress < 100
    assert video.next_poll_at is not None

    clock.advance(10)
    video = refresh.video_refresh(video=video, client=provider)
    assert video.status == Video.Status.COMPLETED
    assert video.progress == 100
    assert video.is_archived
    assert video.next_poll_at is None
    assert video.expires_at is not None and video.completed_at is not None
    for field in ("video_file", "thumbnail_file", "spritesheet_file"):
        name = str(getattr(video, field).name)
        assert default_storage.exists(name)
        assert default_storage.size(name) > 100
    with default_storage.open(str(video.video_file.name)) as fh:
        assert fh.read(12)[4:8] == b"ftyp"


def test_a_failed_generation_keeps_the_providers_message(
    owner: Any, provider: ProviderClient, clock: FakeClock
) -> None:
    video = submit(owner, provider, prompt="a storm [fail]")
    clock.advance(60)
    video = refresh.video_refresh(video=video, client=provider)
    assert video.status == Video.Status.FAILED
    assert video.error_message
    assert video.next_poll_at is None


def test_a_provider_hiccup_while_polling_keeps_the_job_and_backs_off(
    owner: Any, simulator: Simulator, provider: ProviderClient
) -> None:
    video = submit(owner, provider)
    simulator.inject_error(500, count=20, path_contains="/videos/")
    before = timezone.now()
    video = refresh.video_refresh(video=video, client=provider)
    assert video.status == Video.Status.QUEUED
    assert video.poll_failures == 1
    assert video.next_poll_at is not None and video.next_poll_at >= before + timedelta(seconds=9)


def test_a_job_the_provider_forgot_is_failed_with_a_reason(
    owner: Any, provider: ProviderClient
) -> None:
    video = submit(owner, provider)
    Video.objects.filter(pk=video.pk).update(provider_id="video_doesnotexist")
    video.refresh_from_db()
    video = refresh.video_refresh(video=video, client=provider)
    assert video.status == Video.Status.FAILED
    assert video.error_code == "not_found"


def test_archiving_is_retried_with_backoff_then_given_up_loudly(
    owner: Any, simulator: Simulator, provider: ProviderClient, clock: FakeClock
) -> None:
    video = submit(owner, provider)
    clock.advance(30)
    simulator.inject_error(500, count=1000, path_contains="/content")
    for attempt in range(1, refresh.MAX_ARCHIVE_ATTEMPTS + 1):
        video = refresh.video_refresh(video=video, client=provider)
        assert video.status == Video.Status.COMPLETED
        assert video.archive_attempts == attempt
        assert video.archive_error
        assert not video.is_archived
    assert video.next_poll_at is None
    assert video.display_status == "Not saved"


def test_a_send_interrupted_by_a_crash_is_marked_as_uncertain_not_resent(
    owner: Any, provider: ProviderClient
) -> None:
    past = timezone.now() - timedelta(minutes=10)
    video = Video.objects.create(
        owner=owner,
        model="Sora-2",
        prompt="x",
        seconds=4,
        size="720x1280",
        status=Video.Status.SUBMITTING,
        lease_token=uuid.uuid4(),
        lease_until=past,
        next_poll_at=past,
    )
    report = tracking.videos_sweep(client=provider, seconds=0)
    video.refresh_from_db()
    assert report.refreshed == 1
    assert video.status == Video.Status.UNCONFIRMED
    assert video.error_code == "outcome_unknown"
    assert video.next_poll_at is not None  # to be settled from the usage history


def test_the_sweep_polls_due_jobs_at_once_with_one_client(
    owner: Any, simulator: Simulator, clock: FakeClock
) -> None:
    recorder = RecordingTransport(simulator.transport(), delay=0.05)
    client = ProviderClient(
        base_url="http://sim.test/v1", api_key="k", transport=recorder, sleep=lambda s: None
    )
    videos = [submit(owner, client, prompt=f"scene {i}") for i in range(6)]
    clock.advance(30)
    make_due()
    report = tracking.videos_sweep(client=client, seconds=10, concurrency=4)
    assert report.ran and report.refreshed == 6 and report.archived == 6
    assert recorder.peak > 1  # polled concurrently
    for video in videos:
        video.refresh_from_db()
        assert video.is_archived
    assert tracking.videos_in_flight() == 0


def test_the_sweep_keeps_going_until_nothing_is_in_flight(
    owner: Any, provider: ProviderClient, clock: FakeClock
) -> None:
    video = submit(owner, provider)
    naps: list[float] = []

    def nap(seconds: float) -> None:
        naps.append(seconds)
        clock.advance(4)
        make_due()

    report = tracking.videos_sweep(client=provider, seconds=60, sleep=nap)
    video.refresh_from_db()
    assert video.is_archived
    assert report.passes >= 3
    assert all(0 < n <= 1.0 for n in naps)
    assert Lease.objects.get(name=tracking.SWEEP_LEASE).token is None


def test_only_one_sweep_runs_at_a_time(owner: Any, provider: ProviderClient) -> None:
    assert tracking.lease_acquire(tracking.SWEEP_LEASE, uuid.uuid4(), timedelta(minutes=1))
    report = tracking.videos_sweep(client=provider, seconds=0)
    assert not report.ran
    assert str(report) == "another sweep is running"


def test_a_sweep_out_of_time_hands_over_to_the_next(owner: Any, provider: ProviderClient) -> None:
    submit(owner, provider)
    handed: list[bool] = []
    report = tracking.videos_sweep(client=provider, seconds=0, handover=lambda: handed.append(True))
    assert handed == [True] and report.handed_over


def test_no_two_claims_get_the_same_job(owner: Any, provider: ProviderClient) -> None:
    for i in range(5):
        submit(owner, provider, prompt=f"p{i}")
    make_due()
    now = timezone.now()
    first = tracking.videos_claim_due(now=now, limit=3)
    second = tracking.videos_claim_due(now=now, limit=10)
    assert len(first) == 3 and len(second) == 2
    assert not {v.pk for v in first} & {v.pk for v in second}


def test_a_job_held_by_a_crashed_sweeper_is_picked_up_again(
    owner: Any, provider: ProviderClient, clock: FakeClock
) -> None:
    video = submit(owner, provider)
    past = timezone.now() - timedelta(minutes=1)
    Video.objects.filter(pk=video.pk).update(
        lease_token=uuid.uuid4(), lease_until=past, next_poll_at=past
    )
    clock.advance(5)
    report = tracking.videos_sweep(client=provider, seconds=0)
    video.refresh_from_db()
    assert report.refreshed == 1
    assert video.status == Video.Status.IN_PROGRESS
    assert video.lease_token is None


def test_a_busy_provider_never_fails_a_submission(
    owner: Any, provider: ProviderClient, simulator: Simulator
) -> None:
    # Every attempt the client makes (the first and its three retries) is told to wait.
    simulator.inject_error(429, count=4, path_contains="/videos", retry_after="7")
    video = submit(owner, provider, prompt="a parade")
    # Never failed for being busy: back in the queue for when the provider says.
    assert video.status == Video.Status.WAITING and video.error_code == ""
    assert video.provider_status == "rate limited"
    assert video.next_poll_at is not None
    wait = (video.next_poll_at - timezone.now()).total_seconds()
    assert 5 < wait <= 7
    make_due()
    video = sent(video, provider)
    assert video.status == Video.Status.QUEUED and video.cost_source == ""


def test_a_reference_image_can_travel_as_base64_json(
    owner: Any, simulator: Simulator, settings: Any
) -> None:
    settings.VIDEOSTUDIO_IMAGE_UPLOAD = "json"
    recorder = RecordingTransport(simulator.transport())
    client = ProviderClient(
        base_url="http://sim.test/v1", api_key="k", transport=recorder, sleep=lambda s: None
    )
    image = SimpleUploadedFile("ref.png", png_bytes((720, 1280)), content_type="image/png")
    video = submit(owner, client, image=image)
    assert video.status == Video.Status.QUEUED
    create = recorder.requests[0]
    assert create.headers["content-type"] == "application/json"
    assert b'"input_image"' in create.content


def test_a_status_nobody_documented_is_kept_shown_and_polled(owner: Any) -> None:
    def relay(request: httpx.Request) -> httpx.Response:
        body = {"id": "vid_1", "object": "video", "status": "moderating", "progress": 30}
        return httpx.Response(200, json=body)

    client = ProviderClient(
        base_url="http://relay.test/v1", api_key="k", transport=httpx.MockTransport(relay)
    )
    video = submit(owner, client)
    assert video.status == Video.Status.UNKNOWN
    assert video.provider_status == "moderating"
    assert video.display_status == "Moderating"
    assert video.next_poll_at is not None  # still followed
    video = refresh.video_refresh(video=video, client=client)
    assert video.status == Video.Status.UNKNOWN and video.progress == 30


def test_the_spritesheet_grid_is_read_when_archived(
    owner: Any, provider: ProviderClient, clock: FakeClock
) -> None:
    video = submit(owner, provider)
    clock.advance(60)
    video = refresh.video_refresh(video=video, client=provider)
    # The simulator's layout, read from the sheet's seams.
    assert (video.sprite_columns, video.sprite_rows, video.sprite_frames) == (5, 2, 10)
    assert video.sprite_source == "seams" and video.has_preview


def test_a_sweep_leaves_work_due_much_later_to_the_schedule(
    owner: Any, provider: ProviderClient
) -> None:
    video = submit(owner, provider)
    Video.objects.filter(pk=video.pk).update(next_poll_at=timezone.now() + timedelta(minutes=5))
    handed: list[bool] = []
    report = tracking.videos_sweep(
        client=provider, seconds=60, sleep=lambda s: None, handover=lambda: handed.append(True)
    )
    assert report.ran and report.passes == 1 and not handed
    assert Lease.objects.get(name=tracking.SWEEP_LEASE).token is None


def test_a_storage_failure_is_recorded_and_the_sweep_goes_on(
    owner: Any, provider: ProviderClient, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = submit(owner, provider, prompt="a"), submit(owner, provider, prompt="b")
    clock.advance(60)
    make_due()

    def broken_save(*args: Any, **kwargs: Any) -> str:
        raise RuntimeError("the bucket is unreachable")  # not an OSError, as with S3

    monkeypatch.setattr(default_storage, "save", broken_save)
    report = tracking.videos_sweep(client=provider, seconds=2)
    assert report.refreshed == 2 and report.archived == 2  # the next try is 5 s later
    for video in (first, second):
        video.refresh_from_db()
        assert video.status == Video.Status.COMPLETED
        assert video.archive_attempts == 1 and "RuntimeError" in video.archive_error
        assert video.lease_token is None and video.next_poll_at is not None
    assert Lease.objects.get(name=tracking.SWEEP_LEASE).token is None


def test_a_finished_video_whose_files_are_gone_stops_being_polled(
    owner: Any, provider: ProviderClient
) -> None:
    video = submit(owner, provider)
    Video.objects.filter(pk=video.pk).update(
        status=Video.Status.COMPLETED, provider_id="video_gone"
    )
    video.refresh_from_db()
    video = refresh.video_refresh(video=video, client=provider)
    assert video.next_poll_at is None and not video.is_archived
    assert "no longer has" in video.archive_error
    assert video.archive_attempts == refresh.MAX_ARCHIVE_ATTEMPTS


def test_leases_are_renewed_while_a_slow_pass_waits(
    owner: Any, simulator: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow = RecordingTransport(simulator.transport(), delay=0.6)
    client = ProviderClient(base_url="http://s/v1", api_key="k", transport=slow)
    video = submit(owner, client)
    make_due()
    monkeypatch.setattr(tracking, "RENEW_EVERY", 0.05)
    monkeypatch.setattr(tracking, "JOB_LEASE", timedelta(seconds=0.2))
    renewals: list[object] = []
    renew = tracking.states.videos_renew

    def counted(**kw: Any) -> int:
        renewals.append(kw)
        return renew(**kw)

    monkeypatch.setattr(tracking.states, "videos_renew", counted)
    report = tracking.videos_sweep(client=client, seconds=0)
    assert report.refreshed == 1 and len(renewals) >= 2
    video.refresh_from_db()
    assert video.lease_token is None and video.status == Video.Status.QUEUED
