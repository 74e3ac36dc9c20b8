"""What the client sends and how it reads the answers, one endpoint at a time."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from videostudio.provider.client import ProviderClient
from videostudio.provider.errors import InvalidRequest, ProtocolError

FIXTURES = Path(__file__).parent / "fixtures" / "provider"
KEY = "sk-test-TEAMKEY-0123456789abcdef"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR-fake-image-\r\n-bytes"

Handler = Callable[[httpx.Request], httpx.Response]


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def answer(name: str, status: int = 200) -> httpx.Response:
    return httpx.Response(
        status, content=fixture(name), headers={"Content-Type": "application/json"}
    )


class Recorder:
    """A MockTransport handler that keeps every request and replies from a script."""

    def __init__(self, *replies: httpx.Response | Handler) -> None:
        self.replies = list(replies)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        return reply(request) if callable(reply) else reply

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]


def client_for(recorder: Recorder, **options: Any) -> ProviderClient:
    options.setdefault("base_url", "https://api.poe.com/v1")
    options.setdefault("api_key", KEY)
    return ProviderClient(
        transport=httpx.MockTransport(recorder),
        sleep=lambda seconds: None,
        random=lambda: 1.0,
        **options,
    )


def multipart_parts(request: httpx.Request) -> dict[str, tuple[dict[str, str], bytes]]:
    """name -> (part headers, exact part bytes), split by hand so no byte is reinterpreted."""
    content_type = request.headers["content-type"]
    assert content_type.startswith("multipart/form-data; boundary=")
    boundary = content_type.split("boundary=", 1)[1].encode()
    parts: dict[str, tuple[dict[str, str], bytes]] = {}
    for chunk in request.content.split(b"--" + boundary)[1:-1]:
        head, _, body = chunk[2:-2].partition(b"\r\n\r\n")
        headers = dict(line.decode().split(": ", 1) for line in head.split(b"\r\n") if line.strip())
        disposition = headers["Content-Disposition"]
        name = disposition.split('name="', 1)[1].split('"', 1)[0]
        parts[name] = (headers, body)
    return parts


def test_it_creates_a_video_with_a_json_body_and_int_seconds() -> None:
    recorder = Recorder(answer("poe_video_queued.json"))

    with client_for(recorder) as client:
        video = client.create_video(
            model="Sora-2", prompt="A golden retriever", seconds=8, size="1280x720"
        )

    request = recorder.last
    assert request.method == "POST"
    assert str(request.url) == "https://api.poe.com/v1/videos"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["user-agent"] == "videostudio/0.1"
    assert json.loads(request.content) == {
        "model": "Sora-2",
        "prompt": "A golden retriever",
        "seconds": 8,
        "size": "1280x720",
    }
    assert video.id == "video_68f2a1c0b4e08190a1b2c3d4e5f60718"
    assert video.status == "queued"


def test_it_leaves_out_seconds_and_size_it_was_not_given() -> None:
    recorder = Recorder(answer("poe_video_queued.json"))

    client_for(recorder).create_video(model="Veo-3", prompt="Rain on a tin roof")

    assert json.loads(recorder.last.content) == {"model": "Veo-3", "prompt": "Rain on a tin roof"}


def test_it_sends_an_image_as_a_multipart_input_reference_with_string_seconds() -> None:
    recorder = Recorder(answer("relay_video_pending.json"))

    video = client_for(recorder).create_video(
        model="sora-2",
        prompt="一只可爱的小猫在花园里玩耍",
        seconds=4,
        size="720x1280",
        image=("cat.png", PNG, "image/png"),
    )

    parts = multipart_parts(recorder.last)
    assert set(parts) == {"model", "prompt", "seconds", "size", "input_reference"}
    assert parts["model"][1] == b"sora-2"
    assert parts["prompt"][1].decode() == "一只可爱的小猫在花园里玩耍"
    assert parts["seconds"][1] == b"4"
    assert parts["size"][1] == b"720x1280"
    file_headers, file_body = parts["input_reference"]
    assert 'filename="cat.png"' in file_headers["Content-Disposition"]
    assert file_headers["Content-Type"] == "image/png"
    assert file_body == PNG
    assert "input_image" not in parts
    assert video.status == "queued"
    assert video.seconds == 4


def test_it_sends_an_image_as_plain_base64_input_image_in_json_mode() -> None:
    recorder = Recorder(answer("poe_video_queued.json"))

    client_for(recorder).create_video(
        model="Sora-2",
        prompt="The dog jumps",
        seconds=8,
        image=("dog.png", PNG, "image/png"),
        image_mode="json",
    )

    assert recorder.last.headers["content-type"] == "application/json"
    body = json.loads(recorder.last.content)
    assert set(body) == {"model", "prompt", "seconds", "input_image"}
    assert body["seconds"] == 8
    assert not body["input_image"].startswith("data:")
    assert base64.b64decode(body["input_image"], validate=True) == PNG


def test_it_refuses_an_unknown_image_mode_before_calling_anyone() -> None:
    recorder = Recorder(answer("poe_video_queued.json"))

    with pytest.raises(ValueError, match="image_mode"):
        client_for(recorder).create_video(
            model="Sora-2", prompt="x", image=("a.png", PNG, "image/png"), image_mode="url"
        )

    assert recorder.requests == []


def test_it_retrieves_a_video_and_escapes_its_id_in_the_path() -> None:
    recorder = Recorder(answer("openai_video_in_progress.json"))
    client = client_for(recorder)

    client.retrieve_video("video_68f2a5e2d0b88191b6a7c8d9e0f1a2b3")
    client.retrieve_video("../usage/current_balance?x=1")

    first, second = recorder.requests
    assert first.method == "GET"
    assert first.url.path == "/v1/videos/video_68f2a5e2d0b88191b6a7c8d9e0f1a2b3"
    assert second.url.raw_path == b"/v1/videos/..%2Fusage%2Fcurrent_balance%3Fx%3D1"


def test_it_refuses_an_empty_video_id() -> None:
    with pytest.raises(ValueError, match="video id"):
        client_for(Recorder(answer("poe_video_queued.json"))).retrieve_video("")


def test_it_remixes_with_only_a_prompt() -> None:
    recorder = Recorder(answer("openai_video_remix_completed.json"))

    video = client_for(recorder).remix_video("video_src", prompt="Anime style")

    assert recorder.last.method == "POST"
    assert recorder.last.url.path == "/v1/videos/video_src/remix"
    assert json.loads(recorder.last.content) == {"prompt": "Anime style"}
    assert video.remixed_from_video_id == "video_68f2a5e2d0b88191b6a7c8d9e0f1a2b3"


def test_it_extends_with_the_source_as_a_nested_object() -> None:
    recorder = Recorder(answer("poe_video_extension.json"))
    client = client_for(recorder)

    video = client.extend_video("video_src", prompt="It leaps into a lake", seconds=8)
    client.extend_video("video_src", prompt="And swims")

    first, second = recorder.requests
    assert first.method == "POST"
    assert first.url.path == "/v1/videos/extensions"
    assert json.loads(first.content) == {
        "video": {"id": "video_src"},
        "prompt": "It leaps into a lake",
        "seconds": 8,
    }
    assert json.loads(second.content) == {"video": {"id": "video_src"}, "prompt": "And swims"}
    assert video.status == "queued"


def test_it_asks_for_the_balance_beside_v1_not_under_it() -> None:
    recorder = Recorder(answer("balance.json"))

    assert client_for(recorder).current_balance() == 1843275
    assert str(recorder.last.url) == "https://api.poe.com/usage/current_balance"
    assert recorder.last.headers["authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize(
    ("base_url", "usage_base_url", "expected"),
    [
        ("https://api.poe.com/v1/", None, "https://api.poe.com/usage/current_balance"),
        (
            "https://relay.example/openai",
            None,
            "https://relay.example/openai/usage/current_balance",
        ),
        (
            "https://relay.example/v1",
            "https://bill.example/",
            "https://bill.example/usage/current_balance",
        ),
    ],
)
def test_it_derives_the_usage_url_or_takes_the_one_given(
    base_url: str, usage_base_url: str | None, expected: str
) -> None:
    recorder = Recorder(answer("balance.json"))

    client_for(recorder, base_url=base_url, usage_base_url=usage_base_url).current_balance()

    assert str(recorder.last.url) == expected


def test_it_rejects_a_balance_answer_without_the_balance() -> None:
    recorder = Recorder(httpx.Response(200, json={"balance": 3}))

    with pytest.raises(ProtocolError):
        client_for(recorder).current_balance()


def test_it_pages_through_the_points_history() -> None:
    recorder = Recorder(answer("points_history_page1.json"), answer("points_history_page2.json"))
    client = client_for(recorder)

    first = client.points_history()
    second = client.points_history(limit=50, starting_after=first.last_query_id)

    assert recorder.requests[0].url.path == "/usage/points_history"
    assert dict(recorder.requests[0].url.params) == {"limit": "100"}
    assert dict(recorder.requests[1].url.params) == {"limit": "50", "starting_after": "q_0f3b9b07"}
    assert first.has_more
    assert not second.has_more
    assert [e.query_id for e in first.entries + second.entries] == [
        "q_0f3b9c21",
        "q_0f3b9b07",
        "q_0f3a11aa",
    ]


@pytest.mark.parametrize(("asked", "sent"), [(0, "1"), (-4, "1"), (500, "100"), (1, "1")])
def test_it_keeps_the_history_limit_within_1_to_100(asked: int, sent: str) -> None:
    recorder = Recorder(answer("points_history_page2.json"))

    client_for(recorder).points_history(limit=asked)

    assert recorder.last.url.params["limit"] == sent


def test_it_lists_models_and_skips_entries_without_an_id() -> None:
    recorder = Recorder(answer("models.json"))

    models = client_for(recorder).list_models()

    assert str(recorder.last.url) == "https://api.poe.com/v1/models"
    assert [m.id for m in models] == ["Sora-2", "Veo-3", "Claude-Sonnet-4.5"]
    assert [m.id for m in models if "video" in m.output_modalities] == ["Sora-2", "Veo-3"]


def test_it_rejects_a_model_list_without_data() -> None:
    with pytest.raises(ProtocolError):
        client_for(Recorder(httpx.Response(200, json={"object": "list"}))).list_models()


@pytest.mark.parametrize(
    "reply",
    [
        httpx.Response(200, text="<html><body>Welcome to nginx!</body></html>"),
        httpx.Response(200, json=["video_1"]),
        httpx.Response(200, json={"object": "video", "status": "queued"}),
        httpx.Response(200, content=b""),
    ],
)
def test_it_raises_a_protocol_error_for_a_success_it_cannot_read(reply: httpx.Response) -> None:
    with pytest.raises(ProtocolError) as caught:
        client_for(Recorder(reply)).retrieve_video("video_1")

    assert caught.value.transient is False
    assert caught.value.outcome_unknown is False


def test_it_raises_the_providers_error_with_its_message() -> None:
    recorder = Recorder(answer("error_400.json", status=400))

    with pytest.raises(InvalidRequest) as caught:
        client_for(recorder).create_video(model="Sora-2", prompt="x", size="999x999")

    assert caught.value.message.startswith("Invalid size '999x999'")
    assert caught.value.outcome_unknown is False
    assert KEY not in repr(caught.value)


def test_it_sends_no_authorization_header_without_a_key() -> None:
    recorder = Recorder(answer("poe_video_queued.json"))

    client_for(recorder, api_key="").retrieve_video("video_1")

    assert "authorization" not in recorder.last.headers


def test_it_never_shows_the_key_in_its_repr() -> None:
    client = client_for(Recorder(answer("balance.json")))

    assert KEY not in repr(client)
    assert KEY not in str(client)
    assert repr(client) == "ProviderClient(base_url='https://api.poe.com/v1')"


def test_it_logs_method_path_status_and_time_but_never_the_key(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="videostudio.provider")
    recorder = Recorder(answer("poe_video_queued.json"))

    client_for(recorder).create_video(model="Sora-2", prompt="secret plans")

    lines = [r.getMessage() for r in caplog.records if r.name.startswith("videostudio.provider")]
    assert any(line.startswith("POST /v1/videos -> 200 in ") for line in lines)
    assert all(KEY not in line and "secret plans" not in line for line in lines)


def test_it_closes_its_connection_pool_when_the_block_ends() -> None:
    with client_for(Recorder(answer("balance.json"))) as client:
        client.current_balance()

    with pytest.raises(RuntimeError):
        client.current_balance()
