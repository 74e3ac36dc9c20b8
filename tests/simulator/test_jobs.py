"""The simulator speaks Poe's Videos API contract: creating jobs, their timeline, errors."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import httpx
import pytest

from videostudio.simulator import DEFAULT_STARTING_BALANCE, Simulator
from videostudio.simulator import catalog as sim_catalog
from videostudio.simulator.jobs import MAX_ID_CHARS

from ..conftest import FakeClock
from .kit import (
    EXPIRE,
    QUEUE,
    RENDER,
    START,
    assert_error,
    create,
    finish,
    make_api,
    make_sim,
    png,
)


# ----- creating ---------------------------------------------------------------------
def test_it_creates_a_queued_video_from_json(api: httpx.Client) -> None:
    video = create(api, model="Sora-2", prompt="A fox", seconds=8, size="1280x720")

    assert video["id"].startswith("video_")
    assert len(video["id"]) <= MAX_ID_CHARS
    assert video["object"] == "video"
    assert video["status"] == "queued"
    assert video["created_at"] == int(START)
    assert video["completed_at"] is None
    assert video["expires_at"] is None
    assert video["model"] == "Sora-2"
    assert video["progress"] == 0
    assert video["seconds"] == 8
    assert video["size"] == "1280x720"
    assert video["remixed_from_video_id"] is None
    assert video["error"] is None


def test_it_creates_a_video_from_multipart_with_a_reference_image(api: httpx.Client) -> None:
    response = api.post(
        "/videos",
        data={"model": "veo-3", "prompt": "The dog jumps", "seconds": "4", "size": "720x1280"},
        files={"input_reference": ("dog.png", png(), "image/png")},
    )

    assert response.status_code == 200, response.text
    video = response.json()
    assert (video["model"], video["seconds"], video["status"]) == ("Veo-3", 4, "queued")


def test_it_accepts_a_base64_image_and_rejects_one_pillow_cannot_read(api: httpx.Client) -> None:
    encoded = base64.b64encode(png()).decode()
    assert create(api, input_image=encoded)["status"] == "queued"
    assert create(api, input_image=f"data:image/png;base64,{encoded}")["status"] == "queued"

    junk = base64.b64encode(b"not an image").decode()
    response = api.post("/videos", json={"model": "Sora-2", "prompt": "x", "input_image": junk})
    assert "image" in assert_error(response, 400, "invalid_request_error")["message"]

    response = api.post(
        "/videos",
        data={"model": "Sora-2", "prompt": "x"},
        files={"input_reference": ("x.png", b"garbage", "image/png")},
    )
    assert_error(response, 400, "invalid_request_error")


def test_it_applies_each_models_defaults(api: httpx.Client) -> None:
    sora = create(api, model="Sora-2")
    veo = create(api, model="Veo-3.1-Fast")

    assert (sora["seconds"], sora["size"]) == (4, "720x1280")
    assert (veo["seconds"], veo["size"]) == (8, "720x1280")
    assert create(api, model="sora-2-pro", seconds="12")["seconds"] == 12


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"prompt": "x"}, "model"),
        ({"model": "Sora-2"}, "prompt"),
        ({"model": "Sora-2", "prompt": "   "}, "prompt"),
        ({"model": "Sora-2", "prompt": "x", "seconds": 5}, "seconds"),
        ({"model": "Veo-2", "prompt": "x", "seconds": 12}, "seconds"),
        ({"model": "Sora-2", "prompt": "x", "seconds": "four"}, "seconds"),
        ({"model": "Sora-2", "prompt": "x", "seconds": True}, "seconds"),
        ({"model": "Sora-2", "prompt": "x", "size": "big"}, "size"),
        ({"model": "Sora-2", "prompt": "x", "size": "1024x1792"}, "size"),
        ({"model": "Sora-2", "prompt": "x", "input_image": "***"}, "base64"),
    ],
)
def test_it_rejects_invalid_create_requests(
    api: httpx.Client, body: dict[str, Any], words: str
) -> None:
    error = assert_error(api.post("/videos", json=body), 400, "invalid_request_error")
    assert words in error["message"]


@pytest.mark.parametrize("content", [b"{not json", b"[1, 2]", b""])
def test_it_rejects_a_body_that_is_not_a_json_object(api: httpx.Client, content: bytes) -> None:
    response = api.post("/videos", content=content, headers={"Content-Type": "application/json"})
    assert_error(response, 400, "invalid_request_error")


def test_it_reads_url_encoded_forms_and_json_mislabelled_as_a_form(api: httpx.Client) -> None:
    form = api.post("/videos", data={"model": "Veo-2", "prompt": "A form", "seconds": "6"})
    assert (form.status_code, form.json()["seconds"]) == (200, 6)

    curl_style = api.post(
        "/videos",
        content=b'{"model": "Sora-2", "prompt": "curl -d"}',
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert (curl_style.status_code, curl_style.json()["model"]) == (200, "Sora-2")


# ----- the timeline -----------------------------------------------------------------
def test_it_moves_from_queued_through_in_progress_to_completed(
    api: httpx.Client, sim_clock: FakeClock
) -> None:
    video_id = create(api, model="Sora-2", seconds=4)["id"]

    def poll() -> dict[str, Any]:
        data: dict[str, Any] = api.get(f"/videos/{video_id}").json()
        return data

    sim_clock.advance(QUEUE - 0.5)
    assert (poll()["status"], poll()["progress"]) == ("queued", 0)

    sim_clock.advance(0.5)
    seen = []
    for _ in range(4):
        video = poll()
        assert video["status"] == "in_progress"
        seen.append(video["progress"])
        sim_clock.advance(RENDER / 4 - 0.01)
    assert seen == sorted(seen)
    assert seen[0] == 0
    assert seen[-1] >= 70
    assert all(p <= 99 for p in seen)

    sim_clock.advance(1)
    video = poll()
    done = int(START + QUEUE + RENDER)
    assert video["status"] == "completed"
    assert video["progress"] == 100
    assert video["completed_at"] == done
    assert video["expires_at"] == done + int(EXPIRE)
    assert video["usage"] == {"cost_points": 4 * 3000}


def test_a_render_marker_sets_that_jobs_render_time(
    api: httpx.Client, sim_clock: FakeClock
) -> None:
    def status(video_id: str) -> str:
        value: str = api.get(f"/videos/{video_id}").json()["status"]
        return value

    long_take = create(api, prompt="A long take [RENDER:47.5]", seconds=4)["id"]
    plain = create(api, prompt="A plain take", seconds=4)["id"]

    sim_clock.advance(QUEUE - 0.01)
    assert status(long_take) == "queued"  # the queue time is the simulator's
    sim_clock.advance(0.01 + RENDER)
    assert (status(long_take), status(plain)) == ("in_progress", "completed")
    sim_clock.advance(47.5 - RENDER - 0.01)
    assert status(long_take) == "in_progress"
    sim_clock.advance(0.01)
    done = api.get(f"/videos/{long_take}").json()
    assert (done["status"], done["completed_at"]) == ("completed", int(START + QUEUE + 47.5))

    remix = api.post(f"/videos/{long_take}/remix", json={"prompt": "Quick [render:1]"}).json()
    body = {"video": {"id": long_take}, "prompt": "On [render:.5]", "seconds": 4}
    extension = api.post("/videos/extensions", json=body).json()
    sim_clock.advance(QUEUE + 0.5)
    assert (status(remix["id"]), status(extension["id"])) == ("in_progress", "completed")
    sim_clock.advance(0.5)
    assert status(remix["id"]) == "completed"


def test_it_fails_a_job_whose_prompt_carries_the_fail_marker(
    api: httpx.Client, sim_clock: FakeClock
) -> None:
    video_id = create(api, prompt="A crash [FAIL] please")["id"]
    sim_clock.advance(QUEUE + 1)
    assert api.get(f"/videos/{video_id}").json()["status"] == "in_progress"

    finish(sim_clock)
    video = api.get(f"/videos/{video_id}").json()

    assert video["status"] == "failed"
    assert set(video["error"]) >= {"code", "message"}
    assert video["completed_at"] is None
    assert_error(api.get(f"/videos/{video_id}/content"), 404, "not_found")


# ----- errors -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (402, "insufficient_credits"),
        (404, "not_found"),
        (429, "rate_limit_error"),
        (500, "provider_error"),
    ],
)
def test_it_answers_a_prompt_error_marker_at_once(
    api: httpx.Client, sim: Simulator, status: int, error_type: str
) -> None:
    response = api.post("/videos", json={"model": "Sora-2", "prompt": f"x [error:{status}]"})

    assert_error(response, status, error_type)
    assert response.headers.get("Retry-After") == ("1" if status == 429 else None)
    assert sim.ledger.balance == DEFAULT_STARTING_BALANCE  # nothing was charged


def test_it_answers_injected_errors_for_matching_requests_then_recovers(
    api: httpx.Client, sim: Simulator
) -> None:
    video_id = create(api)["id"]
    sim.inject_error(429, count=2, path_contains="/videos/video_", retry_after="3")
    sim.inject_error(503, path_contains="/models")

    assert api.get("/usage/current_balance").status_code == 200  # not matching: untouched
    for _ in range(2):
        response = api.get(f"/videos/{video_id}")
        assert_error(response, 429, "rate_limit_error")
        assert response.headers["Retry-After"] == "3"
    assert api.get(f"/videos/{video_id}").status_code == 200

    assert_error(api.get("/models"), 503, "provider_error")
    assert api.get("/models").status_code == 200

    sim.inject_error(429)
    assert api.get("/models").headers["Retry-After"] == "1"


def test_it_requires_a_bearer_token_and_checks_it_when_configured(
    sim_clock: FakeClock, cache_dir: Path
) -> None:
    open_sim = make_sim(sim_clock, cache_dir)
    with make_api(open_sim, headers={}) as anonymous:
        assert_error(anonymous.get("/models"), 401, "authentication_error")
        basic = {"Authorization": "Basic dXNlcjpwdw=="}
        assert_error(anonymous.get("/models", headers=basic), 401, "authentication_error")
    with make_api(open_sim, headers={"Authorization": "Bearer anything"}) as anyone:
        assert anyone.get("/models").status_code == 200

    locked = make_sim(sim_clock, cache_dir, api_key="right")
    with make_api(locked, headers={"Authorization": "Bearer wrong"}) as wrong:
        assert_error(wrong.get("/models"), 401, "authentication_error")
    with make_api(locked, headers={"Authorization": "Bearer right"}) as right:
        assert right.get("/models").status_code == 200


def test_it_answers_unknown_paths_wrong_methods_and_junk_ids_with_envelopes(
    api: httpx.Client,
) -> None:
    assert_error(api.get("/nothing/here"), 404, "not_found")
    response = api.delete("/videos")
    assert_error(response, 405, "invalid_request_error")
    assert response.headers["Allow"] == "POST"
    assert_error(api.get("/videos/video_junk"), 404, "not_found")
    assert_error(api.get("/videos/not-even-prefixed/content"), 404, "not_found")

    real = create(api)["id"]
    tampered = real[:-3] + ("AAA" if not real.endswith("AAA") else "BBB")
    assert_error(api.get(f"/videos/{tampered}"), 404, "not_found")


def test_it_answers_500_instead_of_a_traceback(
    api: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*args: object) -> dict[str, object]:
        raise RuntimeError("boom")

    monkeypatch.setattr(sim_catalog, "models_payload", explode)

    error = assert_error(api.get("/models"), 500, "provider_error")
    assert "boom" not in error["message"]
