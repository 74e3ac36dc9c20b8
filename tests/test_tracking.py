"""The tracker at scale: fair sends, answers recorded as they come, downloads apart."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from videostudio.provider.client import ProviderClient
from videostudio.provider.ratelimit import Priority, request_priority
from videostudio.simulator.app import Simulator
from videostudio.videos import states, tracking
from videostudio.videos.models import Video

from .conftest import FakeClock

pytestmark = pytest.mark.django_db


def waiting(owner: Any, prompt: str) -> Video:
    return Video.objects.create(
        owner=owner, model="Sora-2", prompt=prompt, seconds=4, size="720x1280",
        status=Video.Status.WAITING, next_poll_at=timezone.now() - timedelta(seconds=1),
    )  # fmt: skip


# --- Fair sends --------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    queue=st.lists(st.integers(0, 4), min_size=1, max_size=30),
    batches=st.lists(st.integers(1, 6), min_size=1, max_size=40),
)
def test_sends_go_round_the_members_oldest_first_within_each(
    queue: list[int], batches: list[int]
) -> None:
    Video.objects.all().delete()
    members = [get_user_model().objects.get_or_create(username=f"m{i}")[0] for i in range(5)]
    jobs = [waiting(members[i], f"{i}-{n}") for n, i in enumerate(queue)]
    order: list[Video] = []
    for limit in [*batches, len(jobs)]:
        left = list(Video.objects.filter(status=Video.Status.WAITING).order_by("pk"))
        turn = {
            v.pk: sum(1 for w in left if w.owner_id == v.owner_id and w.pk <= v.pk) for v in left
        }
        claimed = tracking.videos_claim_sends(now=timezone.now(), limit=limit)
        assert len(claimed) == min(limit, len(left))
        taken = {v.pk for v in claimed}
        # Nobody's n-th job goes before anybody's earlier one.
        turns = [turn[v.pk] for v in claimed]
        assert turns == sorted(turns)
        still = [turn[v.pk] for v in left if v.pk not in taken]
        if claimed and still:
            assert max(turns) <= min(still)
        order.extend(claimed)
    # Round robin: when a member's n-th job goes, everyone still waiting had n - 1.
    sent_so_far: dict[int, int] = {}
    total = {m: sum(1 for j in jobs if j.owner_id == m) for m in {j.owner_id for j in jobs}}
    for video in order:
        n = sent_so_far.get(video.owner_id, 0) + 1
        for member, count in total.items():
            if member != video.owner_id and sent_so_far.get(member, 0) < count:
                assert sent_so_far.get(member, 0) >= n - 1
        sent_so_far[video.owner_id] = n
    # Every job sent once, each member's in the order they were submitted.
    assert sorted(v.pk for v in order) == sorted(j.pk for j in jobs)
    for member in {j.owner_id for j in jobs}:
        mine = [v.pk for v in order if v.owner_id == member]
        assert mine == sorted(mine)
    assert all(v.status == Video.Status.SUBMITTING and v.submitted_at for v in order)


def test_a_teammates_one_job_does_not_wait_behind_a_long_queue(owner: Any, teammate: Any) -> None:
    for i in range(200):
        waiting(owner, f"mine {i}")
    single = waiting(teammate, "just one")
    claimed = tracking.videos_claim_sends(now=timezone.now(), limit=4)
    assert single.pk in {v.pk for v in claimed}


def test_a_member_at_the_in_flight_limit_waits_and_others_go(
    owner: Any, teammate: Any, settings: Any
) -> None:
    settings.VIDEOSTUDIO_MEMBER_MAX_IN_FLIGHT = 2
    for i in range(2):
        Video.objects.create(
            owner=owner, model="Sora-2", prompt=f"running {i}", seconds=4, size="720x1280",
            status=Video.Status.IN_PROGRESS, provider_id=f"video_{i}",
        )  # fmt: skip
    mine = [waiting(owner, f"next {i}") for i in range(3)]
    theirs = waiting(teammate, "theirs")
    claimed = tracking.videos_claim_sends(now=timezone.now(), limit=5)
    assert [v.pk for v in claimed] == [theirs.pk]
    Video.objects.filter(status=Video.Status.IN_PROGRESS).first().delete()  # type: ignore[union-attr]
    claimed = tracking.videos_claim_sends(now=timezone.now(), limit=5)
    assert [v.pk for v in claimed] == [mine[0].pk]  # one at a time up to the limit


def test_a_job_not_due_yet_is_not_sent(owner: Any) -> None:
    later = waiting(owner, "later")
    Video.objects.filter(pk=later.pk).update(next_poll_at=timezone.now() + timedelta(seconds=30))
    assert tracking.videos_claim_sends(now=timezone.now(), limit=5) == []


def test_two_senders_never_send_the_same_job(owner: Any) -> None:
    jobs = [waiting(owner, f"p{i}") for i in range(6)]
    now = timezone.now()
    first = tracking.videos_claim_sends(now=now, limit=4)
    second = tracking.videos_claim_sends(now=now, limit=4)
    assert not {v.pk for v in first} & {v.pk for v in second}
    assert len(first) + len(second) == len(jobs)
    assert not states.video_sending(first[0].pk, token=uuid.uuid4(), now=now, until=now)


# --- Looks, archives, and what goes first ------------------------------------------------


class Delays(httpx.BaseTransport):
    """Passes requests on; those whose path contains a key wait its seconds first.
    Records, per request, when it finished and the budget priority it was made at."""

    def __init__(self, inner: httpx.BaseTransport, delays: dict[str, float]) -> None:
        self.inner, self.delays = inner, delays
        self.log: list[tuple[str, float, Priority]] = []
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        for key, seconds in self.delays.items():
            if key in request.url.path:
                time.sleep(seconds)
        response = self.inner.handle_request(request)
        with self._lock:
            self.log.append((request.url.path, time.monotonic(), request_priority.get()))
        return response


def sent_jobs(owner: Any, client: ProviderClient, count: int) -> list[Video]:
    from .helpers import sent

    return [sent(waiting(owner, f"scene {i}"), client) for i in range(count)]


def test_each_answer_is_recorded_as_it_arrives(
    owner: Any, simulator: Simulator, clock: FakeClock
) -> None:
    transport = Delays(simulator.transport(), {})
    client = ProviderClient(base_url="http://sim.test/v1", api_key="k", transport=transport)
    quick, slow = sent_jobs(owner, client, 2)
    transport.delays[str(slow.provider_id)] = 1.5
    clock.advance(5)
    Video.objects.update(next_poll_at=timezone.now())
    tracking.videos_sweep(client=client, seconds=0)
    quick.refresh_from_db()
    slow.refresh_from_db()
    assert quick.progress_at and slow.progress_at
    # The quick answer was written while the slow one was still out.
    assert (slow.progress_at - quick.progress_at).total_seconds() > 1.0


def test_downloads_run_apart_from_looks_and_at_a_lower_priority(
    owner: Any, simulator: Simulator, clock: FakeClock, settings: Any
) -> None:
    settings.VIDEOSTUDIO_ARCHIVE_CONCURRENCY = 1
    transport = Delays(simulator.transport(), {"/content": 0.4})
    client = ProviderClient(base_url="http://sim.test/v1", api_key="k", transport=transport)
    done, running = sent_jobs(owner, client, 2)
    clock.advance(30)  # both finished at the provider
    # One is known to be finished and due an archive; the other is due a look.
    Video.objects.filter(pk=done.pk).update(
        status=Video.Status.COMPLETED, next_poll_at=timezone.now(), completed_at=timezone.now()
    )
    Video.objects.filter(pk=running.pk).update(next_poll_at=timezone.now())
    # It returns once nothing is in flight; the room is for a loaded machine, where the
    # simulator's first render of each video takes seconds.
    tracking.videos_sweep(client=client, seconds=30)
    done.refresh_from_db()
    running.refresh_from_db()
    assert done.is_archived and running.is_archived
    looked = [at for path, at, _ in transport.log if path == f"/v1/videos/{running.provider_id}"]
    first_download = min(at for path, at, _ in transport.log if path.endswith("/content"))
    # The look was not held up behind three slow downloads.
    assert looked[0] < first_download + 0.4
    priorities = {path.rsplit("/", 1)[-1]: p for path, _, p in transport.log}
    assert priorities["content"] == Priority.ARCHIVE
    assert priorities[str(running.provider_id)] == Priority.POLL


def test_a_copy_about_to_expire_is_archived_first_and_ahead_of_everything(
    owner: Any, simulator: Simulator, clock: FakeClock
) -> None:
    transport = Delays(simulator.transport(), {})
    client = ProviderClient(base_url="http://sim.test/v1", api_key="k", transport=transport)
    relaxed, pressed = sent_jobs(owner, client, 2)
    clock.advance(30)
    now = timezone.now()
    Video.objects.filter(pk__in=[relaxed.pk, pressed.pk]).update(
        status=Video.Status.COMPLETED, next_poll_at=now, completed_at=now
    )
    Video.objects.filter(pk=relaxed.pk).update(expires_at=now + timedelta(hours=1))
    Video.objects.filter(pk=pressed.pk).update(expires_at=now + timedelta(minutes=5))
    assert [v.pk for v in tracking.videos_claim_archives(now=now, limit=1)] == [pressed.pk]
    Video.objects.update(lease_token=None, lease_until=None)
    tracking.videos_sweep(client=client, seconds=5)
    by_job: dict[str, set[Priority]] = {}
    for path, _, level in transport.log:
        if path.endswith("/content"):
            by_job.setdefault(path.split("/")[3], set()).add(level)
    assert by_job[str(pressed.provider_id)] == {Priority.URGENT}
    assert by_job[str(relaxed.provider_id)] == {Priority.ARCHIVE}


def test_a_job_in_flight_is_never_left_longer_than_the_maximum_gap(
    owner: Any, simulator: Simulator, clock: FakeClock, settings: Any
) -> None:
    settings.VIDEOSTUDIO_POLL_MAX_SECONDS = 15
    simulator.render_seconds = 3600
    client = ProviderClient(
        base_url="http://sim.test/v1", api_key="k", transport=simulator.transport()
    )
    (video,) = sent_jobs(owner, client, 1)
    for _ in range(5):
        assert video.next_poll_at is not None
        gap = (video.next_poll_at - timezone.now()).total_seconds()
        assert 0 < gap <= 15
        clock.advance(gap)
        Video.objects.filter(pk=video.pk).update(next_poll_at=timezone.now())
        tracking.videos_sweep(client=client, seconds=0)
        video.refresh_from_db()
    assert video.status == Video.Status.IN_PROGRESS and video.estimated_finish_at


# --- Where the provider lists videos ------------------------------------------------------


def test_one_list_request_refreshes_every_job_it_shows(
    owner: Any, tmp_path: Any, clock: FakeClock
) -> None:
    simulator = Simulator(
        clock=clock, queue_seconds=2, render_seconds=10, cache_dir=tmp_path, fps=4,
        list_endpoint=True, dialect="openai",
    )  # fmt: skip
    transport = Delays(simulator.transport(), {})
    client = ProviderClient(base_url="http://sim.test/v1", api_key="k", transport=transport)
    jobs = sent_jobs(owner, client, 5)
    clock.advance(6)
    due, later = jobs[:2], jobs[2:]
    Video.objects.filter(pk__in=[v.pk for v in due]).update(next_poll_at=timezone.now())
    Video.objects.filter(pk__in=[v.pk for v in later]).update(
        next_poll_at=timezone.now() + timedelta(seconds=40)
    )
    transport.log.clear()
    tracking.videos_sweep(client=client, seconds=0)
    paths = [path for path, _, _ in transport.log]
    assert paths == ["/v1/videos"]  # one request, no look at any single job
    for video in jobs:
        video.refresh_from_db()
        assert video.status == Video.Status.IN_PROGRESS and video.progress_at
        assert video.lease_token is None
    # Jobs that were not due yet were refreshed too, and rescheduled from what it said.
    assert all(
        v.next_poll_at and v.next_poll_at < timezone.now() + timedelta(seconds=40) for v in later
    )


def test_without_a_list_each_job_is_looked_at_and_the_list_is_not_asked_again(
    owner: Any, simulator: Simulator, clock: FakeClock
) -> None:
    transport = Delays(simulator.transport(), {})
    client = ProviderClient(base_url="http://sim.test/v1", api_key="k", transport=transport)
    jobs = sent_jobs(owner, client, 3)
    for _ in range(2):
        clock.advance(4)
        Video.objects.update(next_poll_at=timezone.now())
        transport.log.clear()
        tracking.videos_sweep(client=client, seconds=0)
        looks = sorted(path for path, _, _ in transport.log if path != "/v1/videos")
        assert looks == sorted(f"/v1/videos/{v.provider_id}" for v in jobs)
        asked = [path for path, _, _ in transport.log if path == "/v1/videos"]
        assert len(asked) == (1 if _ == 0 else 0)  # asked once, then remembered


def test_a_job_whose_reference_image_is_gone_fails_with_a_reason_and_costs_nothing(
    owner: Any, provider: ProviderClient
) -> None:
    from django.core.files.base import ContentFile

    from .helpers import sent

    video = waiting(owner, "from a photo")
    video.reference_image.save("reference.jpg", ContentFile(b"not really"), save=True)
    video.reference_image.storage.delete(str(video.reference_image.name))
    video = sent(video, provider)
    assert (video.status, video.error_code, video.cost_source) == (
        Video.Status.FAILED, "not_sent", Video.Cost.NONE,
    )  # fmt: skip
    assert "reference image" in video.error_message and "no points" in video.error_message


def test_claims_one_at_a_time_still_go_round_the_members(owner: Any, teammate: Any) -> None:
    mine = [waiting(owner, f"mine {i}") for i in range(5)]
    theirs = waiting(teammate, "theirs, queued last")
    order = [tracking.videos_claim_sends(now=timezone.now(), limit=1)[0].pk for _ in range(3)]
    # Mine came first (nobody had been served), then theirs: I was served just now.
    assert order == [mine[0].pk, theirs.pk, mine[1].pk]


def test_out_of_time_the_next_sweep_takes_over_while_a_slow_download_finishes(
    owner: Any, simulator: Simulator, clock: FakeClock
) -> None:
    # Far longer than the sweep's 0.3 s plus a pass (a loaded machine stretches both).
    transport = Delays(simulator.transport(), {"/content": 3.0})
    client = ProviderClient(base_url="http://sim.test/v1", api_key="k", transport=transport)
    (video,) = sent_jobs(owner, client, 1)
    clock.advance(30)
    Video.objects.filter(pk=video.pk).update(
        status=Video.Status.COMPLETED, next_poll_at=timezone.now(), completed_at=timezone.now()
    )
    seen: list[tuple[bool, int]] = []

    def handover() -> None:
        downloads = sum(1 for path, _, _ in transport.log if path.endswith("/content"))
        seen.append((tracking.sweep_running(), downloads))

    waiting(owner, "due soon")  # work for the next sweep
    report = tracking.videos_sweep(client=client, seconds=0.3, handover=handover)
    # Handed over while the download was still out, the lease already free.
    assert report.handed_over and seen == [(False, 0)]
    video.refresh_from_db()
    assert video.is_archived and video.lease_token is None
