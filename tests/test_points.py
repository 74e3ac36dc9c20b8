"""Points a team can trust: prices known from the start, estimates shown before sending,
budgets never passed by an estimate of nothing, the books on the review page."""

from __future__ import annotations

import csv
import io
from datetime import datetime, time, timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from videostudio.catalog.models import CatalogEntry
from videostudio.provider.client import ProviderClient
from videostudio.simulator.app import Simulator
from videostudio.usage import balance, ledger
from videostudio.usage import services as usage
from videostudio.usage.models import Budget, LedgerEntry
from videostudio.videos.models import Video

from .conftest import FakeClock, make_user
from .factories import a_video

pytestmark = pytest.mark.django_db
FORM = {"model": "Sora-2", "prompt": "a kite", "seconds": "4", "size": "720x1280"}


def test_a_fresh_install_knows_roughly_what_each_model_costs() -> None:
    sora = CatalogEntry.objects.get(name="Sora-2")
    pro = CatalogEntry.objects.get(name="Sora-2-Pro")
    assert (sora.points_per_second, sora.price_source) == (3300, "seed")
    assert pro.rate_for("720x1280") == 9900 and pro.rate_for("1792x1024") == 16500
    assert usage.cost_hold("Veo-3", 8, "720x1280").points == 8 * 13200
    assert all(entry.rate_for("720x1280") for entry in CatalogEntry.objects.filter(source="seed"))
    assert pro.price_for("1792x1024") == (16500, "seed")


def test_the_form_shows_the_estimate_and_the_budget_left(client: Client, owner: Any) -> None:
    Budget.objects.create(user=owner, monthly_points=50_000)
    client.force_login(owner)
    html = client.get(reverse("videos:new")).content.decode()
    assert "about 13200 points" in html and "list price" in html
    assert "<strong>50000</strong> of your 50000-point monthly budget left" in html
    # Changing the duration asks for the estimate alone.
    part = client.get(
        reverse("videos:new"),
        {"model": "Sora-2", "seconds": "16", "size": "720x1280"},
        headers={"HX-Request": "true", "HX-Target": "cost-estimate"},
    ).content.decode()
    assert part.lstrip().startswith('<p id="cost-estimate"')
    assert "about 52800 points" in part and "not enough for this video" in part
    # Nonsense falls back to the model's defaults rather than failing.
    odd = client.get(
        reverse("videos:new"),
        {"model": "Sora-2", "seconds": "x9", "size": "1x1"},
        headers={"HX-Request": "true", "HX-Target": "cost-estimate"},
    )
    assert odd.status_code == 200 and "about 13200 points" in odd.content.decode()


def test_an_estimate_learned_from_reported_costs_says_so(client: Client, owner: Any) -> None:
    CatalogEntry.objects.filter(name="Sora-2").update(learned_points_per_second=3000)
    client.force_login(owner)
    html = client.get(reverse("videos:new")).content.decode()
    assert "about 12000 points" in html and "learned from what the provider charged" in html


def test_a_model_nobody_priced_is_held_at_the_dearest_known_rate(
    client: Client, owner: Any, app_client: ProviderClient
) -> None:
    CatalogEntry.objects.filter(name="Sora-2").update(
        points_per_second=None, hd_points_per_second=None, price_source=""
    )
    Budget.objects.create(user=owner, monthly_points=100_000)
    client.force_login(owner)
    assert "up to 66000 points" in client.get(reverse("videos:new")).content.decode()
    response = client.post(reverse("videos:new"), FORM)  # Veo-2's 16500/s, four seconds
    assert response.status_code == 302
    video = Video.objects.get(owner=owner)
    assert video.reserved_points == 4 * 16500


def test_without_any_price_a_member_with_a_budget_is_refused_until_an_admin_prices_it(
    client: Client, owner: Any, teammate: Any, recorder: Any
) -> None:
    CatalogEntry.objects.update(
        points_per_second=None,
        hd_points_per_second=None,
        learned_points_per_second=None,
        learned_hd_points_per_second=None,
    )
    Budget.objects.create(user=owner, monthly_points=100_000)
    client.force_login(owner)
    html = client.post(reverse("videos:new"), FORM, headers={"HX-Request": "true"}).content
    assert "Sora-2 has no price yet" in html.decode() and "Admin → Model catalog" in html.decode()
    assert recorder.requests == [] and not Video.objects.exists()
    # A member without a budget is not held back by a missing price.
    client.force_login(teammate)
    assert client.post(reverse("videos:new"), FORM).status_code == 302


