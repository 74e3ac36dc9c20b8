"""Points: costs, the ledger, the team balance, 402s and budgets."""

from __future__ import annotations

import csv
import io
import threading
from pathlib import Path
from typing import Any

import pytest
from django.db import connection as db_connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from videostudio import connection
from videostudio.catalog.models import CatalogEntry
from videostudio.catalog.services import catalog_find
from videostudio.provider.client import ProviderClient
from videostudio.simulator.app import Simulator
from videostudio.usage import services as usage
from videostudio.usage.models import BalanceSnapshot, Budget, LedgerEntry, UsagePolicy
from videostudio.videos import refresh, services
from videostudio.videos.models import Video

from .conftest import FakeClock, make_user
from .factories import a_video
from .helpers import sent

pytestmark = pytest.mark.django_db
SORA_RATE = 3000  # what the simulator charges per second of Sora-2


def send(owner: Any, client: ProviderClient, prompt: str = "a fox", seconds: int = 4) -> Video:
    entry = catalog_find("Sora-2")
    assert entry is not None
    video = services.video_submit(
        owner=owner, spec=entry.to_spec(), prompt=prompt, seconds=seconds, size="720x1280",
        image=None, client=client,
    )  # fmt: skip
    return sent(video, client)


def finish(video: Video, client: ProviderClient, clock: FakeClock) -> Video:
    clock.advance(60)
    return refresh.video_refresh(video=video, client=client)


# --- Costs ---------------------------------------------------------------------------------


def test_a_cost_the_provider_reports_is_measured_and_teaches_the_rate(
    owner: Any, app_client: ProviderClient, clock: FakeClock
) -> None:
    video = finish(send(owner, app_client, seconds=8), app_client, clock)
    assert (video.cost_points, video.cost_source) == (8 * SORA_RATE, Video.Cost.REPORTED)
    assert video.reserved_points == 0
    assert CatalogEntry.objects.get(name="Sora-2").learned_points_per_second == SORA_RATE


def test_without_a_reported_cost_it_is_estimated_and_says_so(
    owner: Any, tmp_path: Path, clock: FakeClock
) -> None:
    CatalogEntry.objects.filter(name="Sora-2").update(points_per_second=50)
    relay = Simulator(clock=clock, dialect="openai", cache_dir=tmp_path, fps=4)
    client = ProviderClient(base_url="http://r.test/v1", api_key="k", transport=relay.transport())
    video = finish(send(owner, client, seconds=12), client, clock)
    assert (video.cost_points, video.cost_source) == (600, Video.Cost.ESTIMATED)
    assert video.get_cost_source_display() == "Estimated"


def test_an_extension_is_charged_for_its_new_seconds_only(
    owner: Any, app_client: ProviderClient, clock: FakeClock
) -> None:
    source = finish(send(owner, app_client, seconds=8), app_client, clock)
    extension = services.video_extend(
        actor=owner, source=source, prompt="on", seconds=4, client=app_client
    )
    extension = sent(extension, app_client)
    assert (extension.seconds, extension.billed_seconds) == (12, 4)
    assert extension.reserved_points == 4 * SORA_RATE  # learned from the source
    extension = finish(extension, app_client, clock)
    assert extension.cost_points == 4 * SORA_RATE


# --- The ledger ----------------------------------------------------------------------------


