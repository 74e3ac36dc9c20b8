"""Factories: a finished, archived video in one line (files included when asked)."""

from __future__ import annotations

import io
from typing import Any, cast

import factory
from django.core.files.base import ContentFile
from django.utils import timezone
from PIL import Image

from videostudio.videos.models import Video


def webp_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (36, 64), "teal").save(buffer, format="WEBP")
    return buffer.getvalue()


class VideoFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Video
        skip_postgeneration_save = True

    model = "Sora-2"
    prompt = factory.Sequence(lambda n: f"scene number {n}")
    seconds = 4
    size = "720x1280"
    status = Video.Status.COMPLETED
    progress = 100
    visibility = Video.Visibility.TEAM
    provider_id = factory.Sequence(lambda n: f"video_test_{n}")
    completed_at = factory.LazyFunction(timezone.now)
    archived_at = factory.LazyFunction(timezone.now)
    video_file = "videos/test/video.mp4"
    thumbnail_file = "videos/test/thumbnail.webp"

    class Params:
        private = factory.Trait(visibility=Video.Visibility.PRIVATE)
        running = factory.Trait(
            status=Video.Status.IN_PROGRESS,
            progress=40,
            archived_at=None,
            completed_at=None,
            video_file="",
            thumbnail_file="",
            next_poll_at=factory.LazyFunction(timezone.now),
        )

    @factory.post_generation
    def with_files(obj: Video, create: bool, extracted: Any, **kwargs: Any) -> None:
        """`with_files=True` stores real bytes for the video and its thumbnail."""
        if not (create and extracted):
            return
        obj.video_file.save("video.mp4", ContentFile(b"\x00\x00\x00\x18ftypmp42" + bytes(4000)))
        obj.thumbnail_file.save("thumbnail.webp", ContentFile(webp_bytes()))


def a_video(**fields: Any) -> Video:
    """A finished, shared, archived video (typed: factory_boy's stubs say otherwise)."""
    return cast(Video, VideoFactory(**fields))


def some_videos(count: int, **fields: Any) -> list[Video]:
    return cast(list[Video], VideoFactory.create_batch(count, **fields))


def a_lineage(*kinds: str, **fields: Any) -> list[Video]:
    """An original and a chain of descendants: a_lineage("remix", "extension") makes
    original -> remix -> extension of the remix."""
    chain = [a_video(**fields)]
    for kind in kinds:
        parent = chain[-1]
        chain.append(
            a_video(
                kind=kind,
                parent=parent,
                root=chain[0],
                depth=parent.depth + 1,
                model=parent.model,
                **fields,
            )
        )
    return chain


def a_family(size: int, *, fanout: int = 3, **fields: Any) -> list[Video]:
    """A tree of `size` videos, each with up to `fanout` children, breadth first."""
    members = [a_video(**fields)]
    for index in range(1, size):
        parent = members[(index - 1) // fanout]
        kind = Video.Kind.REMIX if index % 2 else Video.Kind.EXTENSION
        members.append(
            a_video(kind=kind, parent=parent, root=members[0], depth=parent.depth + 1, **fields)
        )
    return members


# --- The other rows a page can show (the input fuzzing needs one of each) -------------


class LedgerEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "usage.LedgerEntry"

    query_id = factory.Sequence(lambda n: f"query-{n}")
    created_at = factory.LazyFunction(timezone.now)
    bot_name = "Sora-2"
    usage_type = "API"
    cost_points = 13_200


class BalanceSnapshotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "usage.BalanceSnapshot"

    points = 250_000


class BudgetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "usage.Budget"

    monthly_points = 100_000


class StarFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "gallery.Star"


class ScheduleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "django_q.Schedule"

    name = factory.Sequence(lambda n: f"schedule {n}")
    func = "videostudio.videos.tasks.sweep"
    schedule_type = "I"
    minutes = 1


class TaskFactory(factory.django.DjangoModelFactory):
    """A finished django-q task (the admin shows it as a success or a failure)."""

    class Meta:
        model = "django_q.Task"

    id = factory.Sequence(lambda n: f"{n:032x}")
    name = factory.Sequence(lambda n: f"task-{n}")
    func = "videostudio.videos.tasks.sweep"
    started = factory.LazyFunction(timezone.now)
    stopped = factory.LazyFunction(timezone.now)
    success = True