def test_a_budget_is_never_passed_by_an_estimate_of_nothing(
    client: Client, owner: Any, recorder: Any
) -> None:
    Budget.objects.create(user=owner, monthly_points=10_000)  # less than 4 s of Sora-2
    client.force_login(owner)
    html = client.post(reverse("videos:new"), FORM, headers={"HX-Request": "true"}).content
    assert "more than is left of your monthly budget" in html.decode()
    assert not Video.objects.exists()


def test_admins_pricing_a_model_is_recorded_as_theirs(client: Client, db: None) -> None:
    admin = make_user("ada", is_staff=True, is_superuser=True)
    client.force_login(admin)
    entry = CatalogEntry.objects.get(name="Veo-2")
    url = reverse("admin:catalog_catalogentry_change", args=[entry.pk])
    page = client.get(url)
    form = page.context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None}
    data.update(points_per_second="20000", enabled="on", image_input="on")
    for name in ("remix", "extend"):
        data.pop(name, None)
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    entry.refresh_from_db()
    assert (entry.points_per_second, entry.price_source) == (20000, "admin")


# --- The review's books --------------------------------------------------------------------


def ledger_complete_until(when: datetime) -> None:
    """As if a sync had read the whole history up to `when`."""
    from videostudio.usage.models import UsagePolicy

    UsagePolicy.current()
    UsagePolicy.objects.filter(pk=1).update(ledger_complete_until=when)


def charge(video: Video | None, points: int, *, model: str = "Sora-2", **extra: Any) -> None:
    at = extra.pop("at", timezone.now())
    LedgerEntry.objects.create(
        query_id=f"q-{LedgerEntry.objects.count()}",
        created_at=at,
        bot_name=model,
        cost_points=points,
        video=video,
    )


def test_the_review_shows_whether_the_books_close(client: Client, staff: Any, owner: Any) -> None:
    reported = a_video(owner=owner, cost_points=12_000, cost_source="reported")
    charge(reported, 12_000)
    charge(None, 5_000, model="Claude-Sonnet-4.5")  # a chat on the same key
    client.force_login(staff)
    html = client.get(reverse("usage:review")).content.decode()
    books = html.split('id="books"')[1].split("</section>")[0]
    assert '<strong id="books-ledger">17000</strong>' in books
    assert '<strong id="books-attributed">12000</strong>' in books
    assert '<strong id="books-unattributed">5000</strong>' in books
    assert "The books close" in books

    a_video(owner=owner, cost_points=13_200, cost_source="estimated")
    html = client.get(reverse("usage:review")).content.decode()
    books = html.split('id="books"')[1].split("</section>")[0]
    assert '<span id="books-estimated">13200</span> estimated only' in books
    assert "do not close yet: +13200 points" in books


def test_failed_jobs_say_not_charged_as_soon_as_the_failure_is_known(
    client: Client, staff: Any, owner: Any, app_client: ProviderClient, clock: FakeClock
) -> None:
    from videostudio.videos import refresh

    from .test_usage import send

    failing = send(owner, app_client, prompt="boom [fail]")
    clock.advance(60)
    refresh.video_apply(
        video=failing,
        fetched=refresh.Fetched(remote=app_client.retrieve_video(str(failing.provider_id))),
    )
    client.force_login(staff)
    rows = client.get(reverse("usage:review"), {"tab": "failed"}).content.decode()
    assert "not charged</td>" in rows and "not known yet" not in rows
    assert send(owner, app_client, prompt="no [error:400]").status == Video.Status.FAILED
    data = client.get(reverse("usage:review"), {"tab": "failed", "export": "csv"}).content
    lines = list(csv.reader(io.StringIO(data.decode())))
    assert [line[-1] for line in lines[1:]] == [
        "refused by the provider: not charged",
        "not charged",
    ]


