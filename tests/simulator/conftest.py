"""Fixtures for the simulator's tests: a clock, the app, an HTTP client to it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from videostudio.simulator import Simulator

from ..conftest import FakeClock
from .kit import START, make_api, make_sim


@pytest.fixture
def sim_clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "sim-cache"


@pytest.fixture
def sim(sim_clock: FakeClock, cache_dir: Path) -> Simulator:
    return make_sim(sim_clock, cache_dir)


@pytest.fixture
def api(sim: Simulator) -> Iterator[httpx.Client]:
    with make_api(sim) as client:
        yield client
