from __future__ import annotations

import io
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from PIL import Image

from videostudio import connection
from videostudio.provider.client import ProviderClient
from videostudio.simulator.app import Simulator


class FakeClock:
    """The suite's one fake clock: seconds since the epoch that move only when a test
    says so (`advance`, or a `sleep` it hands to the code under test).

    Hand it (or its `monotonic` / `wall`) to whatever takes a clock: the simulator,
    the provider client, the rate limiters. Inside `travelling()`, Python's and
    Django's own clocks (time-machine) follow it too, so the database's times, the
    app's and the simulator's meet.
    """

    def __init__(self, start: float | None = None) -> None:
        # Starts at the real time unless told: the provider's timestamps meet the database's.
        self.now = time.time() if start is None else start
        self.sleeps: list[float] = []
        self._lock = threading.RLock()
        self._traveller: Any = None
        self._ticking = False

    def __call__(self) -> float:
        return time.time() if self._ticking else self.now

    def clock(self) -> float:
        return self()

    monotonic = clock
    wall = clock

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds
            if self._traveller is not None:
                self._traveller.shift(seconds)

    def sleep(self, seconds: float) -> None:
        """Sleeping moves the clock (and says how long it slept)."""
        with self._lock:
            self.sleeps.append(seconds)
            self.advance(seconds)

    @contextmanager
    def travelling(self, *, tick: bool = False) -> Iterator[FakeClock]:
        """Python's and Django's clocks follow this one; with `tick`, all of them run
        on in real time from here, and `advance` jumps them ahead together."""
        start = datetime.fromtimestamp(self.now, tz=UTC)
        with time_machine.travel(start, tick=tick) as traveller:
            self._traveller, self._ticking = traveller, tick
            try:
                yield self
            finally:
                self._traveller, self._ticking = None, False


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The tests' cache is their own (per worker): nothing they leave (a throttle, a
    cooldown stamped by a fake clock) reaches a real run from the same checkout. Their
    static folder too: the hashed names `make run`'s collectstatic left in ./var are
    not what a test of a bare checkout expects."""
    from django.conf import settings
    from django.test.utils import override_settings

    default = dict(settings.CACHES["default"])
    if "filebased" in default["BACKEND"]:
        default["LOCATION"] = str(tmp_path_factory.mktemp("cache"))
    else:
        default["KEY_PREFIX"] = f"videostudio-test-{uuid.uuid4().hex[:8]}"
    static_root = tmp_path_factory.mktemp("staticfiles")
    with override_settings(CACHES={**settings.CACHES, "default": default}, STATIC_ROOT=static_root):
        yield


@pytest.fixture(autouse=True)
def _isolated_media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    # Real password hashing costs a third of a second per user.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def simulator(clock: FakeClock, tmp_path: Path) -> Simulator:
    return Simulator(
        clock=clock, queue_seconds=2, render_seconds=10, cache_dir=tmp_path / "sim-cache", fps=4
    )


@pytest.fixture
def client_for(tmp_path: Path) -> Any:
    def make(simulator: Simulator, **kwargs: Any) -> ProviderClient:
        return ProviderClient(
            base_url="http://simulator.test/v1",
            api_key="sk-test-not-a-real-key",
            transport=simulator.transport(),
            sleep=lambda seconds: None,
            **kwargs,
        )

    return make


@pytest.fixture
def provider(simulator: Simulator, client_for: Any) -> Iterator[ProviderClient]:
    """The app's provider client, talking to the simulator in-process."""
    client = client_for(simulator)
    connection._client = client
    yield client
    connection._client = None
    client.close()


@pytest.fixture
def recorder(simulator: Simulator) -> Iterator[Any]:
    """The app's provider client, talking to the simulator, every request recorded."""
    from django.core.cache import cache

    from .helpers import RecordingTransport

    transport = RecordingTransport(simulator.transport())
    connection._client = ProviderClient(
        base_url="http://sim.test/v1", api_key="k", transport=transport, sleep=lambda s: None
    )
    cache.delete("videostudio:usage:balance-recheck")
    yield transport
    connection._client = None


@pytest.fixture
def app_client(recorder: Any) -> ProviderClient:
    """The client the app uses while `recorder` is on."""
    assert connection._client is not None
    return connection._client


# Log members in with client.force_login(user), or through the login form (Browser in
# helpers.py, Playwright). Login throttling (django-axes) stays on in tests and needs a
# request to authenticate: client.login(...) must be client.login(request=HttpRequest(), ...).
def make_user(username: str, **extra: Any) -> User:
    user: User = get_user_model().objects.create_user(
        username=username, password="correct horse battery staple", **extra
    )
    return user


@pytest.fixture
def owner(db: None) -> User:
    return make_user("olivia")


@pytest.fixture
def teammate(db: None) -> User:
    return make_user("theo")


@pytest.fixture
def staff(db: None) -> User:
    return make_user("stella", is_staff=True)


def png_bytes(size: tuple[int, int] = (64, 48), color: str = "orange", fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format=fmt)
    return buffer.getvalue()