def test_sync_now_reads_the_ledger_and_the_balance_and_reports(
    client: Client, staff: Any, owner: Any, app_client: ProviderClient
) -> None:
    from django.core.cache import cache

    app_client.create_video(model="Veo-3", prompt="outside", seconds=8)
    client.force_login(staff)
    cache.delete("videostudio:usage:sync-now")  # no other test's sync just happened
    response = client.post(reverse("usage:sync"), {"next": "/usage/?tab=ledger"}, follow=True)
    html = response.content.decode()
    assert response.redirect_chain[-1][0] == "/usage/?tab=ledger"
    assert "1 charge read in 1 page, 1 new; 0 attributed to jobs" in html
    assert "Balance: 99904000" in html and "96000 points unattributed" in html
    assert client.get(reverse("usage:sync")).status_code == 405
    client.force_login(owner)
    assert "/admin/login/" in client.post(reverse("usage:sync"))["Location"]


def test_sync_points_command_reports_how_the_books_close(
    app_client: ProviderClient, capsys: Any
) -> None:
    app_client.create_video(model="Veo-3", prompt="outside", seconds=8)
    call_command("sync_points")
    out = capsys.readouterr().out
    assert "Balance: 99904000 points" in out
    assert "the provider billed 96000 points; 0 attributed to jobs, 96000 unattributed" in out
    call_command("sync_points", "--balance-only")
    assert "Ledger" not in capsys.readouterr().out


def test_costs_count_in_the_period_of_their_charge(owner: Any) -> None:
    # Sent just before midnight, charged just after: once the charge is attributed the
    # job counts on the second day too, so each day's books close.
    from videostudio.usage.selectors import Scope, books

    midnight = timezone.make_aware(datetime.combine(timezone.localdate(), time.min))
    video = a_video(
        owner=owner,
        cost_points=12_000,
        cost_source="reported",
        completed_at=midnight + timedelta(seconds=30),
    )
    Video.objects.filter(pk=video.pk).update(
        created_at=midnight - timedelta(minutes=1), cost_at=midnight - timedelta(minutes=1)
    )
    charge(None, 12_000, at=midnight + timedelta(seconds=40))
    yesterday, today = midnight.date() - timedelta(1), midnight.date()
    assert not books(Scope(start=yesterday, end=yesterday)).closes  # before the match
    ledger_complete_until(timezone.now())
    assert usage.ledger_match().attributed == 1
    video.refresh_from_db()
    assert video.cost_at == midnight + timedelta(seconds=40)
    before, after = (
        books(Scope(start=yesterday, end=yesterday)),
        books(Scope(start=today, end=today)),
    )
    assert (before.ledger_total, before.jobs_total) == (0, 0)
    assert (after.ledger_total, after.jobs_total, after.closes) == (12_000, 12_000, True)


def test_a_completion_refreshes_the_header_balance_soon(
    owner: Any, app_client: ProviderClient, clock: FakeClock, simulator: Simulator
) -> None:
    from django.core.cache import cache

    from videostudio.videos import refresh

    from .test_usage import send

    cache.delete("videostudio:usage:balance-soon")
    with pytest.MonkeyPatch.context() as patch:
        queued: list[str] = []
        patch.setattr(balance, "async_task", lambda func, **kw: queued.append(func))
        patch.setattr(balance.transaction, "on_commit", lambda fn: fn())
        video = send(owner, app_client)
        clock.advance(60)
        refresh.video_apply(
            video=video,
            fetched=refresh.Fetched(remote=app_client.retrieve_video(str(video.provider_id))),
        )
        again = send(owner, app_client, prompt="again")
        refresh.video_apply(
            video=again,
            fetched=refresh.Fetched(remote=app_client.retrieve_video(str(again.provider_id))),
        )
    assert queued == ["videostudio.usage.tasks.refresh_balance"]  # once for the burst


