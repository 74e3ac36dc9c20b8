"""The model catalog: data the admin controls, synced from the provider, driving the form."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from videostudio import connection
from videostudio.catalog.models import CatalogEntry
from videostudio.catalog.services import catalog_specs, catalog_sync
from videostudio.provider.client import ProviderClient
from videostudio.simulator.app import Simulator
from videostudio.videos import tracking
from videostudio.videos.models import Video

from .conftest import FakeClock

pytestmark = pytest.mark.django_db

TODAY = ["Sora-2", "Sora-2-Pro", "Veo-2", "Veo-3", "Veo-3-Fast", "Veo-3.1", "Veo-3.1-Fast"]


def sim_client(tmp_path: Path, **options: Any) -> ProviderClient:
    simulator = Simulator(clock=FakeClock(), cache_dir=tmp_path / "sim", **options)
    return ProviderClient(
        base_url="http://sim.test/v1",
        api_key="k",
        transport=simulator.transport(),
        sleep=lambda s: None,
    )


@pytest.fixture
def member(client: Client, owner: Any) -> Client:
    client.force_login(owner)
    return client


def test_a_fresh_install_offers_todays_models() -> None:
    specs = catalog_specs()
    assert [s.name for s in specs] == TODAY
    sora = specs[0]
    assert sora.durations == (4, 8, 12, 16, 20) and sora.default_seconds == 4
    assert sora.remix and sora.extend and sora.max_lineage_seconds == 120
    veo = specs[3]
    assert veo.durations == (4, 6, 8) and veo.default_seconds == 8
    assert not veo.remix and not veo.extend
    assert all(s.default_size == "720x1280" for s in specs)


def test_what_the_admin_changes_is_what_the_form_offers_and_checks(member: Client) -> None:
    CatalogEntry.objects.filter(name="Veo-3").update(durations="5, 8", default_seconds=5)
    CatalogEntry.objects.filter(name="Veo-2").update(enabled=False)
    html = member.get(reverse("videos:new"), {"model": "Veo-3"}).content.decode()
    assert '<option value="5" selected>' in html and 'value="6"' not in html
    assert 'value="Veo-2"' not in html

    data = {"model": "Veo-3", "prompt": "rain", "seconds": "6", "size": "720x1280"}
    response = member.post(reverse("videos:new"), data, headers={"HX-Request": "true"})
    assert "choose 5 or 8 seconds" in response.content.decode()
    data["model"] = "Veo-2"
    response = member.post(reverse("videos:new"), data, headers={"HX-Request": "true"})
    assert "“Veo-2” is not a model offered here now" in response.content.decode()
    assert Video.objects.count() == 0


def test_with_every_model_disabled_the_form_says_whom_to_ask(member: Client) -> None:
    CatalogEntry.objects.update(enabled=False)
    html = member.get(reverse("videos:new")).content.decode()
    assert "No model is available" in html and "<form id" not in html


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"durations": "4, eight"}, ["durations"]),
        ({"default_seconds": 12}, ["default_seconds"]),
        ({"sizes": "720x1280, big"}, ["sizes"]),
        ({"default_size": "1280x720", "sizes": "720x1280"}, ["default_size"]),
        ({"extend": True, "max_lineage_seconds": None}, ["max_lineage_seconds"]),
    ],
)
def test_the_admin_cannot_save_limits_that_contradict_themselves(
    fields: dict[str, Any], errors: list[str]
) -> None:
    entry = CatalogEntry.objects.get(name="Veo-3")
    for name, value in fields.items():
        setattr(entry, name, value)
    with pytest.raises(ValidationError) as raised:
        entry.full_clean()
    assert sorted(raised.value.message_dict) == errors


def test_limits_are_tidied_when_saved() -> None:
    entry = CatalogEntry.objects.get(name="Veo-3")
    entry.durations = "8,4 , 6,4"
    entry.full_clean()
    assert entry.durations == "4, 6, 8"


def test_sync_adds_new_video_models_disabled_and_retires_vanished_ones(tmp_path: Path) -> None:
    client = sim_client(tmp_path, models=["Sora-2", "Veo-3", "Sora-3"])
    report = catalog_sync(client=client)
    assert report.added == ["Sora-3"]
    assert sorted(report.retired) == sorted(set(TODAY) - {"Sora-2", "Veo-3"})

    new = CatalogEntry.objects.get(name="Sora-3")
    assert not new.enabled and new.source == CatalogEntry.Source.PROVIDER
    assert new.remix and new.extend  # guessed from its sibling Sora-2
    assert "check durations" in new.notes
    assert CatalogEntry.objects.count() == len(TODAY) + 1  # nothing deleted
    assert [s.name for s in catalog_specs()] == ["Sora-2", "Veo-3"]

    again = catalog_sync(client=client)
    assert (again.added, again.retired, again.returned) == ([], [], [])
    assert str(again) == "Catalog synced; no changes."

    everything = sim_client(tmp_path, models=[*TODAY, "Sora-3"])
    back = catalog_sync(client=everything)
    assert sorted(back.returned) == sorted(set(TODAY) - {"Sora-2", "Veo-3"})


def test_sync_leaves_the_catalog_alone_when_the_provider_lists_no_models(tmp_path: Path) -> None:
    report = catalog_sync(client=sim_client(tmp_path, models_endpoint=False))
    assert not report.listed
    assert "does not list" in str(report)
    assert CatalogEntry.objects.filter(retired_at__isnull=False).count() == 0


def test_a_listing_without_modalities_retires_but_adds_nothing() -> None:
    def listing(request: httpx.Request) -> httpx.Response:
        names = ["Sora-2", "Veo-3", "Some-Chat-Bot"]
        return httpx.Response(200, json={"data": [{"id": n, "object": "model"} for n in names]})

    client = ProviderClient(
        base_url="http://x.test/v1", api_key="k", transport=httpx.MockTransport(listing)
    )
    report = catalog_sync(client=client)
    assert report.added == []
    assert "Sora-2" not in report.retired and "Veo-2" in report.retired


def test_a_retired_models_old_videos_stay_viewable(member: Client, owner: Any) -> None:
    CatalogEntry.objects.filter(name="Veo-2").update(retired_at=timezone.now())
    video = Video.objects.create(
        owner=owner, model="Veo-2", prompt="old", seconds=8, size="720x1280"
    )
    html = member.get(reverse("videos:detail", args=[video.pk])).content.decode()
    assert "Veo-2" in html
    assert 'value="Veo-2"' not in member.get(reverse("videos:new")).content.decode()


def test_the_provider_refusing_a_model_tells_the_admin_what_to_do(
    member: Client, tmp_path: Path
) -> None:
    client = connection._client = sim_client(tmp_path, models=["Veo-3"])
    try:
        data = {"model": "Sora-2", "prompt": "a fox", "seconds": "4", "size": "720x1280"}
        member.post(reverse("videos:new"), data, headers={"HX-Request": "true"})
        tracking.videos_sweep(client=client, seconds=0)
    finally:
        connection._client = None
    video = Video.objects.get()
    assert video.status == Video.Status.FAILED and video.error_code == "unknown_model"
    html = member.get(reverse("videos:detail", args=[video.pk])).content.decode()
    assert "Sync from provider" in html and "Model catalog" in html
    assert "Sora-2" in CatalogEntry.objects.get(name="Sora-2").last_error


def test_the_catalog_admin_syncs_on_request_and_never_deletes(
    client: Client, staff: Any, owner: Any, tmp_path: Path
) -> None:
    changelist = reverse("admin:catalog_catalogentry_changelist")
    sync = reverse("admin:catalog_catalogentry_sync")
    client.force_login(owner)
    assert client.post(sync).status_code == 302  # members are sent to the admin login
    assert CatalogEntry.objects.filter(retired_at__isnull=False).count() == 0

    staff.is_superuser = True
    staff.save()
    client.force_login(staff)
    html = client.get(changelist).content.decode()
    assert "Sync from provider" in html
    assert client.get(sync).status_code == 405
    connection._client = sim_client(tmp_path, models=["Sora-2"])
    try:
        response = client.post(sync, follow=True)
    finally:
        connection._client = None
    assert "retired: " in response.content.decode()
    entry = CatalogEntry.objects.get(name="Veo-3")
    delete = reverse("admin:catalog_catalogentry_delete", args=[entry.pk])
    assert client.get(delete).status_code == 403


def test_the_catalog_is_synced_daily_and_on_demand(tmp_path: Path) -> None:
    from io import StringIO

    from django.core.management import call_command
    from django_q.models import Schedule

    schedule = Schedule.objects.get(func="videostudio.catalog.tasks.sync")
    assert schedule.schedule_type == Schedule.DAILY and schedule.repeats == -1

    connection._client = sim_client(tmp_path, models=[*TODAY, "Sora-3"])
    try:
        out = StringIO()
        call_command("sync_catalog", stdout=out)
        from videostudio.catalog import tasks

        again = tasks.sync()
    finally:
        connection._client = None
    assert "new, disabled until reviewed: Sora-3" in out.getvalue()
    assert again == "Catalog synced; no changes."
