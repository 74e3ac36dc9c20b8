"""Points at the edges a review found: a history read in pieces, senders that died,
outside spending, charges that arrive late, sends older than the history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from videostudio.provider.errors import InvalidRequest, ProviderError
from videostudio.provider.types import HistoryEntry, HistoryPage, RemoteVideo
from videostudio.usage import selectors
from videostudio.usage import services as usage
from videostudio.usage.models import LedgerEntry, UsagePolicy
from videostudio.videos import states
from videostudio.videos.models import Video
from videostudio.videos.refresh import MAX_ARCHIVE_ATTEMPTS, Fetched, video_apply

from .factories import a_video

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def at(video: Video, created: datetime, **more: Any) -> Video:
    Video.objects.filter(pk=video.pk).update(created_at=created, cost_at=created, **more)
    video.refresh_from_db()
    return video


def unsure(owner: Any, status: str, created: datetime, **more: Any) -> Video:
    fields: dict[str, Any] = {
        "provider_id": None, "status": status, "completed_at": None, "archived_at": None,
        "cost_points": None, "cost_source": "", "reserved_points": 13_200, "billed_seconds": 4,
    }  # fmt: skip
    fields.update(more)
    return at(a_video(owner=owner, **fields), created)


def charge(qid: str, when: datetime, points: int, bot: str = "Sora-2") -> LedgerEntry:
    return LedgerEntry.objects.create(
        query_id=qid, created_at=when, bot_name=bot, cost_points=points
    )


def complete_until(when: datetime) -> None:
    UsagePolicy.current()
    UsagePolicy.objects.filter(pk=1).update(ledger_complete_until=when)


class History:
    """A provider's points history, newest first, 100 a page; it can fail after some
    pages, or refuse a cursor, like a real one."""

    def __init__(self, entries: list[HistoryEntry], *, fail_after: int | None = None) -> None:
        self.entries = entries
        self.fail_after = fail_after
        self.calls = 0

    def points_history(self, *, limit: int = 100, starting_after: str | None = None) -> HistoryPage:
        self.calls += 1
        if self.fail_after is not None and self.calls > self.fail_after:
            raise ProviderError("the history is down", transient=True)
        start = 0
        if starting_after:
            ids = [e.query_id for e in self.entries]
            if starting_after not in ids:
                raise InvalidRequest("Unknown starting_after cursor", status=400)
            start = ids.index(starting_after) + 1
        page = self.entries[start : start + limit]
        return HistoryPage(has_more=start + limit < len(self.entries), entries=tuple(page))


def entry(i: int, when: datetime, bot: str = "GPT-5", points: int = 10) -> HistoryEntry:
    return HistoryEntry(f"q{i}", when, bot, "api", points)


def test_a_history_read_in_pieces_is_complete_only_once_no_stretch_is_missing(
    owner: Any,
) -> None:
    now = datetime.now(UTC)
    old = [entry(i, now - timedelta(minutes=2 * i)) for i in range(250)]
    old[180] = entry(180, now - timedelta(minutes=360), bot="Sora-2", points=13_200)
    first = usage.ledger_sync(client=History(old, fail_after=1))  # type: ignore[arg-type]
    assert not first.complete and LedgerEntry.objects.count() == 100
    assert UsagePolicy.current().ledger_complete_until is None
    assert UsagePolicy.current().ledger_resume is not None  # where it stopped

    # A send whose charge (q180) lies in the stretch not read yet is not settled, and
    # nothing is booked (long past its window, it waits for an admin meanwhile).
    lost = unsure(owner, Video.Status.UNCONFIRMED, now - timedelta(minutes=361))
    usage.ledger_match()
    lost.refresh_from_db()
    assert lost.status == Video.Status.UNSETTLED and lost.cost_points is None

    # The next sync reads the new charge, then carries on where the last one stopped.
    newer = [entry(1000, now), *old]
    second = usage.ledger_sync(client=History(newer))  # type: ignore[arg-type]
    assert second.complete and LedgerEntry.objects.count() == 251
    assert UsagePolicy.current().ledger_resume is None
    lost.refresh_from_db()
    assert (lost.error_code, lost.cost_points) == ("charged_untracked", 13_200)


def test_a_note_whose_entry_left_the_history_is_dropped_not_retried_forever() -> None:
    now = datetime.now(UTC)
    UsagePolicy.current()
    UsagePolicy.objects.filter(pk=1).update(
        ledger_resume={"cursor": "gone", "top": now.isoformat()}
    )
    report = usage.ledger_sync(client=History([entry(1, now)]))  # type: ignore[arg-type]
    assert not report.complete
    assert UsagePolicy.current().ledger_resume is None  # the next sync walks it all again
    assert usage.ledger_sync(client=History([entry(1, now)])).complete  # type: ignore[arg-type]


def test_a_send_whose_sender_died_keeps_its_charge_from_another_unconfirmed_send(
    owner: Any,
) -> None:
    lost = unsure(owner, Video.Status.UNCONFIRMED, T0)
    # Another send, its web process killed after the provider took (and charged) it; the
    # tracker has not yet given it up as unconfirmed.
    dying = unsure(owner, Video.Status.SUBMITTING, T0 + timedelta(minutes=20))
    charge("its", T0 + timedelta(minutes=20, seconds=3), 13_200)
    complete_until(T0 + timedelta(minutes=39))
    usage.ledger_match(now=T0 + timedelta(minutes=39))
    lost.refresh_from_db()
    assert lost.status == Video.Status.UNCONFIRMED  # it waits until the other is settled
    assert lost.cost_points is None and dying.pk


def test_an_unsettled_send_older_than_the_history_is_left_to_an_admin(owner: Any) -> None:
    now = datetime.now(UTC)
    sent = now - timedelta(days=40)
    old = unsure(owner, Video.Status.UNSETTLED, sent)
    charge("c1", sent + timedelta(minutes=1), 13_200)
    complete_until(now)
    usage.ledger_match(now=now)
    old.refresh_from_db()
    assert old.status == Video.Status.UNSETTLED


def test_outside_spending_on_the_model_keeps_a_send_from_being_called_made(owner: Any) -> None:
    lost = unsure(owner, Video.Status.UNCONFIRMED, T0)
    charge("fits", T0 + timedelta(minutes=12), 15_000)  # could be it...
    charge("script", T0 - timedelta(hours=3), 9_000)  # ...but someone's script spends too
    now = T0 + timedelta(minutes=39)
    complete_until(now)
    usage.ledger_match(now=now)
    lost.refresh_from_db()
    assert lost.status == Video.Status.UNSETTLED and lost.cost_points is None
    assert [e.query_id for e in usage.unsettled_evidence(lost)] == ["fits"]


def test_a_reported_job_waits_for_its_own_charge_before_taking_one(owner: Any) -> None:
    early = at(a_video(owner=owner, completed_at=T0 + timedelta(minutes=5), cost_points=100,
                       cost_source="reported"), T0)  # fmt: skip
    late = at(a_video(owner=owner, completed_at=T0 + timedelta(minutes=20), cost_points=100,
                      cost_source="reported"), T0 + timedelta(minutes=3))  # fmt: skip
    charge("c-early", T0 + timedelta(minutes=5), 100)
    now = T0 + timedelta(minutes=21)
    complete_until(now)
    usage.ledger_match(now=now)
    charge("c-late", T0 + timedelta(minutes=20, seconds=30), 100)  # reaches the history late
    complete_until(now + timedelta(minutes=30))
    usage.ledger_match(now=now + timedelta(minutes=30))
    owners = dict(LedgerEntry.objects.values_list("query_id", "video_id"))
    assert set(owners.values()) == {early.pk, late.pk}
    books = selectors.books(selectors.Scope(start=T0.date(), end=T0.date()))
    assert books.closes, books


def test_a_completed_job_the_provider_then_calls_expired_says_its_files_are_gone(
    owner: Any,
) -> None:
    video = a_video(owner=owner, archived_at=None, video_file="", thumbnail_file="",
                    next_poll_at=datetime.now(UTC))  # fmt: skip
    remote = RemoteVideo(id=str(video.provider_id), status="failed", raw_status="expired")
    assert video_apply(video=video, fetched=Fetched(remote=remote))
    video.refresh_from_db()
    assert video.status == Video.Status.COMPLETED and video.next_poll_at is None
    assert video.archive_attempts == MAX_ARCHIVE_ATTEMPTS
    assert "no longer offers" in video.archive_error and "expired" in video.archive_error


def test_a_refusal_that_arrives_after_the_send_was_given_up_is_recorded(owner: Any) -> None:
    video = unsure(owner, Video.Status.UNCONFIRMED, datetime.now(UTC), reserved_points=500)
    assert states.video_refused(video, error_code="invalid_request_error", message="no")
    video.refresh_from_db()
    assert (video.status, video.reserved_points, video.cost_points) == ("failed", 0, 0)


def test_a_finished_job_of_an_unpriced_model_keeps_counting_at_its_hold(owner: Any) -> None:
    from videostudio.catalog.models import CatalogEntry

    CatalogEntry.objects.filter(name="Sora-2").update(
        points_per_second=None, hd_points_per_second=None, learned_points_per_second=None
    )
    video = a_video(owner=owner, cost_points=None, cost_source="", billed_seconds=4)
    usage.costs_recorded(video.pk)
    video.refresh_from_db()
    assert (video.cost_points, video.cost_source) == (4 * 16_500, "estimated")
