"""The simulator as a service: dialects, statelessness, catalog and usage, a real socket."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from videostudio.simulator import DEFAULT_STARTING_BALANCE, Simulator, serve
from videostudio.simulator import catalog as sim_catalog
from videostudio.simulator.__main__ import Injection, build_parser

from ..conftest import FakeClock
from .kit import (
    AUTH,
    QUEUE,
    RENDER,
    START,
    assert_error,
    command_line,
    create,
    finish,
    make_api,
    make_sim,
    over_http,
    png,
)


# ----- dialects and statelessness ----------------------------------------------------
def test_it_speaks_the_openai_dialect(sim_clock: FakeClock, cache_dir: Path) -> None:
    sim = make_sim(sim_clock, cache_dir, dialect="openai")
    with make_api(sim) as api:
        video = create(api, model="Sora-2", seconds=8)
        assert video["status"] == "pending"
        assert video["seconds"] == "8"
        assert "quality" in video  # an extra field clients must ignore
        finish(sim_clock)
        done = api.get(f"/videos/{video['id']}").json()
        assert (done["status"], done["seconds"]) == ("completed", "8")


def test_it_agrees_with_another_instance_about_one_job(
    sim_clock: FakeClock, tmp_path: Path
) -> None:
    web = make_sim(sim_clock, tmp_path / "web")
    worker = make_sim(sim_clock, tmp_path / "worker")
    with make_api(web) as web_api, make_api(worker) as worker_api:
        video = create(web_api, prompt="Shared")
        for step in (0.0, QUEUE + 1, RENDER):
            sim_clock.advance(step)
            assert worker_api.get(f"/videos/{video['id']}").json() == (
                web_api.get(f"/videos/{video['id']}").json()
            )
        response = worker_api.get(f"/videos/{video['id']}/content", params={"variant": "thumbnail"})
        assert response.status_code == 200


# ----- catalog and usage -------------------------------------------------------------
def test_it_lists_the_video_models_and_some_others(api: httpx.Client) -> None:
    listing = api.get("/models").json()

    assert listing["object"] == "list"
    video = [
        m["id"] for m in listing["data"] if m["architecture"]["output_modalities"] == ["video"]
    ]
    assert video == [
        "Sora-2",
        "Sora-2-Pro",
        "Veo-2",
        "Veo-3",
        "Veo-3-Fast",
        "Veo-3.1",
        "Veo-3.1-Fast",
    ]
    assert len(listing["data"]) > len(video)
    assert all({"id", "object", "created", "owned_by"} <= set(m) for m in listing["data"])


def video_model_ids(api: httpx.Client) -> list[str]:
    listing = api.get("/models").json()["data"]
    return [m["id"] for m in listing if m["architecture"]["output_modalities"] == ["video"]]


def assert_model_not_available(response: httpx.Response, name: str) -> None:
    error = assert_error(response, 404, "not_found", {"param": "model"})
    assert error["message"] == f"Model '{name}' does not exist or is not available"


def test_it_describes_each_model_in_the_listing(api: httpx.Client) -> None:
    sora = next(m for m in api.get("/models").json()["data"] if m["id"] == "Sora-2")

    assert sora["owned_by"] == "openai"
    assert isinstance(sora["created"], int)
    assert "remix" in sora["description"]
    assert "20 seconds" in sora["description"]
    assert sora["architecture"]["modality"] == "text,image->video"


def test_it_does_not_offer_tomorrows_model_by_default(api: httpx.Client, sim: Simulator) -> None:
    assert sim.models == sim_catalog.DEFAULT_MODELS
    assert "Sora-3" not in video_model_ids(api)
    assert sim_catalog.VIDEO_MODELS[-1].name == "Sora-3"  # appended: old ids keep their model

    assert_model_not_available(
        api.post("/videos", json={"model": "sora-3", "prompt": "x"}), "sora-3"
    )
    assert_model_not_available(
        api.post("/videos", json={"model": "Dall-E-9", "prompt": "x"}), "Dall-E-9"
    )
    assert sim.ledger.balance == DEFAULT_STARTING_BALANCE


def test_it_offers_only_the_models_it_is_given(sim_clock: FakeClock, cache_dir: Path) -> None:
    sim = make_sim(sim_clock, cache_dir, models=["sora-3", "VEO-3", "Veo-3"])
    with make_api(sim) as api:
        assert sim.models == ("Veo-3", "Sora-3")
        assert video_model_ids(api) == ["Veo-3", "Sora-3"]
        assert "Claude-Sonnet-4.5" in [m["id"] for m in api.get("/models").json()["data"]]

        video = create(api, model="Sora-3", seconds=25, size="1920x1080")
        assert (video["model"], video["seconds"], video["size"]) == ("Sora-3", 25, "1920x1080")
        assert api.get(f"/videos/{video['id']}").json()["size"] == "1920x1080"
        assert create(api, model="Sora-3")["seconds"] == 4
        too_big = {"model": "Sora-3", "prompt": "x", "size": "1792x1024"}
        assert_error(api.post("/videos", json=too_big), 400, "invalid_request_error")
        finish(sim_clock)
        remix = api.post(f"/videos/{video['id']}/remix", json={"prompt": "Again"})
        assert remix.json()["model"] == "Sora-3"

        sora2 = api.post("/videos", json={"model": "Sora-2", "prompt": "x"})
        assert_model_not_available(sora2, "Sora-2")


def test_it_keeps_todays_sizes_and_durations_for_todays_models(api: httpx.Client) -> None:
    cases: list[tuple[str, dict[str, Any]]] = [
        ("Sora-2", {"seconds": 25}),
        ("Sora-2-Pro", {"size": "1920x1080"}),
        ("Veo-3", {"size": "1080x1920"}),
    ]
    for model, body in cases:
        response = api.post("/videos", json={"model": model, "prompt": "x", **body})
        assert_error(response, 400, "invalid_request_error")


def test_it_still_shows_old_videos_of_a_withdrawn_model(
    api: httpx.Client, sim: Simulator, sim_clock: FakeClock
) -> None:
    video_id = create(api, model="Sora-2", seconds=4)["id"]
    finish(sim_clock)

    sim.models = ["Veo-3"]

    assert video_model_ids(api) == ["Veo-3"]
    assert api.get(f"/videos/{video_id}").json()["status"] == "completed"
    thumbnail = api.get(f"/videos/{video_id}/content", params={"variant": "thumbnail"})
    assert thumbnail.status_code == 200
    remix = api.post(f"/videos/{video_id}/remix", json={"prompt": "x"})
    assert_model_not_available(remix, "Sora-2")
    extension = api.post("/videos/extensions", json={"video": {"id": video_id}, "prompt": "x"})
    assert_model_not_available(extension, "Sora-2")
    assert_model_not_available(
        api.post("/videos", json={"model": "Sora-2", "prompt": "x"}), "Sora-2"
    )

    sim.models = sim_catalog.DEFAULT_MODELS
    assert api.post(f"/videos/{video_id}/remix", json={"prompt": "x"}).status_code == 200


def test_it_can_offer_no_video_model_at_all(sim_clock: FakeClock, cache_dir: Path) -> None:
    with make_api(make_sim(sim_clock, cache_dir, models=[])) as api:
        assert video_model_ids(api) == []
        assert_model_not_available(
            api.post("/videos", json={"model": "Veo-3", "prompt": "x"}), "Veo-3"
        )


def test_it_refuses_to_offer_a_model_it_does_not_know(
    sim_clock: FakeClock, cache_dir: Path
) -> None:
    with pytest.raises(ValueError, match="Sora-9"):
        make_sim(sim_clock, cache_dir, models=["Sora-2", "Sora-9"])
    with pytest.raises(TypeError):
        make_sim(sim_clock, cache_dir, models="Sora-2")


def test_it_can_play_a_provider_without_a_models_endpoint(
    sim_clock: FakeClock, cache_dir: Path
) -> None:
    with make_api(make_sim(sim_clock, cache_dir, models_endpoint=False)) as api:
        assert_error(api.get("/models"), 404, "not_found")
        assert create(api, model="Veo-3")["status"] == "queued"
        assert api.get("/usage/current_balance").status_code == 200


def test_it_charges_points_and_pages_through_history_newest_first(
    api: httpx.Client, sim_clock: FakeClock
) -> None:
    for seconds in (4, 8, 12, 16, 20):
        create(api, model="Sora-2", seconds=seconds)
        sim_clock.advance(1)

    spent = (4 + 8 + 12 + 16 + 20) * 3000
    assert api.get("/usage/current_balance").json() == {
        "current_point_balance": DEFAULT_STARTING_BALANCE - spent
    }
    assert api.get("/usage/current_balance").json() == (
        api.get("http://simulator.test/usage/current_balance").json()
    )

    first = api.get("/usage/points_history", params={"limit": 2}).json()
    assert (first["has_more"], first["length"]) == (True, 2)
    assert [e["cost_points"] for e in first["data"]] == [60_000, 48_000]
    entry = first["data"][0]
    assert entry["bot_name"] == "Sora-2"
    assert entry["usage_type"] == "API"
    assert entry["creation_time"] == int((START + 4) * 1_000_000)

    cursor = first["data"][-1]["query_id"]
    second = api.get("/usage/points_history", params={"limit": 2, "starting_after": cursor})
    assert [e["cost_points"] for e in second.json()["data"]] == [36_000, 24_000]
    cursor = second.json()["data"][-1]["query_id"]
    last = api.get("/usage/points_history", params={"limit": 2, "starting_after": cursor}).json()
    assert (last["has_more"], last["length"]) == (False, 1)

    for params in ({"limit": 0}, {"limit": 101}, {"limit": "x"}, {"starting_after": "q_nope"}):
        response = api.get("/usage/points_history", params=params)
        assert_error(response, 400, "invalid_request_error")


def test_it_answers_402_once_the_balance_cannot_pay(sim_clock: FakeClock, cache_dir: Path) -> None:
    sim = make_sim(sim_clock, cache_dir, starting_balance=15_000)
    with make_api(sim) as api:
        create(api, model="Sora-2", seconds=4)  # 12,000 points
        response = api.post("/videos", json={"model": "Sora-2", "prompt": "x", "seconds": 4})
        assert_error(response, 402, "insufficient_credits")
        assert api.get("/usage/current_balance").json()["current_point_balance"] == 3000


# ----- over a real socket ------------------------------------------------------------
def test_it_serves_over_real_http_on_a_loopback_port(sim_clock: FakeClock, cache_dir: Path) -> None:
    server, thread = serve("127.0.0.1", 0, app=make_sim(sim_clock, cache_dir))
    try:
        assert server.port != 0
        assert server.url == f"http://127.0.0.1:{server.port}/v1"
        with httpx.Client(base_url=server.url, headers=AUTH, timeout=10) as api:
            video = create(api, prompt="Over the wire")
            finish(sim_clock)
            response = api.get(f"/videos/{video['id']}/content", params={"variant": "spritesheet"})
            assert response.status_code == 200
            assert int(response.headers["Content-Length"]) == len(response.content)
            assert_error(api.get("/videos/video_nope"), 404, "not_found")
            multipart = api.post(
                "/videos",
                data={"model": "Sora-2", "prompt": "Image"},
                files={"input_reference": ("a.png", png(), "image/png")},
            )
            assert multipart.status_code == 200, multipart.text
    finally:
        server.stop()
        thread.join(timeout=5)
    assert not thread.is_alive()


def test_it_takes_a_teams_worth_of_connections_at_once(
    sim_clock: FakeClock, cache_dir: Path
) -> None:
    # With socketserver's default backlog (5) the kernel reset a few of these creates.
    sim = make_sim(sim_clock, cache_dir)
    body = {"model": "Veo-3", "prompt": "One of many"}
    with over_http(sim) as api, ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(lambda _: api.post("/videos", json=body).status_code, range(600)))

    assert statuses == [200] * 600


def test_it_runs_from_the_command_line_and_prints_its_url() -> None:
    with command_line() as url:
        response = httpx.get(f"{url}/models", headers=AUTH, timeout=10)
        assert response.status_code == 200


def test_it_takes_models_and_injected_errors_on_the_command_line() -> None:
    options = ("--models", "Sora-3,veo-3", "--no-models-endpoint", "--inject", "503:2:/usage")
    with command_line(*options) as url, httpx.Client(base_url=url, headers=AUTH) as api:
        assert_error(api.get("/models"), 404, "not_found")
        for _ in range(2):
            assert_error(api.get("/usage/current_balance"), 503, "provider_error")
        assert api.get("/usage/current_balance").status_code == 200
        assert create(api, model="Sora-3", seconds=25)["seconds"] == 25
        assert create(api, model="Veo-3")["model"] == "Veo-3"
        refused = api.post("/videos", json={"model": "Sora-2", "prompt": "x"})
        assert_error(refused, 404, "not_found", {"param": "model"})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("429", Injection(429)),
        ("500:3", Injection(500, 3)),
        ("429:2:/videos/", Injection(429, 2, "/videos/")),
        ("404::/content", Injection(404, 1, "/content")),
        ("503:1:a:b", Injection(503, 1, "a:b")),
    ],
)
def test_it_reads_error_injections_from_the_command_line(text: str, expected: Injection) -> None:
    args = build_parser().parse_args(["--inject", text, "--inject", "500"])
    assert args.inject == [expected, Injection(500)]


@pytest.mark.parametrize(
    "argv",
    [
        ["--inject", "teapot"],
        ["--inject", "200"],
        ["--inject", "429:0"],
        ["--inject", "429:x"],
        ["--models", "Sora-2,Dall-E-9"],
    ],
)
def test_it_rejects_bad_command_line_options(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(argv)
    assert exit_info.value.code == 2
    assert "error" in capsys.readouterr().err


def test_its_command_line_defaults_to_todays_models_and_the_models_endpoint() -> None:
    args = build_parser().parse_args(["--models", " sora-2 , Veo-3,"])
    assert args.models == ("sora-2", "Veo-3")
    defaults = build_parser().parse_args([])
    assert (defaults.models, defaults.models_endpoint, defaults.inject) == (None, True, [])


def test_two_simulators_with_one_ledger_file_share_a_balance_and_history(tmp_path: Path) -> None:
    """Demo mode: the web server and the worker each run a simulator; one bill."""
    path = tmp_path / "ledger.jsonl"
    web = Simulator(ledger_path=path, cache_dir=tmp_path / "a")
    worker = Simulator(ledger_path=path, cache_dir=tmp_path / "b")
    with httpx.Client(transport=web.transport(), base_url="http://sim/v1") as client:
        created = client.post(
            "/videos",
            json={"model": "Sora-2", "prompt": "shared bill", "seconds": 4},
            headers={"Authorization": "Bearer k"},
        )
        assert created.status_code == 200
    assert worker.ledger.balance == web.ledger.balance == DEFAULT_STARTING_BALANCE - 4 * 3000
    history = worker.ledger.history(limit=10, starting_after=None)
    assert [e["bot_name"] for e in history["data"]] == ["Sora-2"]
