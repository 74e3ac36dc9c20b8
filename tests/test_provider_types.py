from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from videostudio.provider.errors import ProtocolError
from videostudio.provider.types import (
    HistoryEntry,
    HistoryPage,
    RemoteModel,
    RemoteVideo,
    normalize_status,
    timestamp,
)

FIXTURES = Path(__file__).parent / "fixtures" / "provider"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def test_it_reads_a_queued_poe_video_with_int_seconds() -> None:
    video = RemoteVideo.from_json(load("poe_video_queued.json"))

    assert video.id == "video_68f2a1c0b4e08190a1b2c3d4e5f60718"
    assert video.status == "queued"
    assert video.raw_status == "queued"
    assert video.model == "Sora-2"
    assert video.seconds == 8
    assert video.size == "1280x720"
    assert video.progress == 0
    assert video.created_at == utc(2025, 10, 21, 10, 20)
    assert video.completed_at is None
    assert video.expires_at is None
    assert video.remixed_from_video_id is None
    assert video.error_code is None
    assert video.error_message is None
    assert video.usage is None
    assert not video.is_finished


def test_it_reads_a_completed_poe_video_with_its_expiry_and_usage() -> None:
    video = RemoteVideo.from_json(load("poe_video_completed.json"))

    assert video.status == "completed"
    assert video.is_finished
    assert video.progress == 100
    assert video.completed_at == utc(2025, 10, 21, 10, 21, 35)
    assert video.expires_at == utc(2025, 10, 21, 11, 21, 35)
    assert video.usage == {"points": 24000}


def test_it_reads_the_error_object_of_a_failed_video() -> None:
    video = RemoteVideo.from_json(load("poe_video_failed.json"))

    assert video.status == "failed"
    assert video.error_code == "moderation_blocked"
    assert video.error_message == "The prompt was blocked by the provider's content policy."


def test_it_reads_an_openai_style_video_with_string_seconds() -> None:
    video = RemoteVideo.from_json(load("openai_video_in_progress.json"))

    assert video.status == "in_progress"
    assert video.seconds == 12
    assert video.progress == 42
    assert video.size == "1792x1024"
    assert video.model == "sora-2-pro"


def test_it_reads_an_openai_style_remix_with_its_source_and_float_string_seconds() -> None:
    video = RemoteVideo.from_json(load("openai_video_remix_completed.json"))

    assert video.status == "completed"
    assert video.seconds == 4
    assert video.remixed_from_video_id == "video_68f2a5e2d0b88191b6a7c8d9e0f1a2b3"


def test_it_reads_the_relays_pending_as_queued() -> None:
    video = RemoteVideo.from_json(load("relay_video_pending.json"))

    assert video.status == "queued"
    assert video.raw_status == "pending"
    assert video.seconds == 4
    assert video.progress == 50
    assert video.created_at == utc(2025, 3, 10, 1, 31, 23)


def test_it_tolerates_a_relays_milliseconds_strings_and_unknown_fields() -> None:
    data = load("relay_video_remix.json")

    video = RemoteVideo.from_json(data)

    assert video.id == "task_01JAX3Q9V7M2N8P4R6S0T2W4Y6"
    assert video.status == "in_progress"
    assert video.raw_status == "processing"
    assert video.created_at == datetime(2025, 3, 10, 1, 31, 23, 512000, tzinfo=UTC)
    assert video.completed_at == utc(2025, 3, 10, 1, 33, 20)
    assert video.progress == 100
    assert video.seconds == 8
    assert video.remixed_from_video_id == "video_123456789"
    assert video.error_code is None
    assert video.error_message is None
    assert video.usage == {"quota": 1500, "currency": "credits"}
    assert video.raw is data
    assert video.raw["metadata"] == {"channel": 7, "upstream": "azure"}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("queued", "queued"),
        ("pending", "queued"),
        ("in_progress", "in_progress"),
        ("processing", "in_progress"),
        ("running", "in_progress"),
        ("In-Progress", "in_progress"),
        ("completed", "completed"),
        ("succeeded", "completed"),
        ("failed", "failed"),
        ("error", "failed"),
        ("cancelled", "failed"),
        ("canceled", "failed"),
        ("expired", "failed"),
        ("", "unknown"),
        ("paused", "unknown"),
    ],
)
def test_it_normalizes_every_status_spelling(raw: str, expected: str) -> None:
    assert normalize_status(raw) == expected
    assert RemoteVideo.from_json({"id": "v", "status": raw}).status == expected