def test_the_ledger_pages_through_the_history_once_and_matches_charges(
    owner: Any, app_client: ProviderClient, simulator: Simulator, clock: FakeClock
) -> None:
    videos = [send(owner, app_client, prompt=f"p{i}") for i in range(130)]
    # A charge made outside the studio (someone's curl script) stays unattributed.
    app_client.create_video(model="Veo-3", prompt="outside", seconds=8)

    report = usage.ledger_sync(client=app_client)
    assert (report.pages, report.read, report.new, report.complete) == (2, 131, 131, True)
    # Running jobs without a reported cost: their charges could still be anyone's.
    assert report.matched == 0

    clock.advance(60)
    for video in videos:  # the tracker sees them finish, each with its reported cost
        remote = app_client.retrieve_video(str(video.provider_id))
        refresh.video_apply(video=video, fetched=refresh.Fetched(remote=remote))
    with clock.travelling():
        # Charges are matched once the history is complete past the jobs' windows.
        clock.advance(600)
        again = usage.ledger_sync(client=app_client)
    # It reads back a little past where the last sync began (charges may show up late).
    assert (again.new, again.matched, again.pages) == (0, 130, 2)
    assert LedgerEntry.objects.filter(video__isnull=True).get().bot_name == "Veo-3"
    for video in videos[:3]:
        video.refresh_from_db()
        assert (video.cost_points, video.cost_source) == (4 * SORA_RATE, Video.Cost.REPORTED)
        assert video.reserved_points == 0 and video.charge.cost_points == 4 * SORA_RATE

    third = usage.ledger_sync(client=app_client)
    assert (third.new, third.matched, third.pages) == (0, 0, 1)
    assert LedgerEntry.objects.count() == 131


# --- Balance and 402 -----------------------------------------------------------------------


def test_the_balance_is_shown_to_members_unless_staff_hide_it(
    client: Client, owner: Any, staff: Any, app_client: ProviderClient
) -> None:
    client.force_login(owner)
    assert "balance not read yet" in client.get(reverse("videos:list")).content.decode()
    assert usage.balance_refresh(client=app_client) == 100_000_000
    assert "100000000 points" in client.get(reverse("videos:list")).content.decode()
    UsagePolicy.objects.filter(pk=1).update(show_balance_to_members=False)
    html = client.get(reverse("videos:list")).content.decode()
    assert "100000000 points" not in html and "balance not read yet" not in html
    client.force_login(staff)
    assert "100000000 points" in client.get(reverse("videos:list")).content.decode()


def test_a_low_balance_warns_everyone(client: Client, owner: Any) -> None:
    UsagePolicy.current()
    UsagePolicy.objects.filter(pk=1).update(low_balance_threshold=5000)
    BalanceSnapshot.objects.create(points=1200)
    client.force_login(owner)
    html = client.get(reverse("videos:list")).content.decode()
    assert "balance is low (1200 points)" in html


def test_a_402_stops_every_member_until_the_balance_recovers(
    client: Client,
    owner: Any,
    teammate: Any,
    staff: Any,
    app_client: ProviderClient,
    recorder: Any,
    simulator: Simulator,
) -> None:
    simulator.ledger.set_balance(0)
    assert send(owner, app_client, prompt="one more").status == Video.Status.FAILED
    assert UsagePolicy.current().out_of_points_since is not None

    client.force_login(teammate)
    page = client.get(reverse("videos:new")).content.decode()
    assert "points are used up" in page  # the banner, for everyone
    assert "Points added: check now" not in page  # that is for staff
    data = {"model": "Sora-2", "prompt": "a kite", "seconds": "4", "size": "720x1280"}
    # While the provider still says no, nobody can send: one balance read, no create.
    sent = len(recorder.requests)
    response = client.post(reverse("videos:new"), data, headers={"HX-Request": "true"})
    assert "points are used up" in response.content.decode()
    assert recorder.paths()[sent:] == ["GET /usage/current_balance"]
    assert Video.objects.filter(owner=teammate).count() == 0

    # Points are added: the very next attempt reads the balance and goes through.
    simulator.ledger.set_balance(50_000)
    response = client.post(reverse("videos:new"), data)
    assert response.status_code == 302
    assert UsagePolicy.current().out_of_points_since is None
    assert Video.objects.filter(owner=teammate).count() == 1


