"""The simulator as a strict provider: one rate limit for the team's key, and counters."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from videostudio.simulator import DEFAULT_STARTING_BALANCE, Simulator
from videostudio.simulator.__main__ import build_parser, main
from videostudio.simulator.stats import KINDS, OUTCOMES

from ..conftest import FakeClock
from .kit import (
    AUTH,
    assert_error,
    command_line,
    create,
    finish,
    make_api,
    make_sim,
    over_http,
)

STATS_URL = "http://simulator.test/_simulator/stats"


def balance_statuses(api: httpx.Client, count: int) -> list[int]:
    return [api.get("/usage/current_balance").status_code for _ in range(count)]


# ----- the bucket ---------------------------------------------------------------------
def test_a_burst_passes_at_once_then_rate_per_minute_over_60_a_second(
    sim_clock: FakeClock, cache_dir: Path
) -> None:
    sim = make_sim(sim_clock, cache_dir, rate_per_minute=120, burst=5)
    with make_api(sim) as api:
        assert balance_statuses(api, 6) == [200] * 5 + [429]

        sim_clock.advance(0.5)  # 120 a minute: a token every half second
        assert balance_statuses(api, 2) == [200, 429]

        sim_clock.advance(2.0)
        assert balance_statuses(api, 5) == [200] * 4 + [429]

        sim_clock.advance(3600)  # an idle hour refills the bucket, never beyond the burst
        assert balance_statuses(api, 6) == [200] * 5 + [429]


def test_the_burst_is_the_rate_unless_told(sim_clock: FakeClock, cache_dir: Path) -> None:
    sim = make_sim(sim_clock, cache_dir, rate_per_minute=4)
    assert sim.rate_limit is not None
    assert (sim.rate_limit.rate_per_minute, sim.rate_limit.burst) == (4, 4)
    with make_api(sim) as api:
        assert balance_statuses(api, 5) == [200] * 4 + [429]


def test_a_429_says_in_whole_seconds_when_a_token_is_back(
    sim_clock: FakeClock, cache_dir: Path
) -> None:
    sim = make_sim(sim_clock, cache_dir, rate_per_minute=20, burst=1)  # a token every 3 s
    with make_api(sim) as api:
        assert api.get("/models").status_code == 200
        waits = []
        for step in (0.0, 0.5, 2.0, 0.4):
            sim_clock.advance(step)
            response = api.get("/models")
            assert_error(response, 429, "rate_limit_error")
            waits.append(response.headers["Retry-After"])
        assert waits == ["3", "3", "1", "1"]  # 3, 2.5, 0.5, 0.1 s: rounded up, at least 1

        sim_clock.advance(0.1)
        assert api.get("/models").status_code == 200


def test_a_throttled_create_makes_and_charges_nothing(
    sim_clock: FakeClock, cache_dir: Path
) -> None:
    sim = make_sim(sim_clock, cache_dir, rate_per_minute=60, burst=1, list_endpoint=True)
    with make_api(sim) as api:
        create(api, model="Sora-2", seconds=4)
        refused = api.post("/videos", json={"model": "Sora-2", "prompt": "Again", "seconds": 4})
        assert_error(refused, 429, "rate_limit_error")

        assert sim.ledger.balance == DEFAULT_STARTING_BALANCE - 4 * 3000
        assert len(sim.ledger.history(limit=10, starting_after=None)["data"]) == 1
        sim_clock.advance(1)
        assert len(api.get("/videos").json()["data"]) == 1


def test_every_authenticated_request_spends_a_token(sim_clock: FakeClock, cache_dir: Path) -> None:
    # One token a minute, so the render's 12 s give back a fifth of one, no more.
    sim = make_sim(sim_clock, cache_dir, rate_per_minute=1, burst=8, list_endpoint=True)
    with make_api(sim) as api:
        video_id = create(api, model="Sora-2", seconds=4)["id"]
        finish(sim_clock)
        answers = [
            api.get(f"/videos/{video_id}"),
            api.get(f"/videos/{video_id}/content", params={"variant": "thumbnail"}),
            api.post(f"/videos/{video_id}/remix", json={"prompt": "Again"}),
            api.post("/videos/extensions", json={"video": {"id": video_id}, "prompt": "On"}),
            api.get("/videos"),
            api.get("/models"),
            api.get("/usage/current_balance"),
        ]
        assert [r.status_code for r in answers] == [200] * 7
        for refused in (api.get("/usage/points_history"), api.get("/no/such/endpoint")):
            assert_error(refused, 429, "rate_limit_error")
    assert sim.stats()["throttled"] == 2


def test_requests_refused_before_the_limit_spend_no_token(
    sim_clock: FakeClock, cache_dir: Path
) -> None:
    sim = make_sim(sim_clock, cache_dir, rate_per_minute=60, burst=1)
    with make_api(sim, headers={}) as anonymous:
        for _ in range(3):
            assert_error(anonymous.get("/usage/current_balance"), 401, "authentication_error")
    sim.inject_error(503, count=2, path_contains="/usage")
    with make_api(sim) as api:
        assert balance_statuses(api, 4) == [503, 503, 200, 429]


def test_threads_and_sockets_share_one_bucket(sim_clock: FakeClock, cache_dir: Path) -> None:
    sim = make_sim(sim_clock, cache_dir, rate_per_minute=60, burst=20)
    with over_http(sim) as api, ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda _: api.get("/models").status_code, range(40)))

    assert sorted(statuses) == [200] * 20 + [429] * 20
    assert sim.stats()["throttled"] == 20


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"rate_per_minute": 0}, "rate_per_minute must be at least 1"),
        ({"rate_per_minute": 60, "burst": 0}, "burst must be at least 1"),
        ({"burst": 5}, "burst needs rate_per_minute"),
    ],
)
def test_it_refuses_a_rate_or_burst_it_cannot_keep(
    sim_clock: FakeClock, cache_dir: Path, options: dict[str, int], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        make_sim(sim_clock, cache_dir, **options)


# ----- the counters -------------------------------------------------------------------
def test_it_counts_requests_by_kind_and_what_it_refused(
    sim_clock: FakeClock, cache_dir: Path
) -> None:
    # One token a minute: the 13th and 14th requests that reach the bucket find it empty.
    sim = make_sim(sim_clock, cache_dir, rate_per_minute=1, burst=12)
    with make_api(sim) as api:
        video_id = create(api, model="Sora-2", seconds=4)["id"]
        finish(sim_clock)
        api.get(f"/videos/{video_id}")
        sim.inject_error(500, path_contains="/videos/video_")
        api.get(f"/videos/{video_id}")
        sim.inject_cut(after_bytes=10)
        api.get(f"/videos/{video_id}/content", params={"variant": "thumbnail"})
        api.post(f"/videos/{video_id}/remix", json={"prompt": "Again"})
        api.post("/videos/extensions", json={"video": {"id": video_id}, "prompt": "On"})
        api.get("/videos")  # no list endpoint here: a 404, still a request to list
        api.get("/models")
        api.get("/usage/current_balance")
        api.get("/usage/points_history")
        api.get("/no/such/endpoint")
        api.delete("/videos")
        for _ in range(3):
            api.get("/usage/current_balance")

    assert sim.stats() == {
        "create": 1,
        "remix": 1,
        "extend": 1,
        "retrieve": 2,
        "list": 1,
        "content": 1,
        "models": 1,
        "usage": 5,
        "other": 2,
        "throttled": 2,
        "injected": 1,
        "cut": 1,
        "burst": 0,
        "slowed": 0,
        "malformed": 0,
        "total": 15,
    }


def test_the_stats_endpoint_needs_no_key_spends_no_token_and_counts_nothing(
    sim_clock: FakeClock, cache_dir: Path
) -> None:
    sim = make_sim(sim_clock, cache_dir, rate_per_minute=60, burst=1)
    with make_api(sim) as api, make_api(sim, headers={}) as anonymous:
        assert api.get("/models").status_code == 200
        for _ in range(3):
            response = anonymous.get(STATS_URL)
            assert response.status_code == 200
            assert response.json()["models"] == 1
            assert response.json()["total"] == 1

        assert anonymous.get(STATS_URL, params={"reset": "1"}).json()["total"] == 1
        assert set(sim.stats().values()) == {0}
        assert set(sim.stats()) == {*KINDS, *OUTCOMES, "total"}
        assert_error(anonymous.post(STATS_URL), 405, "invalid_request_error")
        assert_error(api.get("/models"), 429, "rate_limit_error")  # the stats spent no token


def test_a_reset_returns_what_it_zeroed(api: httpx.Client, sim: Simulator) -> None:
    api.get("/models")
    api.get("/models")

    assert sim.stats(reset=True)["models"] == 2
    assert sim.stats()["models"] == 0


# ----- the command line ---------------------------------------------------------------
def test_it_takes_the_rate_limit_and_the_new_switches_on_the_command_line() -> None:
    options = ("--rate-per-minute", "2", "--burst", "3", "--list-endpoint", "--stock-media")
    with command_line(*options) as url, httpx.Client(base_url=url, headers=AUTH) as api:
        listing = api.get("/videos")
        assert (listing.status_code, listing.json()["data"]) == (200, [])
        assert create(api, model="Veo-3")["model"] == "Veo-3"
        assert api.get("/models").status_code == 200
        throttled = api.get("/models")
        assert_error(throttled, 429, "rate_limit_error")
        # A token every 30 s; real time runs on between the requests.
        assert 25 <= int(throttled.headers["Retry-After"]) <= 30
        stats = httpx.get(url.removesuffix("/v1") + "/_simulator/stats").json()
        assert (stats["list"], stats["create"], stats["throttled"]) == (1, 1, 1)


def test_its_command_line_keeps_the_old_behaviour_by_default() -> None:
    args = build_parser().parse_args([])
    assert (args.rate_per_minute, args.burst, args.stock_media, args.list_endpoint) == (
        None,
        None,
        False,
        False,
    )


@pytest.mark.parametrize(
    "argv",
    [["--burst", "5"], ["--rate-per-minute", "0"], ["--rate-per-minute", "x"], ["--burst", "-1"]],
)
def test_it_rejects_a_rate_limit_it_cannot_keep_on_the_command_line(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert "error" in capsys.readouterr().err
