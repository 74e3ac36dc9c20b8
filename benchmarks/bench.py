"""`make bench`: figures for the hot paths, printed as medians of repeated runs.

Runs against a throw-away SQLite database and the in-process simulator, so it
needs no configuration and touches nothing of a real install. It lives outside
the app package because importing it sets Django up that way.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterable
from pathlib import Path

WORK = Path(tempfile.mkdtemp(prefix="videostudio-bench-"))
os.environ["VIDEOSTUDIO_DATA_DIR"] = str(WORK)
os.environ.pop("DATABASE_URL", None)
os.environ["ALLOWED_HOSTS"] = "testserver"
os.environ["LOG_LEVEL"] = "WARNING"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "videostudio.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.core.files.base import ContentFile  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, reset_queries  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from videostudio.provider.catalog import find_model  # noqa: E402
from videostudio.provider.client import ProviderClient  # noqa: E402
from videostudio.simulator.app import Simulator  # noqa: E402
from videostudio.videos import services, tracking  # noqa: E402
from videostudio.videos.models import Video  # noqa: E402
from videostudio.videos.watching import watch  # noqa: E402


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def line(name: str, value: str) -> None:
    print(f"  {name:<52} {value}")
    sys.stdout.flush()


def bench_tracker(client: ProviderClient, owner: User, jobs: int = 200) -> None:
    spec = find_model("Sora-2")
    assert spec
    for i in range(jobs):
        services.video_submit(
            owner=owner,
            spec=spec,
            prompt=f"bench {i}",
            seconds=4,
            size="720x1280",
            image=None,
            client=client,
        )
    while Video.objects.filter(status=Video.Status.WAITING).exists():
        tracking.videos_sweep(client=client, seconds=0)  # sends them all

    def look_at_all() -> None:
        Video.objects.update(next_poll_at=timezone.now())
        looked = 0
        while looked < jobs:  # a sweep out of time records what it claimed, then stops
            looked += tracking.videos_sweep(client=client, seconds=0).refreshed

    samples = timed(look_at_all, 5)
    median = statistics.median(samples)
    print(f"tracker: {jobs} due jobs in flight, in sweeps of one claim each (8 looks at once)")
    line("median time to look at all of them", f"{median * 1000:.0f} ms")
    line("jobs looked at per second", f"{jobs / median:.0f}")


def bench_progress(owner: User) -> None:
    web = Client()
    web.force_login(owner)
    ids = [str(pk) for pk in Video.objects.values_list("pk", flat=True)[:100]]
    url = reverse("videos:progress")
    for label, since in (("all changed", time.time() - 3600), ("none changed", time.time() + 60)):
        params = {"id": ids, "since": str(since), "view": "list"}
        web.get(url, params)  # warm up templates
        samples = timed(lambda: web.get(url, params), 30)  # noqa: B023 (used at once)
        settings.DEBUG = True
        reset_queries()
        web.get(url, params)
        queries = len(connection.queries)
        settings.DEBUG = False
        print(f"progress endpoint: {len(ids)} cards in flight, {label}")
        line("median latency", f"{statistics.median(samples) * 1000:.1f} ms")
        line("database queries per request", str(queries))
    # When the page asks next: when the soonest card is next looked at by the tracker
    # (a fixed 2 s beat before).
    videos = list(Video.objects.filter(pk__in=ids))
    soonest = watch(videos, now=timezone.now()).seconds
    line("the page asks again in", f"{soonest} s (the tracker's next look)")


def bench_media(owner: User) -> None:
    size = 64 * 1024 * 1024
    video = Video.objects.create(
        owner=owner, model="Sora-2", prompt="big", seconds=4, size="720x1280"
    )
    video.video_file.save("big.mp4", ContentFile(os.urandom(1024) * (size // 1024)))
    web = Client()
    web.force_login(owner)
    url = reverse("videos:media", args=[video.pk, "video"])

    def drain(**headers: str) -> int:
        response = web.get(url, headers=headers)
        chunks: Iterable[bytes] = response.streaming_content  # type: ignore[attr-defined]
        return sum(len(chunk) for chunk in chunks)

    # Measure what is really served, not an error page.
    assert drain() == size and drain(Range="bytes=1048576-2097151") == 1048576
    ranged = timed(lambda: drain(Range="bytes=1048576-2097151"), 30)
    whole = timed(drain, 3)
    tracemalloc.start()
    drain()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"media: serving a {size // 1048576} MiB video")
    line("median 1 MiB range request", f"{statistics.median(ranged) * 1000:.1f} ms")
    line("median whole file", f"{statistics.median(whole) * 1000:.0f} ms")
    line("peak Python memory while streaming it whole", f"{peak / 1024:.0f} KiB")


def bench_gallery(owner: User, count: int = 10_000) -> None:
    now = timezone.now()
    Video.objects.bulk_create(
        Video(
            owner=owner, model="Sora-2" if i % 3 else "Veo-3", prompt=f"gallery scene {i}",
            seconds=4 + i % 5 * 4, size="720x1280", status=Video.Status.COMPLETED,
            archived_at=now, completed_at=now, video_file="x.mp4", thumbnail_file="x.webp",
            remix_count=i % 7,
        )
        for i in range(count)
    )  # fmt: skip
    web = Client()
    web.force_login(owner)
    url = reverse("gallery:index")
    web.get(url)
    first = timed(lambda: web.get(url), 20)
    deep_video = Video.objects.shared().order_by("-created_at", "-id")[count - 100]
    cursor = f"{deep_video.created_at.isoformat()}~{deep_video.pk}"
    deep = timed(lambda: web.get(url, {"after": cursor}), 20)
    search = timed(lambda: web.get(url, {"q": "scene 99", "sort": "longest"}), 20)
    print(f"gallery: {count} shared videos, 24 a page")
    line("median first page", f"{statistics.median(first) * 1000:.1f} ms")
    line("median page near the end (keyset)", f"{statistics.median(deep) * 1000:.1f} ms")
    line("median search + sort by length", f"{statistics.median(search) * 1000:.1f} ms")


def bench_tree(owner: User, size: int = 200) -> None:
    root = Video.objects.create(
        owner=owner, model="Sora-2", prompt="tree root", seconds=4, size="720x1280",
        status=Video.Status.COMPLETED,
    )  # fmt: skip
    members = [root]
    for i in range(1, size):
        parent = members[(i - 1) // 3]
        members.append(
            Video.objects.create(
                owner=owner, model="Sora-2", prompt=f"branch {i}", seconds=4, size="720x1280",
                status=Video.Status.COMPLETED, kind=Video.Kind.REMIX, parent=parent, root=root,
                depth=parent.depth + 1,
            )
        )  # fmt: skip
    web = Client()
    web.force_login(owner)
    url = reverse("videos:detail", args=[root.pk])
    web.get(url)
    samples = timed(lambda: web.get(url), 20)
    print(f"family tree: a video page with {size} relatives")
    line("median render", f"{statistics.median(samples) * 1000:.1f} ms")


def bench_simulator() -> None:
    samples = []
    for i in range(3):
        clock = Clock()
        sim = Simulator(clock=clock, queue_seconds=0, render_seconds=0, cache_dir=WORK / f"c{i}")
        with ProviderClient(base_url="http://sim/v1", api_key="k", transport=sim.transport()) as c:
            remote = c.create_video(model="Sora-2", prompt=f"render {i}", seconds=4)
            clock.now += 1
            start = time.perf_counter()
            c.download_content(remote.id, WORK / f"v{i}.mp4")
            samples.append(time.perf_counter() - start)
    print("simulator: first download of a 4 s 720x1280 video (renders it)")
    line("median", f"{statistics.median(samples) * 1000:.0f} ms")


def bench_points(owner: User, jobs: int = 300) -> None:
    """Attributing a busy half hour: `jobs` equal Sora-2 jobs and their charges."""
    from datetime import timedelta

    from django.db import transaction

    from videostudio.usage import matching
    from videostudio.usage.models import LedgerEntry, UsagePolicy
    from videostudio.usage.services import ledger_match

    start = timezone.now() - timedelta(hours=2)
    charges = [
        matching.Charge(i, "sora-2", start + timedelta(seconds=6 * i + 1), 12_000)
        for i in range(jobs)
    ]

    def cases(reported: bool) -> list[matching.Job]:
        return [
            matching.Job(
                key=i,
                model="sora-2",
                start=start + timedelta(seconds=6 * i),
                end=start + timedelta(seconds=6 * i + 300),
                reported=12_000 if reported else None,
                expected=13_200,
            )
            for i in range(jobs)
        ]

    now = timezone.now()
    pure_reported = timed(lambda: matching.decide(charges, cases(True), now=now), 5)
    pure_estimated = timed(lambda: matching.decide(charges, cases(False), now=now), 5)

    def with_database() -> None:
        with transaction.atomic():
            videos = Video.objects.bulk_create(
                Video(
                    owner=owner, model="Sora-2", prompt=f"charged {i}", seconds=4,
                    size="720x1280", billed_seconds=4, status=Video.Status.COMPLETED,
                    provider_id=f"video_points_{i}", cost_points=12_000,
                    cost_source=Video.Cost.REPORTED,
                    completed_at=start + timedelta(seconds=6 * i + 300),
                )
                for i in range(jobs)
            )  # fmt: skip
            Video.objects.filter(pk__in=[v.pk for v in videos]).update(created_at=start)
            LedgerEntry.objects.bulk_create(
                LedgerEntry(
                    query_id=f"q_bench_{i}", created_at=c.at, bot_name="Sora-2",
                    cost_points=c.points,
                )
                for i, c in enumerate(charges)
            )  # fmt: skip
            UsagePolicy.current()
            UsagePolicy.objects.filter(pk=1).update(ledger_complete_until=timezone.now())
            began = time.perf_counter()
            report = ledger_match()
            samples.append(time.perf_counter() - began)
            assert report.attributed == jobs, report
            transaction.set_rollback(True)

    samples: list[float] = []
    for _ in range(3):
        with_database()
    print(f"points: attributing {jobs} charges to {jobs} equal jobs sent 6 s apart")
    line("median rules only, costs reported", f"{statistics.median(pure_reported) * 1000:.0f} ms")
    line("median rules only, costs estimated", f"{statistics.median(pure_estimated) * 1000:.0f} ms")
    line("median ledger match with the database", f"{statistics.median(samples) * 1000:.0f} ms")


def main() -> None:
    call_command("migrate", verbosity=0)
    owner = get_user_model().objects.create_user(username="bench", password="x")
    clock = Clock()
    simulator = Simulator(clock=clock, queue_seconds=1, render_seconds=3600, cache_dir=WORK / "sim")
    client = ProviderClient(base_url="http://sim/v1", api_key="k", transport=simulator.transport())
    clock.now += 30  # every job is in progress
    print(f"videostudio benchmarks (SQLite in {WORK}); medians of repeated runs\n")
    bench_tracker(client, owner)
    bench_progress(owner)
    bench_media(owner)
    bench_tree(owner)
    bench_gallery(owner)
    bench_points(owner)
    bench_simulator()
    shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