def test_staff_can_check_the_balance_at_once_after_adding_points(
    client: Client, staff: Any, owner: Any, app_client: ProviderClient, simulator: Simulator
) -> None:
    usage.credits_note_exhausted()
    client.force_login(staff)
    page = client.get(reverse("videos:list")).content.decode()
    assert "Points added: check now" in page
    simulator.ledger.set_balance(0)
    response = client.post(reverse("usage:balance"), {"next": "/gallery/"}, follow=True)
    assert "still reports no points" in response.content.decode()
    assert response.redirect_chain[-1][0] == "/gallery/"
    assert UsagePolicy.current().out_of_points_since is not None
    simulator.ledger.set_balance(70_000)
    response = client.post(reverse("usage:balance"), {"next": "https://evil.example/"})
    assert response["Location"] == reverse("videos:list")  # never off-site
    assert UsagePolicy.current().out_of_points_since is None
    client.force_login(owner)
    assert client.post(reverse("usage:balance")).status_code == 302  # to the admin login
    assert "/admin/login/" in client.post(reverse("usage:balance"))["Location"]


# --- Budgets -------------------------------------------------------------------------------


def test_a_reservation_becomes_the_cost_or_is_released(
    owner: Any, app_client: ProviderClient, clock: FakeClock
) -> None:
    CatalogEntry.objects.filter(name="Sora-2").update(points_per_second=SORA_RATE)
    Budget.objects.create(user=owner, monthly_points=60_000)
    video = send(owner, app_client, seconds=8)
    assert video.reserved_points == 24_000
    assert usage.budget_state(owner).reserved == 24_000
    video = finish(video, app_client, clock)
    state = usage.budget_state(owner)
    assert (state.spent, state.reserved, state.remaining) == (24_000, 0, 36_000)

    failing = send(owner, app_client, prompt="boom [fail]", seconds=4)
    assert usage.budget_state(owner).reserved == 12_000
    failing = finish(failing, app_client, clock)
    assert (failing.cost_points, failing.cost_source) == (0, Video.Cost.NONE)
    state = usage.budget_state(owner)
    assert (state.spent, state.reserved) == (24_000, 0)


