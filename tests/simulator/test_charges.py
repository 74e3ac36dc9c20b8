"""The simulator prices like Poe and records charges the way the provider contract says."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from videostudio.simulator import CHARGE_AT_CHOICES, DEFAULT_STARTING_BALANCE, Simulator
from videostudio.simulator import catalog as sim_catalog
from videostudio.simulator.__main__ import build_parser
from videostudio.simulator.jobs import decode_id
from videostudio.simulator.ledger import HISTORY_DAYS

from ..conftest import FakeClock
from .kit import AUTH, assert_error, command_line, create

START = 1_790_000_000.0
QUEUE = 2.0
RENDER = 10.0
ENTRY_KEYS = {"query_id", "creation_time", "bot_name", "usage_type", "cost_points"}


@pytest.fixture
def sim_clock() -> FakeClock:
    return FakeClock(START)


def make_sim(clock: FakeClock, tmp_path: Path, **kwargs: Any) -> Simulator:
    options: dict[str, Any] = {
        "clock": clock,
        "queue_seconds": QUEUE,
        "render_seconds": RENDER,
        "cache_dir": tmp_path / "sim-cache",
        "fps": 4,
    }
    options.update(kwargs)
    return Simulator(**options)


def make_api(sim: Simulator) -> httpx.Client:
    return httpx.Client(
        transport=sim.transport(), base_url="http://simulator.test/v1", headers=AUTH
    )


@pytest.fixture(params=CHARGE_AT_CHOICES)
def charge_at(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


@pytest.fixture
def sim(sim_clock: FakeClock, tmp_path: Path, charge_at: str) -> Simulator:
    return make_sim(sim_clock, tmp_path, charge_at=charge_at)


@pytest.fixture
def api(sim: Simulator) -> Iterator[httpx.Client]:
    with make_api(sim) as client:
        yield client


def balance(api: httpx.Client) -> int:
    value: int = api.get("/usage/current_balance").json()["current_point_balance"]
    return value


def history(api: httpx.Client, **params: Any) -> dict[str, Any]:
    response = api.get("/usage/points_history", params=params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def entries(api: httpx.Client) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = history(api, limit=100)["data"]
    return data


def finished_us(video_id: str) -> int:
    job = decode_id(video_id)
    assert job is not None
    return job.finished_ms * 1000


def finish(clock: FakeClock) -> None:
    clock.advance(QUEUE + RENDER + 0.01)


def extend(api: httpx.Client, video_id: str, seconds: int, prompt: str = "more") -> Any:
    body = {"video": {"id": video_id}, "prompt": prompt, "seconds": seconds}
    return api.post("/videos/extensions", json=body)


# ----- prices -------------------------------------------------------------------------
def test_every_model_is_priced_like_the_real_provider() -> None:
    prices = {
        model.name: {size: model.points_per_second_for(size) for size in model.sizes}
        for model in sim_catalog.VIDEO_MODELS
    }

    assert prices["Sora-2"] == {"720x1280": 3000, "1280x720": 3000}
    assert prices["Sora-2-Pro"] == {
        "720x1280": 9000,
        "1280x720": 9000,
        "1024x1792": 15000,
        "1792x1024": 15000,
    }
    for name, price in {
        "Veo-2": 15000,
        "Veo-3": 12000,
        "Veo-3.1": 12000,
        "Veo-3-Fast": 4500,
        "Veo-3.1-Fast": 4500,
    }.items():
        assert prices[name] == {"720x1280": price, "1280x720": price}
    assert prices["Sora-3"] == {
        "720x1280": 6000,
        "1280x720": 6000,
        "1080x1920": 10000,
        "1920x1080": 10000,
    }


def test_a_price_depends_on_the_size_only_where_the_model_says_so() -> None:
    pro = sim_catalog.find_model("Sora-2-Pro")
    sora = sim_catalog.find_model("Sora-2")
    assert pro is not None and sora is not None

    # The shorter side decides, whatever the orientation; 1080p counts as large.
    assert pro.hd_points_per_second == 15000
    assert [pro.points_per_second_for(s) for s in ("1080x1920", "1920x1080")] == [15000] * 2
    assert sora.hd_points_per_second is None
    assert sora.points_per_second_for("1792x1024") == sora.points_per_second == 3000
    assert sim_catalog.is_large_size("1024x1792")
    assert not sim_catalog.is_large_size("1280x720")
    with pytest.raises(ValueError, match="WIDTHxHEIGHT"):
        sim_catalog.is_large_size("big")


def test_job_ids_keep_their_model_and_size_indexes() -> None:
    assert [m.name for m in sim_catalog.VIDEO_MODELS] == [
        "Sora-2",
        "Sora-2-Pro",
        "Veo-2",
        "Veo-3",
        "Veo-3-Fast",
        "Veo-3.1",
        "Veo-3.1-Fast",
        "Sora-3",
    ]
    assert sim_catalog.SIZES == (
        "720x1280",
        "1280x720",
        "1024x1792",
        "1792x1024",
        "1080x1920",
        "1920x1080",
    )


def test_sora_2_pro_charges_more_for_sizes_whose_shorter_side_is_1024_or_more(
    api: httpx.Client, sim_clock: FakeClock
) -> None:
    small = create(api, model="Sora-2-Pro", seconds=4, size="1280x720")
    sim_clock.advance(1)
    large = create(api, model="Sora-2-Pro", seconds=4, size="1024x1792")
    finish(sim_clock)

    assert balance(api) == DEFAULT_STARTING_BALANCE - 4 * 9000 - 4 * 15000
    assert [e["cost_points"] for e in entries(api)] == [4 * 15000, 4 * 9000]
    assert api.get(f"/videos/{small['id']}").json()["usage"] == {"cost_points": 36_000}
    assert api.get(f"/videos/{large['id']}").json()["usage"] == {"cost_points": 60_000}


def test_an_extension_pays_for_its_new_seconds_only_at_its_sizes_price(
    api: httpx.Client, sim_clock: FakeClock
) -> None:
    source = create(api, model="Sora-2-Pro", seconds=8, size="1792x1024")
    finish(sim_clock)
    before = balance(api)

    response = extend(api, source["id"], 4)
    assert response.status_code == 200, response.text
    extension = response.json()
    finish(sim_clock)

    assert extension["seconds"] == 12
    assert before - balance(api) == 4 * 15000
    newest = entries(api)[0]
    assert (newest["bot_name"], newest["cost_points"]) == ("Sora-2-Pro", 4 * 15000)
    done = api.get(f"/videos/{extension['id']}").json()
    assert done["usage"] == {"cost_points": 4 * 15000}


def test_a_remix_pays_for_the_whole_video_at_its_sources_size(
    api: httpx.Client, sim_clock: FakeClock
) -> None:
    source = create(api, model="Sora-2-Pro", seconds=8, size="1024x1792")
    before = balance(api)

    remix = api.post(f"/videos/{source['id']}/remix", json={"prompt": "Again"})
    assert remix.status_code == 200, remix.text

    assert before - balance(api) == 8 * 15000


# ----- balance ------------------------------------------------------------------------
def test_the_balance_starts_at_one_hundred_million_points(
    sim_clock: FakeClock, tmp_path: Path
) -> None:
    assert DEFAULT_STARTING_BALANCE == 100_000_000
    with make_api(make_sim(sim_clock, tmp_path)) as api:
        assert balance(api) == 100_000_000
        assert entries(api) == []


# ----- failures -----------------------------------------------------------------------
def test_a_failed_job_is_never_charged(api: httpx.Client, sim_clock: FakeClock) -> None:
    source = create(api, model="Sora-2", seconds=8)
    finish(sim_clock)
    before = balance(api)
    charges = entries(api)

    failed = [
        create(api, model="Veo-3", prompt="A storm [fail]"),
        api.post(f"/videos/{source['id']}/remix", json={"prompt": "[FAIL] again"}).json(),
        extend(api, source["id"], 4, prompt="It breaks [fail]").json(),
    ]
    assert balance(api) == before
    finish(sim_clock)
    sim_clock.advance(3600)

    for video in failed:
        done = api.get(f"/videos/{video['id']}").json()
        assert done["status"] == "failed"
        assert done["usage"] is None  # a failed video reports no cost
    assert balance(api) == before
    assert entries(api) == charges


def test_a_failing_prompt_is_still_refused_with_402_when_the_balance_is_zero(
    sim_clock: FakeClock, tmp_path: Path, charge_at: str
) -> None:
    sim = make_sim(sim_clock, tmp_path, starting_balance=0, charge_at=charge_at)
    with make_api(sim) as api:
        response = api.post("/videos", json={"model": "Veo-3", "prompt": "x [fail]"})
        assert_error(response, 402, "insufficient_credits")
        assert (balance(api), entries(api)) == (0, [])


def test_a_failing_prompt_is_refused_like_any_job_when_the_balance_cannot_cover_it(
    sim_clock: FakeClock, tmp_path: Path
) -> None:
    # A provider cannot know at send time that a render will fail.
    sim = make_sim(sim_clock, tmp_path, starting_balance=20_000)
    with make_api(sim) as api:
        body = {"model": "Sora-2", "prompt": "[fail]", "seconds": 8}  # 24,000 points
        assert_error(api.post("/videos", json=body), 402, "insufficient_credits")
        accepted = api.post("/videos", json={**body, "seconds": 4})  # 12,000 points
        assert accepted.status_code == 200, accepted.text
        assert (balance(api), entries(api)) == (20_000, [])


# ----- charge_at ----------------------------------------------------------------------
def test_charges_are_stamped_at_send_by_default(sim_clock: FakeClock, tmp_path: Path) -> None:
    sim = make_sim(sim_clock, tmp_path)
    assert sim.charge_at == "send"
    with make_api(sim) as api:
        sim_clock.advance(0.25)
        create(api, model="Veo-3", seconds=4)

        [entry] = entries(api)
        assert set(entry) == ENTRY_KEYS
        assert entry["creation_time"] == int((START + 0.25) * 1_000_000)
        assert (entry["bot_name"], entry["usage_type"], entry["cost_points"]) == (
            "Veo-3",
            "API",
            4 * 12000,
        )


def test_a_charge_is_in_the_history_at_the_instant_it_was_made(tmp_path: Path) -> None:
    # At this reading int(now * 1e6) / 1e6 > now: truncating alone stamped the entry
    # a hair in the future, and a clock that stood still never showed it.
    at = 1790000307.3211179
    sim = make_sim(FakeClock(at), tmp_path)
    with make_api(sim) as api:
        create(api, model="Veo-3", seconds=4)

        [entry] = entries(api)
    assert entry["creation_time"] == 1790000307321117


def test_with_charge_at_completion_the_entry_is_hidden_until_the_job_completes(
    sim_clock: FakeClock, tmp_path: Path
) -> None:
    sim = make_sim(sim_clock, tmp_path, charge_at="completion")
    with make_api(sim) as api:
        video = create(api, model="Sora-2", seconds=8)

        assert balance(api) == DEFAULT_STARTING_BALANCE - 8 * 3000  # held at once
        assert history(api) == {"has_more": False, "length": 0, "data": []}

        sim_clock.advance(QUEUE + RENDER - 0.001)
        assert api.get(f"/videos/{video['id']}").json()["status"] == "in_progress"
        assert entries(api) == []

        sim_clock.now = START + QUEUE + RENDER  # exactly the completion time
        assert api.get(f"/videos/{video['id']}").json()["status"] == "completed"
        [entry] = entries(api)
        assert set(entry) == ENTRY_KEYS
        assert entry["creation_time"] == finished_us(video["id"])
        assert entry["creation_time"] == int((START + QUEUE + RENDER) * 1_000_000)
        assert (entry["bot_name"], entry["usage_type"], entry["cost_points"]) == (
            "Sora-2",
            "API",
            8 * 3000,
        )
        assert balance(api) == DEFAULT_STARTING_BALANCE - 8 * 3000


def test_charge_at_can_be_changed_at_run_time(sim_clock: FakeClock, tmp_path: Path) -> None:
    sim = make_sim(sim_clock, tmp_path)
    with make_api(sim) as api:
        create(api, model="Veo-3")
        sim.charge_at = "completion"
        create(api, model="Veo-3")
        assert len(entries(api)) == 1
        finish(sim_clock)
        assert len(entries(api)) == 2


@pytest.mark.parametrize("value", ["later", "SEND", "", None])
def test_an_unknown_charge_at_is_a_value_error(
    sim_clock: FakeClock, tmp_path: Path, value: Any
) -> None:
    with pytest.raises(ValueError, match="charge_at"):
        make_sim(sim_clock, tmp_path, charge_at=value)
    sim = make_sim(sim_clock, tmp_path)
    with pytest.raises(ValueError, match="charge_at"):
        sim.charge_at = value
    assert sim.charge_at == "send"


# ----- the history's order and cursor ---------------------------------------------------
def test_the_history_is_newest_first_with_ties_in_reverse_order_of_charging(
    api: httpx.Client, sim_clock: FakeClock
) -> None:
    # Sent at one instant: one stamp (send or completion alike) for all three.
    made = [create(api, model=m, seconds=4) for m in ("Veo-3", "Veo-2", "Veo-3-Fast")]
    finish(sim_clock)

    seen = []
    cursor = None
    for _ in range(3):
        params: dict[str, Any] = {"limit": 1}
        if cursor:
            params["starting_after"] = cursor
        page = history(api, **params)
        seen.extend(page["data"])
        cursor = page["data"][-1]["query_id"]
    assert page["has_more"] is False

    assert [e["bot_name"] for e in seen] == ["Veo-3-Fast", "Veo-2", "Veo-3"]
    assert len({e["creation_time"] for e in seen}) == 1
    assert seen == entries(api)  # the same order every time
    assert len(made) == len({e["query_id"] for e in seen})


def test_a_cursor_keeps_working_while_entries_stamped_later_become_visible(
    sim_clock: FakeClock, tmp_path: Path
) -> None:
    sim = make_sim(sim_clock, tmp_path, charge_at="completion")
    with make_api(sim) as api:
        sim.render_seconds = 100
        slow = create(api, model="Veo-2", seconds=4)  # completes at START + 102
        sim_clock.advance(1)
        sim.render_seconds = 10
        quick = [create(api, model="Veo-3", seconds=s) for s in (4, 6, 8)]  # at START + 13
        sim_clock.advance(15)

        first = history(api, limit=2)
        assert [e["cost_points"] for e in first["data"]] == [8 * 12000, 6 * 12000]
        assert first["has_more"] is True

        sim_clock.advance(100)  # the slow job completes: its charge shows, newest of all
        rest = history(api, limit=2, starting_after=first["data"][-1]["query_id"])
        assert [e["cost_points"] for e in rest["data"]] == [4 * 12000]
        assert rest["has_more"] is False

        fresh = entries(api)
        assert [e["bot_name"] for e in fresh] == ["Veo-2", "Veo-3", "Veo-3", "Veo-3"]
        assert fresh[0]["creation_time"] == finished_us(slow["id"])
        assert [e["creation_time"] for e in fresh[1:]] == [finished_us(v["id"]) for v in quick]
        # Paging from the top again meets every entry once, the late one included.
        paged = history(api, limit=3)["data"]
        paged += history(api, limit=3, starting_after=paged[-1]["query_id"])["data"]
        assert paged == fresh


def test_a_sent_charge_sorts_among_charges_stamped_at_completion(
    sim_clock: FakeClock, tmp_path: Path
) -> None:
    """A demo whose processes disagree about charge_at still has one ordered bill."""
    path = tmp_path / "ledger.jsonl"
    web = make_sim(sim_clock, tmp_path, ledger_path=path, charge_at="completion")
    worker = make_sim(sim_clock, tmp_path, ledger_path=path)
    with make_api(web) as web_api, make_api(worker) as worker_api:
        create(web_api, model="Veo-2")  # stamped START + 12
        sim_clock.advance(5)
        create(worker_api, model="Veo-3")  # stamped START + 5
        assert [e["bot_name"] for e in entries(worker_api)] == ["Veo-3"]
        sim_clock.advance(10)
        assert [e["bot_name"] for e in entries(web_api)] == ["Veo-2", "Veo-3"]


def test_charges_older_than_30_days_drop_out_of_the_history(
    api: httpx.Client, sim_clock: FakeClock
) -> None:
    days = HISTORY_DAYS * 86400
    create(api, model="Veo-3")  # stamped START (send) or START + 12 (completion)
    sim_clock.now = START + days - 1 - QUEUE - RENDER
    create(api, model="Veo-2")
    finish(sim_clock)
    assert [e["bot_name"] for e in entries(api)] == ["Veo-2", "Veo-3"]

    sim_clock.now = START + days + QUEUE + RENDER + 1
    assert [e["bot_name"] for e in entries(api)] == ["Veo-2"]
    assert balance(api) == DEFAULT_STARTING_BALANCE - 8 * 12000 - 8 * 15000


# ----- a shared ledger file -------------------------------------------------------------
def test_simulators_sharing_a_ledger_file_hold_at_once_and_show_at_completion(
    sim_clock: FakeClock, tmp_path: Path
) -> None:
    path = tmp_path / "ledger.jsonl"
    web = make_sim(sim_clock, tmp_path / "web", ledger_path=path, charge_at="completion")
    worker = make_sim(sim_clock, tmp_path / "worker", ledger_path=path, charge_at="completion")
    with make_api(web) as web_api, make_api(worker) as worker_api:
        video = create(web_api, model="Sora-2", seconds=4)

        assert balance(worker_api) == balance(web_api) == DEFAULT_STARTING_BALANCE - 12_000
        assert entries(worker_api) == []
        finish(sim_clock)
        [entry] = entries(worker_api)
        assert entry == entries(web_api)[0]
        assert entry["creation_time"] == finished_us(video["id"])

    [line] = path.read_text().splitlines()
    assert json.loads(line)["creation_time"] == finished_us(video["id"])


def test_a_charge_made_in_another_process_shows_at_its_completion_time(
    sim_clock: FakeClock, tmp_path: Path
) -> None:
    path = tmp_path / "ledger.jsonl"
    script = f"""