def test_it_keeps_the_raw_status_it_could_not_place() -> None:
    video = RemoteVideo.from_json({"id": "v", "status": "moderating"})

    assert video.status == "unknown"
    assert video.raw_status == "moderating"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (4, 4),
        (4.0, 4),
        ("4", 4),
        ("4.0", 4),
        (" 8 ", 8),
        (None, None),
        ("", None),
        ("four", None),
        (True, None),
        (-1, None),
        (float("nan"), None),
        ([4], None),
    ],
)
def test_it_accepts_seconds_as_int_float_or_numeric_string(
    value: object, expected: int | None
) -> None:
    assert RemoteVideo.from_json({"id": "v", "seconds": value}).seconds == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(-5, 0), (0, 0), (37.6, 38), ("33", 33), (250, 100), (None, None), ("half", None)],
)
def test_it_clamps_progress_to_0_through_100(value: object, expected: int | None) -> None:
    assert RemoteVideo.from_json({"id": "v", "progress": value}).progress == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1761042000, utc(2025, 10, 21, 10, 20)),
        (1761042000.5, datetime(2025, 10, 21, 10, 20, 0, 500000, tzinfo=UTC)),
        ("1761042000", utc(2025, 10, 21, 10, 20)),
        (1761042000000, utc(2025, 10, 21, 10, 20)),
        (1761042000000000, utc(2025, 10, 21, 10, 20)),
        ("2025-10-21T10:20:00Z", utc(2025, 10, 21, 10, 20)),
        ("2025-10-21T12:20:00+02:00", utc(2025, 10, 21, 10, 20)),
        ("2025-10-21T10:20:00", utc(2025, 10, 21, 10, 20)),
        (None, None),
        (0, None),
        ("yesterday", None),
        (True, None),
        (1e300, None),
    ],
)
def test_it_reads_timestamps_in_any_unit_as_aware_utc(
    value: object, expected: datetime | None
) -> None:
    assert timestamp(value) == expected


@pytest.mark.parametrize(
    ("error", "code", "message"),
    [
        ({"code": "internal", "message": "Render crashed"}, "internal", "Render crashed"),
        ({"code": 500, "message": None}, "500", None),
        ("Render crashed", None, "Render crashed"),
        (None, None, None),
        ("", None, None),
        (["odd"], None, None),
    ],
)
def test_it_accepts_an_error_as_object_string_or_null(
    error: object, code: str | None, message: str | None
) -> None:
    video = RemoteVideo.from_json({"id": "v", "status": "failed", "error": error})

    assert (video.error_code, video.error_message) == (code, message)


def test_it_tolerates_a_video_with_nothing_but_an_id() -> None:
    video = RemoteVideo.from_json({"id": "video_1"})

    assert video.status == "unknown"
    assert video.raw_status == ""
    assert video.model is None
    assert video.seconds is None
    assert video.created_at is None
    assert video.usage is None


@pytest.mark.parametrize(
    "data", [{}, {"id": None}, {"id": ""}, {"id": {"nested": 1}}, [], "video_1", None]
)
def test_it_raises_a_protocol_error_without_an_id_or_an_object(data: object) -> None:
    with pytest.raises(ProtocolError):
        RemoteVideo.from_json(data)


def test_it_turns_a_numeric_id_into_a_string() -> None:
    assert RemoteVideo.from_json({"id": 123}).id == "123"


def test_it_compares_videos_by_value_not_by_raw_body() -> None:
    a = RemoteVideo.from_json({"id": "v", "status": "queued", "extra": 1})
    b = RemoteVideo.from_json({"id": "v", "status": "queued", "extra": 2})

    assert a == b
    assert "extra" not in repr(a)


def test_it_reads_a_points_history_page_with_microsecond_times() -> None:
    page = HistoryPage.from_json(load("points_history_page1.json"))

    assert page.has_more is True
    assert [entry.query_id for entry in page.entries] == ["q_0f3b9c21", "q_0f3b9b07"]
    first = page.entries[0]
    assert first.created_at == datetime(2025, 10, 21, 10, 21, 35, 123456, tzinfo=UTC)
    assert first.bot_name == "Sora-2"
    assert first.usage_type == "API"
    assert first.cost_points == 24000
    assert page.last_query_id == "q_0f3b9b07"


def test_it_reads_the_last_history_page_and_numeric_string_costs() -> None:
    page = HistoryPage.from_json(load("points_history_page2.json"))

    assert page.has_more is False
    assert page.entries[0].cost_points == 36000


def test_it_reads_an_empty_history_page() -> None:
    page = HistoryPage.from_json({"has_more": False, "length": 0, "data": []})

    assert page.entries == ()
    assert page.last_query_id is None


@pytest.mark.parametrize("data", [None, [], {"data": "nope"}, {"data": [{"bot_name": "Sora-2"}]}])
def test_it_rejects_a_history_page_it_cannot_page_through(data: object) -> None:
    with pytest.raises(ProtocolError):
        HistoryPage.from_json(data)


def test_it_keeps_a_history_entrys_unknown_fields_in_raw() -> None:
    entry = HistoryEntry.from_json({"query_id": "q", "chat_name": "x", "creation_time": None})

    assert entry.created_at is None
    assert entry.cost_points is None
    assert entry.raw["chat_name"] == "x"


def test_it_reads_poe_models_with_nested_modalities() -> None:
    models = [RemoteModel.from_json(item) for item in load("models.json")["data"][:3]]

    assert [(m.id, m.owned_by, m.output_modalities) for m in models] == [
        ("Sora-2", "OpenAI", ("video",)),
        ("Veo-3", "Google", ("video",)),
        ("Claude-Sonnet-4.5", "Anthropic", ("text",)),
    ]


def test_it_reads_plain_openai_models_and_top_level_modalities() -> None:
    plain = RemoteModel.from_json({"id": "sora-2", "object": "model", "owned_by": "openai"})
    flat = RemoteModel.from_json({"id": "veo", "output_modalities": ["video"]})

    assert plain.output_modalities == ()
    assert plain.owned_by == "openai"
    assert flat.output_modalities == ("video",)
    assert flat.owned_by is None


def test_it_rejects_a_model_without_an_id() -> None:
    with pytest.raises(ProtocolError):
        RemoteModel.from_json({"object": "model"})
