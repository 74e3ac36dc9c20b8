"""Making the provider's deadline visible, and loud only when someone should act.

The provider may delete a video's files an hour after it completes. The archive
step keeps a copy here, so for a saved video the only thing that expires is the
chance to remix or extend it: a fresh video says so calmly. A notice is loud when
something is really at stake: a video not saved here, or the provider's copy of a
video someone is building on (a remix or extension of it is in flight or was made
within the hour) going within the hour.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone
from django.utils.formats import date_format

from videostudio.catalog.models import CatalogEntry
from videostudio.provider.catalog import ModelSpec
from videostudio.videos.lineage import extension_choices, family_facts
from videostudio.videos.models import Video

# The provider's copy of a video someone is building on turns loud this close to its end...
URGENT = timedelta(minutes=15)
# ...where "building on" means a remix or extension of it is in flight, or was made this
# recently. (The copy lasts about an hour: anything longer would make every video
# anyone remixed loud for the rest of its life.)
BUILDING = timedelta(minutes=15)
# Levels a person should act on: "Needs attention" lists these, and they look it.
LOUD = ("urgent", "lost")
ATTENTION_MOST = 20  # the most "Needs attention" lists (the unsaved first)


@dataclass(frozen=True)
class ExpiryNotice:
    # "calm": it can be remixed or extended until then; nothing is at risk.
    # "urgent": someone builds on it and its copy goes within URGENT, or the video is
    #   not saved here yet and saving is at risk.
    # "lost": the provider's copy is gone and none was saved here.
    level: str
    expires_at: datetime
    message: str  # what it means, without the time left (the page counts that down)
    left: str = ""  # the time left when the page was drawn ("40 min")
    until: str = ""  # the clock time it ends ("18:04")
    ways: str = "remixed or extended"  # what can still be made from it

    @property
    def loud(self) -> bool:
        return self.level in LOUD

    @property
    def counting(self) -> bool:
        """Whether the page shows a countdown to `expires_at`."""
        return self.level != "lost"


def humanize(delta: timedelta) -> str:
    """How long is left, as a person would say it; seconds in the last minute."""
    seconds = max(int(delta.total_seconds()), 0)
    if seconds < 60:
        return f"{seconds} s"
    hours, minutes = divmod(seconds // 60, 60)
    if hours >= 48:
        return f"{hours // 24} days"
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


def until(moment: datetime, *, now: datetime) -> str:
    """A clock time ("18:04"), with the day when it is not today (the page shows it
    in the reader's own time zone, see static/js/countdown.js)."""
    local, today = timezone.localtime(moment), timezone.localtime(now)
    return date_format(local, "H:i" if local.date() == today.date() else "j M, H:i")


def expiry_notice(
    video: Video,
    *,
    now: datetime | None = None,
    can_build: bool,
    building_on: bool = False,
    ways: str = "remixed or extended",
) -> ExpiryNotice | None:
    """What a card says about the provider's deadline, if anything.

    `can_build`: the video can be remixed or extended (`ways` says which), so that
    chance ends with the copy. `building_on`: someone is building on this video now,
    so losing it matters."""
    if video.expires_at is None or video.status != Video.Status.COMPLETED:
        return None
    now = now or timezone.now()
    left = video.expires_at - now
    if not video.is_archived:
        return _unsaved(video, video.expires_at, left)
    if not can_build or left <= timedelta(0):
        # Nothing is lost that the copy here does not keep; once the chance to remix
        # or extend is gone, the video's page says why where those forms were.
        return None
    horizon = max(timedelta(hours=settings.VIDEOSTUDIO_EXPIRY_WARNING_HOURS), URGENT)
    if left > horizon:
        return None
    if not (building_on and left <= URGENT):
        return ExpiryNotice(
            "calm",
            video.expires_at,
            f"It can be {ways} until {until(video.expires_at, now=now)}.",
            humanize(left),
            until(video.expires_at, now=now),
            ways,
        )
    return ExpiryNotice(
        "urgent",
        video.expires_at,
        f"After that it can no longer be {ways}: make what you still want from it first.",
        humanize(left),
    )


def _unsaved(video: Video, expires_at: datetime, left: timedelta) -> ExpiryNotice | None:
    """A finished video whose files are not saved here yet."""
    if left <= timedelta(0):
        return ExpiryNotice(
            "lost", expires_at, "The provider has deleted its copy and none was saved here."
        )
    risk = timedelta(minutes=settings.VIDEOSTUDIO_ARCHIVE_RISK_MINUTES)
    if video.in_flight and left > risk:
        return None  # being saved, with time to spare: the card says "Saving"
    return ExpiryNotice(
        "urgent",
        expires_at,
        "It is NOT saved here yet: if saving does not succeed by then, the video itself is lost.",
        humanize(left),
    )


def buildable_specs() -> dict[str, ModelSpec]:
    """The models (by lower-case name) members may remix or extend now: one query."""
    entries = CatalogEntry.objects.filter(enabled=True, retired_at__isnull=True).filter(
        Q(remix=True) | Q(extend=True)
    )
    return {entry.name.lower(): entry.to_spec() for entry in entries}


def buildable_models() -> set[str]:
    """Models (lower-case) members may remix or extend now: one query."""
    return set(buildable_specs())


def build_ways(video: Video, spec: ModelSpec | None) -> str:
    """What can still be made from `video` while the provider keeps its copy, in
    words ("remixed or extended", "remixed", "extended"; "" for nothing)."""
    if spec is None:
        return ""
    ways = ["remixed"] if spec.remix else []
    if spec.extend and extension_choices(video, spec):
        ways.append("extended")  # not once the lineage is at the model's cap
    return " or ".join(ways)


@dataclass(frozen=True)
class Card:
    """A video as a page shows it: the row, and what the page says about it."""

    video: Video
    notice: ExpiryNotice | None = None
    descendants: int = 0  # remixes and extensions made from it


def video_cards(videos: list[Video], *, now: datetime | None = None) -> list[Card]:
    """Each video with its expiry notice and its number of descendants (two queries,
    none for no videos)."""
    if not videos:
        return []
    now = now or timezone.now()
    specs = buildable_specs()
    facts = family_facts(videos, now=now, recent=BUILDING)
    cards = []
    for video in videos:
        ways = build_ways(video, specs.get(video.model.lower()))
        notice = expiry_notice(
            video,
            now=now,
            can_build=bool(ways),
            building_on=video.pk in facts.building_on,
            ways=ways or "remixed or extended",
        )
        cards.append(Card(video, notice, facts.counts.get(video.pk, 0)))
    return cards


def needs_attention(user: Any, *, now: datetime | None = None) -> list[Card]:
    """What needs the member now: their videos whose files are not saved (the saving
    failed, or the provider's copy goes soon), and the copy of any video being built
    on (theirs, or a teammate's they made a remix or extension from within the hour)
    going within the hour. Chosen in SQL, so quiet videos never crowd these out."""
    now = now or timezone.now()
    me = getattr(user, "pk", None)
    risk = timedelta(minutes=settings.VIDEOSTUDIO_ARCHIVE_RISK_MINUTES)
    going = Q(expires_at__gt=now, expires_at__lte=now + URGENT)
    built_on = Exists(
        Video.objects.filter(parent_id=OuterRef("pk"), deleted_at__isnull=True).filter(
            Q(created_at__gte=now - BUILDING) | Q(next_poll_at__isnull=False)
        )
    )
    mine_unsaved = Q(owner_id=me, archived_at__isnull=True) & (
        Q(next_poll_at__isnull=True) | Q(expires_at__lte=now + risk)
    )
    i_build_on = Q(
        pk__in=Video.objects.filter(owner_id=me, created_at__gte=now - BUILDING).values("parent_id")
    )
    videos = list(
        Video.objects.visible_to(user)
        .filter(status=Video.Status.COMPLETED)
        .filter(
            mine_unsaved
            | (going & (Q(owner_id=me, archived_at__isnull=False) & built_on | i_build_on))
        )
        .order_by(
            F("archived_at").asc(nulls_first=True), F("expires_at").asc(nulls_first=True), "pk"
        )[:ATTENTION_MOST]
    )
    return [
        card
        for card in video_cards(videos, now=now)
        if (card.notice and card.notice.loud) or not card.video.is_archived
    ]


def notice_moments(video: Video, *, now: datetime) -> list[datetime]:
    """When this video's notice changes by the clock alone, from now on: its copy
    expires (the countdown ends; remix and extend go), turns loud if someone builds on
    it, or, for a video not saved here, saving turns at risk. From the row alone, no
    query: a page asks once more then, and is told (a redraw leaves forms being typed
    in alone, and a playing video plays on)."""
    if video.status != Video.Status.COMPLETED or video.expires_at is None:
        return []
    horizon = now + max(timedelta(hours=settings.VIDEOSTUDIO_EXPIRY_WARNING_HOURS), URGENT)
    moments = [video.expires_at - URGENT, video.expires_at]  # loud if built on, then gone
    if not video.is_archived:
        moments.insert(
            0, video.expires_at - timedelta(minutes=settings.VIDEOSTUDIO_ARCHIVE_RISK_MINUTES)
        )
    return [m for m in moments if now < m <= horizon]


def notice_changed(video: Video, *, since: datetime, now: datetime) -> bool:
    """Whether the notice changed by the clock between `since` and `now`."""
    moments = notice_moments(video, now=since)
    return bool(moments) and moments[0] <= now
