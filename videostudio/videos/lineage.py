"""Remixes and extensions: the rules, and the family tree of every video.

The provider only reports `remixed_from_video_id`; the tree is ours. Every
video points at its parent and its root, so a whole family is one query.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone
from django.utils.formats import date_format

from videostudio.catalog.services import catalog_find
from videostudio.provider.catalog import ModelSpec
from videostudio.videos.models import Video

REMIX = Video.Kind.REMIX
EXTENSION = Video.Kind.EXTENSION


def lineage_spec(source: Video) -> ModelSpec | None:
    """The catalog's word on the source's model, if members may still use it."""
    entry = catalog_find(source.model)
    return entry.to_spec() if entry is not None and entry.available else None


def lineage_refusal(
    source: Video, kind: str, *, seconds: int | None = None, now: datetime | None = None
) -> str | None:
    """Why `source` cannot be remixed or extended now (None: it can). One wording
    for the page that hides the button and the service that refuses the call."""
    verb = "remixed" if kind == REMIX else "extended"
    spec = lineage_spec(source)
    if spec is None:
        return f"{source.model} is not available for new videos, so this cannot be {verb}."
    if not (spec.remix if kind == REMIX else spec.extend):
        return f"{spec.label} videos cannot be {verb}: the provider offers that for other models."
    if source.status != Video.Status.COMPLETED or not source.provider_id:
        return f"Only a finished video can be {verb}."
    now = now or timezone.now()
    if source.expires_at is not None and source.expires_at <= now:
        when = date_format(timezone.localtime(source.expires_at), "DATETIME_FORMAT")
        return (
            f"The provider deleted its copy on {when}, and it needs that copy to make "
            f"anything from it. The copy saved here still plays."
        )
    if kind == EXTENSION:
        room = extension_choices(source, spec)
        if not room:
            return extension_room(source, spec)
        if seconds is not None and seconds not in spec.durations:
            return (
                f"{spec.label} does not add {seconds} s: it adds "
                f"{seconds_list(spec.durations)}. {extension_room(source, spec)}"
            )
        if seconds is not None and seconds not in room:
            return (
                f"Adding {seconds} s would make {source.seconds + seconds} s. "
                f"{extension_room(source, spec)}"
            )
    return None


def extension_choices(source: Video, spec: ModelSpec) -> list[int]:
    """Extension lengths that keep the whole lineage within the model's cap."""
    cap = spec.max_lineage_seconds or 0
    return [d for d in spec.durations if source.seconds + d <= cap] if spec.extend else []


def extension_room(source: Video, spec: ModelSpec) -> str:
    """How long the lineage already is, the model's cap, and what may still be added."""
    room = extension_choices(source, spec)
    rest = f"you can still add {seconds_list(room)}" if room else "nothing more can be added"
    return (
        f"This video is already {source.seconds} s long and {spec.label} allows "
        f"{spec.max_lineage_seconds or 0} s in all: {rest}."
    )


def seconds_list(values: Iterable[int]) -> str:
    """`4, 8 or 12 s`."""
    *first, last = (str(v) for v in values)
    return f"{', '.join(first)} or {last} s" if first else f"{last} s"


# --- The family tree ----------------------------------------------------------------------


@dataclass
class Node:
    video: Video
    depth: int
    visible: bool
    current: bool = False


def family_members(video: Video) -> list[Video]:
    root_id = video.root_id or video.pk
    return list(
        Video.objects.filter(Q(pk=root_id) | Q(root_id=root_id))
        .select_related("owner")
        .order_by("created_at", "pk")
    )


def family_tree(video: Video, viewer: Any) -> list[Node]:
    """Ancestors down to `video`, then everything that descends from it, in order.

    Two queries whatever the size. Videos the viewer may not see stay in the tree
    as placeholders, so the shape (and their visible descendants) still make sense.
    """
    members = family_members(video)
    ids = [m.pk for m in members]
    visible = set(Video.objects.visible_to(viewer).filter(pk__in=ids).values_list("pk", flat=True))
    by_id = {m.pk: m for m in members}
    children: dict[int | None, list[Video]] = defaultdict(list)
    for member in members:
        children[member.parent_id].append(member)

    chain: list[Video] = []
    walk: Video | None = video
    while walk is not None:
        chain.append(walk)
        walk = by_id.get(walk.parent_id) if walk.parent_id else None
    chain.reverse()
    nodes = [Node(v, depth, v.pk in visible) for depth, v in enumerate(chain[:-1])]
    base = len(chain) - 1

    def below(node: Video, depth: int) -> None:
        nodes.append(Node(node, depth, node.pk in visible, current=node.pk == video.pk))
        for child in children.get(node.pk, []):
            below(child, depth + 1)

    below(by_id.get(video.pk, video), base)
    return nodes


@dataclass(frozen=True)
class FamilyFacts:
    """What descends from each of some videos: how many remixes and extensions, and
    which videos someone is building on now (a remix or extension of it is in flight,
    or was made within `recent`)."""

    counts: dict[int, int]
    building_on: frozenset[int]


def family_facts(
    videos: Iterable[Video], *, now: datetime | None = None, recent: timedelta = timedelta(hours=1)
) -> FamilyFacts:
    """One query, however many videos and families."""
    videos = list(videos)
    if not videos:
        return FamilyFacts({}, frozenset())
    now = now or timezone.now()
    roots = {v.root_id or v.pk for v in videos}
    children: dict[int, list[int]] = defaultdict(list)
    active: set[int] = set()
    rows = Video.objects.filter(root_id__in=roots, deleted_at__isnull=True).values_list(
        "pk", "parent_id", "created_at", "next_poll_at"
    )
    for pk, parent, created_at, next_poll_at in rows:
        if parent is None:
            continue
        children[parent].append(pk)
        if next_poll_at is not None or created_at >= now - recent:
            active.add(parent)

    def count(pk: int) -> int:
        return sum(1 + count(child) for child in children.get(pk, []))

    return FamilyFacts({v.pk: count(v.pk) for v in videos}, frozenset(active))


def descendant_counts(videos: Iterable[Video]) -> dict[int, int]:
    """How many remixes and extensions descend from each video: one query."""
    return family_facts(videos).counts