def test_one_matcher_at_a_time_and_the_others_say_so(
    owner: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uuid

    from videostudio.videos.leases import lease_acquire, lease_release

    video = a_video(
        owner=owner,
        cost_points=12_000,
        cost_source="reported",
        completed_at=timezone.now() - timedelta(minutes=30),
    )
    Video.objects.filter(pk=video.pk).update(created_at=timezone.now() - timedelta(minutes=31))
    charge(None, 12_000, at=timezone.now() - timedelta(minutes=30))
    ledger_complete_until(timezone.now())
    elsewhere = uuid.uuid4()  # another process, mid-match
    assert lease_acquire(ledger.MATCH_LEASE, elsewhere, timedelta(minutes=2))
    monkeypatch.setattr(ledger, "MATCH_WAIT", 0.3)
    busy = usage.ledger_match()
    assert busy.busy and busy.attributed == 0
    assert "at the same moment" in str(busy)
    lease_release(ledger.MATCH_LEASE, elsewhere)
    assert usage.ledger_match().attributed == 1


def test_without_a_keeper_of_points_videos_are_free_and_unbudgeted(
    owner: Any, app_client: ProviderClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from videostudio.usage.hooks import UsagePoints
    from videostudio.videos import points

    from .test_usage import send

    assert isinstance(points.points(), UsagePoints)  # the usage app registered itself
    Budget.objects.create(user=owner, monthly_points=1)  # would refuse any job
    monkeypatch.setattr(points, "_points", points.Free())
    video = send(owner, app_client)
    assert video.reserved_points == 0
    assert points.points().month(owner).limit is None


def test_the_unsettled_tab_downloads_the_unsettled_sends(
    client: Client, staff: Any, owner: Any
) -> None:
    lost = a_video(owner=owner, status=Video.Status.UNSETTLED, provider_id=None, cost_points=None)
    charge(None, 12_000, at=lost.created_at + timedelta(seconds=5))
    client.force_login(staff)
    data = client.get(reverse("usage:review"), {"tab": "unsettled", "export": "csv"}).content
    rows = list(csv.reader(io.StringIO(data.decode())))
    assert rows[0][:3] == ["sent", "video", "member"]
    assert len(rows) == 2 and rows[1][1:3] == [str(lost.pk), "olivia"]
    assert rows[1][-1].endswith(":12000")


def test_sync_now_twice_in_a_row_reads_the_history_once(
    client: Client, staff: Any, recorder: Any
) -> None:
    from django.core.cache import cache

    cache.delete("videostudio:usage:sync-now")
    client.force_login(staff)
    client.post(reverse("usage:sync"))
    reads = len(recorder.requests)
    response = client.post(reverse("usage:sync"), follow=True)
    assert "read a few seconds ago" in response.content.decode()
    assert len(recorder.requests) == reads


def test_a_send_found_made_is_no_failure_in_the_totals(client: Client, staff: Any) -> None:
    bob = make_user("bob")
    made = a_video(
        owner=bob, status=Video.Status.FAILED, error_code="charged_untracked",
        cost_points=12_000, cost_source="ledger", provider_id=None,
    )  # fmt: skip
    assert made.display_status == "Made, not followed"
    client.force_login(staff)
    table = client.get(reverse("usage:review")).content.decode().split('id="per-member"')[1]
    assert "<td>bob</td><td>12000</td><td>0</td><td>1</td><td>0</td>" in table


def test_the_list_keeps_the_months_line_and_the_balance_current(
    client: Client, owner: Any, app_client: ProviderClient, clock: FakeClock
) -> None:
    from videostudio.usage.models import BalanceSnapshot
    from videostudio.videos import refresh

    from .test_usage import send

    video = send(owner, app_client)
    client.force_login(owner)
    page = client.get(reverse("videos:list")).content.decode()
    assert "This month: 0 points spent, 13200 reserved" in page
    since = (timezone.now() - timedelta(seconds=5)).timestamp()
    clock.advance(60)
    refresh.video_apply(
        video=video,
        fetched=refresh.Fetched(remote=app_client.retrieve_video(str(video.provider_id))),
    )
    BalanceSnapshot.objects.create(points=99_988_000)
    poll = client.get(
        reverse("videos:progress"), {"view": "list", "since": str(since), "id": str(video.pk)}
    ).content.decode()
    assert 'id="budget" hx-swap-oob="true">This month: 12000 points spent;' in poll
    assert 'id="team-balance"' in poll and "99988000 points" in poll
    family = client.get(
        reverse("videos:progress"), {"view": "family", "since": str(since), "id": str(video.pk)}
    ).content.decode()
    assert 'id="budget"' not in family  # a family page has no month line to update
