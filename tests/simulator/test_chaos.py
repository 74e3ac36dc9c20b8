"""Random faults for soak tests (`Chaos`): each stays within the provider's contract,
and the simulator's own record of what it made and charged stays exact."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest

from videostudio.simulator.faults import Chaos

from ..conftest import FakeClock
from .kit import assert_error, command_line, create, finish, make_api, make_sim

JOBS = "http://simulator.test/_simulator/jobs"


def made(api: httpx.Client, *, hashes: bool = False) -> list[dict[str, object]]:
    response = api.get(JOBS, params={"hashes": "1"} if hashes else {})
    assert response.status_code == 200
    jobs: list[dict[str, object]] = response.json()["jobs"]
    return jobs


def test_a_random_500_comes_in_the_envelope_and_makes_nothing(
    sim_clock: FakeClock, cache_dir: Path
) -> None:
    sim = make_sim(sim_clock, cache_dir, chaos=Chaos(error_rate=1.0))
    with make_api(sim) as api:
        answer = api.post("/videos", json={"model": "Sora-2", "prompt": "a storm"})
        assert_error(answer, 500, "provider_error")
        assert made(api) == []
    assert sim.ledger.history(limit=10, starting_after=None)["data"] == []
    assert sim.stats()["injected"] == 1


def test_a_malformed_answer_to_a_create_comes_after_the_job_was_made_and_charged(
    sim_clock: FakeClock, cache_dir: Path
) -> None:
    sim = make_sim(sim_clock, cache_dir, chaos=Chaos(malformed_rate=1.0))
    with make_api(sim) as api:
        answer = api.post("/videos", json={"model": "Sora-2", "prompt": "a storm"})
        assert answer.status_code == 200
        with pytest.raises(ValueError, match=r"Expecting|Unterminated|delimiter"):
            answer.json()
        (job,) = made(api)
    (charge,) = sim.ledger.history(limit=10, starting_after=None)["data"]
    assert job["charge"] == charge["query_id"]
    assert job["charged_points"] == charge["cost_points"] > 0


def test_jobs_made_to_fail_fail_at_the_end_and_are_never_charged(
    sim_clock: FakeClock, cache_dir: Path
) -> None:
    sim = make_sim(sim_clock, cache_dir, chaos=Chaos(fail_rate=1.0))
    with make_api(sim) as api:
        video = create(api)
        finish(sim_clock)
        assert api.get(f"/videos/{video['id']}").json()["status"] == "failed"
        (job,) = made(api)
    assert job["fails"] is True and job["charged_points"] == 0 and job["charge"] is None
    assert sim.ledger.history(limit=10, starting_after=None)["data"] == []


def test_a_429_burst_refuses_everything_until_it_ends_then_nothing_more(
    sim_clock: FakeClock, cache_dir: Path
) -> None:
    sim = make_sim(sim_clock, cache_dir, chaos=Chaos(burst_every=100, burst_seconds=10))
    sim_clock.now = 1_790_000_000.0 - (1_790_000_000.0 % 100) + 3  # 3 s into a burst
    with make_api(sim) as api:
        answer = api.post("/videos", json={"model": "Sora-2", "prompt": "a storm"})
        assert_error(answer, 429, "rate_limit_error")
        assert answer.headers["Retry-After"] == "7"
        sim_clock.advance(7)
        create(api)
        assert len(made(api)) == 1
    assert sim.stats()["burst"] == 1


def test_the_record_of_jobs_holds_the_hash_of_exactly_what_is_served(
    sim_clock: FakeClock, cache_dir: Path
) -> None:
    sim = make_sim(sim_clock, cache_dir, stock_media=True, chaos=Chaos(cut_rate=1.0))
    with make_api(sim) as api:
        video = create(api, seconds=4)
        finish(sim_clock)
        (job,) = made(api, hashes=True)
        served = {}
        for variant in ("video", "thumbnail", "spritesheet"):
            params = {} if variant == "video" else {"variant": variant}
            # Each download is cut halfway; the rest comes with a Range, as a client resumes.
            first = api.get(f"/videos/{video['id']}/content", params=params)
            assert first.status_code == 200
            size = int(first.headers["Content-Length"])
            assert len(first.content) < size
            rest = api.get(
                f"/videos/{video['id']}/content",
                params=params,
                headers={"Range": f"bytes={len(first.content)}-"},
            )
            body = first.content + rest.content
            # The resumed part is cut too: fetch whatever is still missing.
            while len(body) < size:
                more = api.get(
                    f"/videos/{video['id']}/content",
                    params=params,
                    headers={"Range": f"bytes={len(body)}-"},
                )
                body += more.content
            served[variant] = hashlib.sha256(body).hexdigest()
    assert job["sha256"] == served
    assert sim.stats()["cut"] >= 3


def test_the_command_line_takes_rates_and_refuses_nonsense() -> None:
    with (
        command_line("--error-rate", "1", "--burst-429", "100:5") as url,
        httpx.Client(base_url=url, headers={"Authorization": "Bearer k"}) as api,
    ):
        assert api.get("/models").status_code in (429, 500)
    with pytest.raises(ValueError, match="between 0 and 1"):
        Chaos(slow_rate=1.5)