def test_a_submission_past_the_budget_is_refused_with_the_numbers(
    client: Client, owner: Any, recorder: Any
) -> None:
    CatalogEntry.objects.filter(name="Sora-2").update(points_per_second=SORA_RATE)
    UsagePolicy.current()
    UsagePolicy.objects.filter(pk=1).update(default_monthly_budget=30_000)
    a_video(owner=owner, cost_points=21_000, cost_source="reported")
    client.force_login(owner)
    assert (
        "9000 of your 30000-point budget left"
        in client.get(reverse("videos:list")).content.decode()
    )
    data = {"model": "Sora-2", "prompt": "too long", "seconds": "8", "size": "720x1280"}
    html = client.post(reverse("videos:new"), data, headers={"HX-Request": "true"}).content.decode()
    assert "cost about 24000 points" in html
    assert "21000 spent and 0 reserved of 30000 (remaining 9000)" in html
    assert recorder.requests == [] and Video.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_parallel_submissions_cannot_overspend(tmp_path: Path) -> None:
    # Eight requests at once, each on its own thread and database connection, to
    # one database (PostgreSQL, or SQLite on a file).
    owner = make_user("racer")
    CatalogEntry.objects.filter(name="Sora-2").update(points_per_second=SORA_RATE)
    Budget.objects.create(user=owner, monthly_points=60_000)  # room for 5 of 8 jobs
    simulator = Simulator(clock=FakeClock(), cache_dir=tmp_path, fps=4)
    connection._client = ProviderClient(
        base_url="http://s/v1", api_key="k", transport=simulator.transport()
    )
    statuses: list[int] = []
    barrier = threading.Barrier(8)

    def post(i: int) -> None:
        browser = Client()
        browser.force_login(owner)
        data = {"model": "Sora-2", "prompt": f"race {i}", "seconds": "4", "size": "720x1280"}
        barrier.wait()
        try:
            statuses.append(browser.post(reverse("videos:new"), data).status_code)
        finally:
            db_connection.close()

    try:
        threads = [threading.Thread(target=post, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        connection._client = None
    # 302: sent and on its way; 200: the form again, with the budget's refusal.
    assert sorted(statuses) == [200] * 3 + [302] * 5
    assert Video.objects.filter(owner=owner).count() == 5
    assert usage.budget_state(owner).reserved == 60_000


# --- Review --------------------------------------------------------------------------------


def test_the_review_is_for_staff_only(client: Client, owner: Any, staff: Any) -> None:
    url = reverse("usage:review")
    assert client.get(url).status_code == 302
    client.force_login(owner)
    response = client.get(url)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert client.get(url, {"export": "csv"}).status_code == 302
    client.force_login(staff)
    assert client.get(url).status_code == 200


def test_the_review_totals_chart_and_exports(client: Client, staff: Any, owner: Any) -> None:
    bob = make_user("bob")
    a_video(owner=owner, cost_points=4000, cost_source="reported")
    a_video(owner=owner, model="Veo-3", cost_points=2500, cost_source="estimated")
    failed = a_video(
        owner=bob, status=Video.Status.FAILED, cost_points=0, cost_source="none", provider_id=None
    )
    LedgerEntry.objects.create(
        query_id="q-1", created_at=failed.created_at, bot_name="Sora-2", cost_points=10
    )
    client.force_login(staff)
    url = reverse("usage:review")
    html = client.get(url).content.decode()
    assert "<svg" in html and "Points per day" in html
    member_table = html.split('id="per-member"')[1].split("</table>")[0]
    assert "olivia</td><td>6500</td><td>2500</td><td>2</td><td>0" in member_table

    summary = list(csv.reader(io.StringIO(client.get(url, {"export": "csv"}).content.decode())))
    assert summary[0] == ["group", "name", "points", "estimated points", "jobs", "failed"]
    assert ["member", "olivia", "6500", "2500", "2", "0"] in summary
    assert ["model", "Veo-3", "2500", "2500", "1", "0"] in summary

    ledger = client.get(url, {"tab": "ledger", "attributed": "no", "export": "csv"})
    rows = list(csv.reader(io.StringIO(ledger.content.decode())))
    assert rows[1][1:6] == ["q-1", "Sora-2", "", "10", "unattributed"]

    failures = client.get(url, {"tab": "failed"}).content.decode()
    assert "never sent" in failures and "bob" in failures
    jobs = client.get(url, {"tab": "jobs", "member": "olivia", "export": "csv"})
    assert len(list(csv.reader(io.StringIO(jobs.content.decode())))) == 3


def test_the_review_explains_bad_dates(client: Client, staff: Any) -> None:
    client.force_login(staff)
    html = client.get(
        reverse("usage:review"), {"start": "2026-05-02", "end": "2026-05-01"}
    ).content.decode()
    assert "The end date is before the start date." in html


def test_the_ledger_and_balance_are_read_on_a_schedule(app_client: ProviderClient) -> None:
    from django_q.models import Schedule

    from videostudio.usage import tasks

    funcs = set(Schedule.objects.values_list("func", flat=True))
    assert {
        "videostudio.usage.tasks.sync_ledger",
        "videostudio.usage.tasks.refresh_balance",
    } <= funcs
    app_client.create_video(model="Sora-2", prompt="direct", seconds=4)
    assert tasks.sync_ledger() == "1 charge read in 1 page, 1 new; 0 attributed to jobs"
    assert tasks.refresh_balance() == "balance 99988000 points"


def test_every_period_of_the_range_has_a_bar(owner: Any) -> None:
    from datetime import date

    from videostudio.usage.selectors import Scope, jobs, per_period

    def bars(start: date, period: str) -> list[tuple[date, int]]:
        scope = Scope(start=start, end=today, period=period)
        return per_period(jobs(scope), scope)

    a_video(owner=owner, cost_points=300, cost_source="reported")
    today = timezone.localdate()
    days = bars(today.replace(day=1), "day")
    assert len(days) == today.day and days[-1] == (today, 300)
    months = bars(date(today.year, 1, 1), "month")
    assert len(months) == today.month and months[-1][1] == 300
    weeks = bars(today, "week")
    assert weeks[0][0].weekday() == 0 and weeks[0][1] == 300
