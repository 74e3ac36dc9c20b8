"""`ProviderClient.list_videos`: OpenAI's list where a provider has one, a clear no where not."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest

from videostudio.provider.client import ProviderClient
from videostudio.provider.errors import InvalidRequest, ListUnsupported, ProtocolError
from videostudio.simulator import Simulator

from .conftest import FakeClock
from .simulator.kit import START, connect, make_sim
from .test_provider_client import Recorder, client_for

KEY = "sk-test-TEAMKEY-0123456789abcdef"


def video(video_id: str, status: str = "queued") -> dict[str, Any]:
    return {"id": video_id, "object": "video", "status": status, "model": "Sora-2"}


def page(*videos: dict[str, Any], has_more: bool = False, **extra: Any) -> httpx.Response:
    body = {"object": "list", "data": list(videos), "has_more": has_more, **extra}
    return httpx.Response(200, json=body)


# ----- against recorded answers -------------------------------------------------------
def test_it_asks_for_a_page_and_the_next_one_after_the_last_id() -> None:
    recorder = Recorder(
        page(video("video_3"), video("video_2"), has_more=True, last_id="video_2"),
        page(video("video_1", "completed")),
    )
    client = client_for(recorder)

    first = client.list_videos(limit=2)
    second = client.list_videos(limit=2, after=first.last_id)

    assert str(recorder.requests[0].url) == "https://api.poe.com/v1/videos?limit=2"
    assert dict(recorder.requests[1].url.params) == {"limit": "2", "after": "video_2"}
    assert [v.id for v in first.data] == ["video_3", "video_2"]
    assert (first.has_more, first.last_id) == (True, "video_2")
    assert [(v.id, v.status) for v in second.data] == [("video_1", "completed")]
    assert (second.has_more, second.last_id) == (False, "video_1")  # from the data itself


@pytest.mark.parametrize(("asked", "sent"), [(0, "1"), (-4, "1"), (500, "100"), (100, "100")])
def test_it_keeps_the_limit_within_1_to_100(asked: int, sent: str) -> None:
    recorder = Recorder(page())

    client_for(recorder).list_videos(limit=asked)

    assert recorder.last.url.params["limit"] == sent


def test_it_skips_a_listed_video_without_an_id_but_keeps_the_cursor() -> None:
    listed = page(video("video_2"), {"status": "queued"}, has_more=True, last_id="video_odd")

    result = client_for(Recorder(listed)).list_videos()

    assert [v.id for v in result.data] == ["video_2"]
    assert result.last_id == "video_odd"


@pytest.mark.parametrize(
    "reply",
    [
        httpx.Response(200, json={"object": "list"}),
        httpx.Response(200, json={"data": "video_1"}),
        httpx.Response(200, json=[video("video_1")]),
        httpx.Response(200, text="<html>nginx</html>"),
        page({"status": "queued"}, has_more=True),  # more, but no cursor to ask for it
    ],
)
def test_a_list_it_cannot_read_is_a_protocol_error(reply: httpx.Response) -> None:
    with pytest.raises(ProtocolError):
        client_for(Recorder(reply)).list_videos()


@pytest.mark.parametrize(
    "reply",
    [
        httpx.Response(404, json={"error": {"type": "not_found", "message": "No such endpoint"}}),
        httpx.Response(405, headers={"Allow": "POST"}, text="Method Not Allowed"),
        httpx.Response(
            405, json={"error": {"type": "invalid_request_error", "message": "Use POST"}}
        ),
    ],
)
def test_a_provider_without_a_list_says_so_once(reply: httpx.Response) -> None:
    recorder = Recorder(reply)

    with pytest.raises(ListUnsupported) as caught:
        client_for(recorder).list_videos()

    assert len(recorder.requests) == 1  # nothing to retry: it will never list
    assert caught.value.status == reply.status_code
    assert caught.value.transient is False
    assert "cannot list" in caught.value.user_message


def test_a_bad_request_to_a_real_list_is_not_taken_for_a_missing_one() -> None:
    refused = httpx.Response(400, json={"error": {"type": "invalid_request_error"}})

    with pytest.raises(InvalidRequest):
        client_for(Recorder(refused)).list_videos(after="video_gone")


# ----- against the simulator ----------------------------------------------------------
@pytest.fixture(params=["in-process", "loopback"])
def how(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


def listing_client(sim: Simulator, how: str) -> AbstractContextManager[ProviderClient]:
    return connect(sim, how=how, api_key=KEY, sleep=lambda s: None, timeout=10.0)


@pytest.mark.parametrize("dialect", ["poe", "openai"])
def test_it_pages_through_the_simulators_list(
    how: str, dialect: str, clock: FakeClock, tmp_path: Path
) -> None:
    sim = make_sim(clock, tmp_path / "cache", list_endpoint=True, dialect=dialect)
    with listing_client(sim, how) as client:
        made: list[str] = []
        for n in range(5):
            clock.advance(4 if made else 0)
            made.append(client.create_video(model="Sora-2", prompt=f"Take {n}").id)

        pages = [client.list_videos(limit=2)]
        while pages[-1].has_more:
            pages.append(client.list_videos(limit=2, after=pages[-1].last_id))

        assert [len(p.data) for p in pages] == [2, 2, 1]
        listed = [v for p in pages for v in p.data]
        assert [v.id for v in listed] == made[::-1]
        assert listed == [client.retrieve_video(v.id) for v in listed]
        assert {v.status for v in listed} == {"queued", "in_progress", "completed"}


@pytest.mark.parametrize("dialect", ["poe", "openai"])
def test_it_says_the_list_is_unsupported_when_the_simulator_has_none(
    how: str, dialect: str, clock: FakeClock, tmp_path: Path
) -> None:
    sim = make_sim(clock, tmp_path / "cache", dialect=dialect)
    with listing_client(sim, how) as client:
        client.create_video(model="Sora-2", prompt="Not listed")

        with pytest.raises(ListUnsupported) as caught:
            client.list_videos()

    assert caught.value.status == 404
    assert sim.stats()["list"] == 1
