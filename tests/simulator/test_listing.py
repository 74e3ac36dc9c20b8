"""`GET /v1/videos`, OpenAI's list: off by default (Poe has none), newest first when on."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from videostudio.simulator import jobs
from videostudio.simulator.listing import JobList
from videostudio.simulator.web import ApiError

from ..conftest import FakeClock
from .kit import QUEUE, assert_error, create, finish, make_api, make_sim


def ids(page: dict[str, object]) -> list[str]:
    data = page["data"]
    assert isinstance(data, list)
    return [video["id"] for video in data]


def test_without_the_switch_there_is_no_list_endpoint(api: httpx.Client) -> None:
    create(api)

    assert_error(api.get("/videos"), 404, "not_found")
    assert_error(api.get("/videos", params={"limit": 5}), 404, "not_found")
    assert api.delete("/videos").headers["Allow"] == "POST"


def test_it_pages_through_the_jobs_it_made_newest_first(
    sim_clock: FakeClock, cache_dir: Path
) -> None:
    sim = make_sim(sim_clock, cache_dir, list_endpoint=True)
    with make_api(sim) as api:
        made = []
        for n in range(4):
            made.append(create(api, prompt=f"Take {n}")["id"])
            sim_clock.advance(1)
        api.post("/videos", json={"model": "Sora-2", "prompt": "x [error:500]"})
        api.post("/videos", json={"model": "Sora-2", "prompt": "x", "seconds": 7})
        finish(sim_clock)
        made.append(api.post(f"/videos/{made[0]}/remix", json={"prompt": "Again"}).json()["id"])
        extension = {"video": {"id": made[1]}, "prompt": "On", "seconds": 4}
        made.append(api.post("/videos/extensions", json=extension).json()["id"])
        newest_first = made[::-1]

        first = api.get("/videos", params={"limit": 4}).json()
        assert first["object"] == "list"
        assert ids(first) == newest_first[:4]
        assert (first["first_id"], first["last_id"]) == (newest_first[0], newest_first[3])
        assert first["has_more"] is True

        rest = api.get("/videos", params={"limit": 4, "after": first["last_id"]}).json()
        assert ids(rest) == newest_first[4:]
        assert rest["has_more"] is False
        assert ids(api.get("/videos").json()) == newest_first  # 20 by default

        empty = api.get("/videos", params={"after": newest_first[-1]}).json()
        assert (empty["data"], empty["first_id"], empty["last_id"]) == ([], None, None)
        assert empty["has_more"] is False


@pytest.mark.parametrize("dialect", ["poe", "openai"])
def test_a_listed_job_is_what_retrieve_answers_at_that_moment(
    sim_clock: FakeClock, cache_dir: Path, dialect: str
) -> None:
    sim = make_sim(sim_clock, cache_dir, list_endpoint=True, dialect=dialect)
    with make_api(sim) as api:
        create(api, prompt="Fails [fail]")
        create(api, prompt="Takes long [render:30]")
        create(api, prompt="Plain")
        for step in (0.0, QUEUE + 1, 20.0, 30.0):
            sim_clock.advance(step)
            listed = api.get("/videos").json()["data"]
            assert listed == [api.get(f"/videos/{video['id']}").json() for video in listed]
        statuses = {video["status"] for video in listed}
        assert statuses == {"failed", "completed"}


def test_it_refuses_bad_limits_and_unknown_cursors(sim_clock: FakeClock, cache_dir: Path) -> None:
    sim = make_sim(sim_clock, cache_dir, list_endpoint=True)
    with make_api(sim) as api:
        create(api)
        for params in ({"limit": 0}, {"limit": 101}, {"limit": "x"}):
            error = assert_error(
                api.get("/videos", params=params), 400, "invalid_request_error", {"param": "limit"}
            )
            assert "limit" in error["message"]
        unknown = api.get("/videos", params={"after": "video_unknown"})
        assert_error(unknown, 400, "invalid_request_error", {"param": "after"})


def test_another_instance_lists_only_its_own_jobs(sim_clock: FakeClock, tmp_path: Path) -> None:
    web = make_sim(sim_clock, tmp_path / "a", list_endpoint=True)
    worker = make_sim(sim_clock, tmp_path / "b", list_endpoint=True)
    with make_api(web) as web_api, make_api(worker) as worker_api:
        video_id = create(web_api)["id"]
        assert ids(web_api.get("/videos").json()) == [video_id]
        assert worker_api.get("/videos").json()["data"] == []


def test_it_keeps_only_the_newest_jobs(api: httpx.Client) -> None:
    def decoded(video_id: str) -> jobs.Job:
        job = jobs.decode_id(video_id)
        assert job is not None
        return job

    made = [decoded(create(api, prompt=f"Take {n}")["id"]) for n in range(5)]
    listed = JobList(capacity=3)
    for job in made:
        listed.add(job)

    page, more = listed.page(limit=10, after=None)
    assert page == made[:1:-1]
    assert not more
    page, more = listed.page(limit=1, after=made[4].id)
    assert (page, more) == ([made[3]], True)
    with pytest.raises(ApiError) as caught:
        listed.page(limit=10, after=made[0].id)  # fell off the end: an unknown cursor
    assert caught.value.status == 400