import httpx
from pathlib import Path
from videostudio.simulator import Simulator

sim = Simulator(
    clock=lambda: {START!r}, queue_seconds={QUEUE!r}, render_seconds={RENDER!r},
    cache_dir=Path({str(tmp_path / "other")!r}), ledger_path=Path({str(path)!r}),
    charge_at="completion",
)
with httpx.Client(transport=sim.transport(), base_url="http://sim/v1") as api:
    response = api.post(
        "/videos", json={{"model": "Veo-3", "prompt": "elsewhere", "seconds": 4}},
        headers={{"Authorization": "Bearer k"}},
    )
    print(response.json()["id"])
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    video_id = done.stdout.strip()

    here = make_sim(sim_clock, tmp_path / "here", ledger_path=path, charge_at="completion")
    with make_api(here) as api:
        assert balance(api) == DEFAULT_STARTING_BALANCE - 4 * 12000
        assert entries(api) == []
        finish(sim_clock)
        [entry] = entries(api)
        assert (entry["bot_name"], entry["cost_points"]) == ("Veo-3", 4 * 12000)
        assert entry["creation_time"] == finished_us(video_id)


# ----- the command line -----------------------------------------------------------------
def test_the_command_line_reads_charge_at(capsys: pytest.CaptureFixture[str]) -> None:
    assert build_parser().parse_args([]).charge_at == "send"
    for value in CHARGE_AT_CHOICES:
        assert build_parser().parse_args(["--charge-at", value]).charge_at == value
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["--charge-at", "later"])
    assert exit_info.value.code == 2
    assert "--charge-at" in capsys.readouterr().err


def test_the_command_line_serves_with_charge_at_completion() -> None:
    options = ("--charge-at", "completion", "--render-seconds", "600")
    with command_line(*options) as url, httpx.Client(base_url=url, headers=AUTH) as api:
        create(api, model="Veo-3-Fast", seconds=4)
        assert balance(api) == DEFAULT_STARTING_BALANCE - 4 * 4500
        assert entries(api) == []
