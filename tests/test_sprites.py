"""Spritesheet grids: read from the provider's word, the catalog's pin, or the seams
between tiles; no grid rather than a wrong one."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.core.management import call_command
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from videostudio.catalog.models import CatalogEntry
from videostudio.catalog.services import catalog_sync
from videostudio.provider.catalog import ModelSpec, find_model
from videostudio.provider.client import ProviderClient
from videostudio.provider.types import RemoteVideo, SpriteLayout
from videostudio.simulator.app import Simulator
from videostudio.videos import refresh, services
from videostudio.videos.models import Video
from videostudio.videos.sprites import SpriteGrid, grid_of, sprite_grid

from .conftest import FakeClock
from .helpers import sent
from .media_kit import archived_video
from .sprite_kit import jpeg, sheet

PORTRAIT, LANDSCAPE = (72, 128), (128, 72)


def size_of(frame: tuple[int, int]) -> str:
    return f"{frame[0] * 10}x{frame[1] * 10}"


def read(image: Image.Image, frame: tuple[int, int], **kw: Any) -> tuple[int, int, int] | None:
    grid = grid_of(image, size_of(frame), **kw)
    return None if grid is None else (grid.columns, grid.rows, grid.frames)


@pytest.mark.parametrize(
    ("columns", "rows", "frame"),
    [
        (5, 5, PORTRAIT),  # the shape of one frame: the old guess read it as 2x2
        (5, 5, LANDSCAPE),
        (5, 4, PORTRAIT),
        (5, 2, LANDSCAPE),
        (10, 10, PORTRAIT),  # finer than 5x5, whose seams it contains
        (1, 6, LANDSCAPE),
        (6, 1, PORTRAIT),
        (3, 7, (90, 160)),
    ],
)
@pytest.mark.parametrize("compressed", [False, True], ids=["png", "jpeg"])
def test_it_reads_the_grid_from_the_seams_between_tiles(
    columns: int, rows: int, frame: tuple[int, int], compressed: bool
) -> None:
    image = sheet(columns, rows, frame_size=frame, seed=columns * 31 + rows)
    if compressed:
        image = jpeg(image, quality=60)
    assert read(image, frame) == (columns, rows, columns * rows)


@pytest.mark.parametrize(
    ("columns", "rows", "frames"), [(5, 5, 23), (5, 4, 16), (4, 4, 14), (6, 1, 4)]
)
def test_trailing_blank_tiles_are_not_counted_as_frames(
    columns: int, rows: int, frames: int
) -> None:
    image = jpeg(sheet(columns, rows, frame_size=PORTRAIT, frames=frames, seed=frames))
    assert read(image, PORTRAIT) == (columns, rows, frames)


def test_tiles_that_do_not_divide_the_sheet_evenly_are_still_found() -> None:
    image = jpeg(sheet(5, 4, frame_size=PORTRAIT, seed=3, extra=(2, 1)))
    assert read(image, PORTRAIT) == (5, 4, 20)


def test_frames_with_flat_identical_edges_give_no_grid_rather_than_a_wrong_one() -> None:
    # Every frame wears the same flat grey border: no seam shows between tiles, and
    # the frames (cuts between scenes) do not repeat one another either.
    for seed in range(4):
        image = jpeg(sheet(5, 5, frame_size=PORTRAIT, seed=seed, border=6, one_scene=False))
        assert read(image, PORTRAIT) is None


def test_a_still_scene_without_seams_is_read_from_its_repetition() -> None:
    # The same border, but one scene throughout: the sheet repeats itself tile by tile.
    image = jpeg(sheet(5, 5, frame_size=PORTRAIT, seed=9, border=6))
    assert read(image, PORTRAIT) == (5, 5, 25)


@pytest.mark.parametrize("frame", [PORTRAIT, LANDSCAPE, (400, 400)])
def test_a_single_frame_is_a_thumbnail_not_a_grid(frame: tuple[int, int]) -> None:
    image = jpeg(sheet(1, 1, frame_size=(frame[0] * 4, frame[1] * 4), seed=5))
    assert read(image, frame) is None


def test_a_flat_picture_has_no_grid(tmp_path: Path) -> None:
    path = tmp_path / "flat.jpg"
    Image.new("RGB", (800, 568), (20, 30, 40)).save(path)
    assert sprite_grid(path, "720x1280") is None
    assert sprite_grid(tmp_path / "missing.jpg", "720x1280") is None
    (tmp_path / "junk.jpg").write_bytes(b"not a picture")
    assert sprite_grid(tmp_path / "junk.jpg", "720x1280") is None


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    columns=st.integers(1, 8),
    rows=st.integers(1, 8),
    frame=st.sampled_from([PORTRAIT, LANDSCAPE, (90, 160), (160, 90), (64, 64), (96, 72)]),
    blanks=st.integers(0, 3),
    compressed=st.booleans(),
    one_scene=st.booleans(),
    seed=st.integers(0, 10_000),
)
def test_any_layout_of_real_frames_is_read_right(
    columns: int,
    rows: int,
    frame: tuple[int, int],
    blanks: int,
    compressed: bool,
    one_scene: bool,
    seed: int,
) -> None:
    tiles = columns * rows
    frames = max(tiles - blanks, min(tiles, 2))
    image = sheet(columns, rows, frame_size=frame, frames=frames, seed=seed, one_scene=one_scene)
    if compressed:
        image = jpeg(image, quality=70)
    found = read(image, frame)
    if tiles < 2:
        assert found is None  # one frame: a thumbnail
    else:
        # Never a wrong grid: the right one, or (rarely, for frames that happen to
        # meet without a seam) none.
        assert found in ((columns, rows, frames), None)


def test_enough_layouts_are_found_not_just_never_wrong() -> None:
    found = 0
    cases = [(c, r, f) for c in (2, 3, 5) for r in (2, 4) for f in (PORTRAIT, LANDSCAPE)]
    for n, (columns, rows, frame) in enumerate(cases):
        image = jpeg(sheet(columns, rows, frame_size=frame, seed=n), quality=70)
        found += read(image, frame) == (columns, rows, columns * rows)
    assert found == len(cases)


# The provider's word and the catalog's pin.


def test_the_providers_layout_wins_over_the_seams() -> None:
    image = sheet(5, 4, frame_size=PORTRAIT, seed=1)
    said = SpriteLayout(columns=10, rows=8, frames=75)
    assert read(image, PORTRAIT, provider=said) == (10, 8, 75)
    grid = grid_of(image, "720x1280", provider=SpriteLayout(columns=5, rows=4))
    assert grid == SpriteGrid(5, 4, 20, "provider")  # frames counted when not said


def test_a_pin_that_fits_the_sheet_wins_over_the_seams() -> None:
    image = sheet(5, 5, frame_size=PORTRAIT, seed=2, border=6, one_scene=False)  # no seams
    assert read(image, PORTRAIT) is None
    assert grid_of(image, "720x1280", pin=(5, 5)) == SpriteGrid(5, 5, 25, "catalog")
    # A pin whose tiles do not have the video's shape is not this sheet's layout.
    assert grid_of(image, "720x1280", pin=(5, 2)) is None
    assert read(sheet(5, 4, frame_size=PORTRAIT, seed=2), PORTRAIT, pin=(5, 2)) == (5, 4, 20)


@pytest.mark.parametrize(
    ("field", "layout"),
    [
        ({"columns": 5, "rows": 4, "frames": 18}, SpriteLayout(5, 4, 18)),
        ({"cols": "10", "rows": 10.0, "frame_count": 99}, SpriteLayout(10, 10, 99)),
        ({"columns": 5, "rows": 2, "frames": 40}, SpriteLayout(5, 2, None)),  # more than fit
        ({"columns": 1, "rows": 1}, None),  # one tile is a thumbnail
        ({"columns": 0, "rows": 3}, None),
        ({"columns": 2.5, "rows": 3}, None),
        ({"columns": True, "rows": 3}, None),
        ({"rows": 3}, None),
        ("5x4", None),
        (None, None),
    ],
)
def test_the_provider_may_say_its_layout_and_odd_answers_are_ignored(
    field: Any, layout: SpriteLayout | None
) -> None:
    remote = RemoteVideo.from_json({"id": "v1", "status": "completed", "spritesheet": field})
    assert remote.spritesheet == layout
    assert RemoteVideo.from_json({"id": "v1", "sprite_sheet": field}).spritesheet == layout
    assert RemoteVideo.from_json({"id": "v1"}).spritesheet is None


# Through archiving, with the simulator as the provider.


def _submit(owner: Any, client: ProviderClient, spec: ModelSpec | None = None) -> Video:
    spec = spec or find_model("Sora-2")
    assert spec is not None
    video = services.video_submit(
        owner=owner,
        spec=spec,
        prompt="a kite",
        seconds=4,
        size="720x1280",
        image=None,
        client=client,
    )
    return sent(video, client)


class SaysLayout(httpx.BaseTransport):
    """The simulator, with a `spritesheet` object added to every video it describes."""

    def __init__(self, inner: httpx.BaseTransport, layout: dict[str, Any]) -> None:
        self.inner, self.layout = inner, layout

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.method != "GET" or "/content" in request.url.path:
            return response
        response.read()
        try:
            body = json.loads(response.content)
        except ValueError:
            return response
        if isinstance(body, dict) and "status" in body:
            body["spritesheet"] = self.layout
        headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
        return httpx.Response(response.status_code, headers=headers, json=body)


@pytest.mark.django_db
def test_archiving_records_the_providers_layout(
    owner: Any, simulator: Simulator, clock: FakeClock
) -> None:
    client = ProviderClient(
        base_url="http://simulator.test/v1",
        api_key="sk-test",
        transport=SaysLayout(simulator.transport(), {"columns": 5, "rows": 2, "frames": 9}),
        sleep=lambda seconds: None,
    )
    try:
        video = _submit(owner, client)
        clock.advance(60)
        video = refresh.video_refresh(video=video, client=client)
    finally:
        client.close()
    assert video.is_archived
    assert (video.sprite_columns, video.sprite_rows, video.sprite_frames) == (5, 2, 9)
    assert video.sprite_source == "provider"


@pytest.mark.django_db
def test_archiving_uses_the_catalogs_pin(
    owner: Any, provider: ProviderClient, clock: FakeClock
) -> None:
    entry = CatalogEntry.objects.get(name="Sora-2")
    entry.sprite_columns, entry.sprite_rows = 5, 2
    entry.full_clean()
    entry.save()
    video = _submit(owner, provider)
    clock.advance(60)
    video = refresh.video_refresh(video=video, client=provider)
    assert (video.sprite_columns, video.sprite_rows, video.sprite_frames) == (5, 2, 10)
    assert video.sprite_source == "catalog"


@pytest.mark.django_db
def test_a_model_with_another_layout_is_read_end_to_end(
    owner: Any, clock: FakeClock, tmp_path: Path, client_for: Any
) -> None:
    # The simulator's Sora-3 lays 14 frames out 4 across: a square grid, the last
    # row half blank, on a sheet with the shape of one frame.
    simulator = Simulator(
        clock=clock,
        queue_seconds=2,
        render_seconds=10,
        cache_dir=tmp_path / "sim",
        fps=4,
        models=["Sora-2", "Sora-3"],
    )
    client = client_for(simulator)
    catalog_sync(client=client)  # Sora-3 arrives from the provider
    spec = CatalogEntry.objects.get(name="Sora-3").to_spec()
    try:
        video = _submit(owner, client, spec)
        clock.advance(60)
        video = refresh.video_refresh(video=video, client=client)
    finally:
        client.close()
    assert video.is_archived and video.model == "Sora-3"
    assert (video.sprite_columns, video.sprite_rows, video.sprite_frames) == (4, 4, 14)
    assert video.has_preview


# Grids stored by the old guess, and the command that reads them again.


def _jpeg_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=80)
    return buffer.getvalue()


@pytest.mark.django_db
def test_the_command_reads_old_grids_again(owner: Any, capsys: Any) -> None:
    square = archived_video(
        owner, spritesheet=_jpeg_bytes(sheet(5, 5, frame_size=PORTRAIT, seed=4))
    )
    blank = archived_video(owner, spritesheet=_jpeg_bytes(Image.new("RGB", (360, 640))))
    # What the old guess stored: 2x2 for a 5x5 sheet, 1x1 for a single picture.
    Video.objects.filter(pk=square.pk).update(sprite_columns=2, sprite_rows=2)
    Video.objects.filter(pk=blank.pk).update(sprite_columns=1, sprite_rows=1)

    call_command("sprites_detect", "--dry-run")
    assert "would change" in capsys.readouterr().out
    square.refresh_from_db()
    assert (square.sprite_columns, square.sprite_rows) == (2, 2)  # untouched

    call_command("sprites_detect")
    out = capsys.readouterr().out
    assert "Read 2 spritesheets: 1 with a grid, 1 without; 2 changed." in out
    square.refresh_from_db()
    blank.refresh_from_db()
    assert (square.sprite_columns, square.sprite_rows, square.sprite_frames) == (5, 5, 25)
    assert square.sprite_source == "seams" and square.has_preview
    assert blank.sprite_columns is None and not blank.has_preview


@pytest.mark.django_db
def test_the_migration_forgets_grids_the_old_guess_stored(owner: Any) -> None:
    from importlib import import_module

    from django.apps import apps

    forget = import_module("videostudio.videos.migrations.0012_forget_guessed_sprite_grids").forget
    old = archived_video(owner)
    read_now = archived_video(owner)
    Video.objects.filter(pk=old.pk).update(sprite_columns=2, sprite_rows=2)
    Video.objects.filter(pk=read_now.pk).update(
        sprite_columns=5, sprite_rows=2, sprite_frames=10, sprite_source="seams"
    )
    forget(apps, None)
    old.refresh_from_db()
    read_now.refresh_from_db()
    assert old.sprite_columns is None and old.sprite_rows is None
    assert (read_now.sprite_columns, read_now.sprite_rows, read_now.sprite_frames) == (5, 2, 10)


def test_a_card_shows_no_preview_without_a_grid_of_two_frames_or_more() -> None:
    video = Video(spritesheet_file="s.jpg", sprite_columns=5, sprite_rows=2, size="720x1280")
    assert not video.has_preview  # no frame count: a grid from the old guess
    video.sprite_frames = 10
    assert video.has_preview and video.frame_size == (720, 1280)
    video.sprite_frames = 1
    assert not video.has_preview
    assert Video(size="").frame_size is None and Video(size="axb").frame_size is None


def test_flat_edges_kit_really_has_flat_edges() -> None:
    # The border test above means something only if the kit's borders meet flatly.
    image = sheet(2, 1, frame_size=PORTRAIT, seed=1, border=6)
    left, right = image.getpixel((PORTRAIT[0] - 1, 50)), image.getpixel((PORTRAIT[0], 50))
    assert left == right == (128, 128, 128)


def _swept(owner: Any, transport: Any, clock: FakeClock) -> Video:
    """A job sent through `transport`, finished, and taken in by one tracker sweep."""
    from videostudio.videos import tracking

    client = ProviderClient(
        base_url="http://simulator.test/v1",
        api_key="sk-test",
        transport=transport,
        sleep=lambda seconds: None,
    )
    try:
        video = _submit(owner, client)
        clock.advance(30)
        Video.objects.exclude(next_poll_at=None).update(next_poll_at=timezone.now())
        tracking.videos_sweep(client=client, seconds=10)
    finally:
        client.close()
    video.refresh_from_db()
    return video


@pytest.mark.django_db
def test_the_sweep_archives_with_the_catalogs_pin_and_the_providers_word(
    owner: Any, simulator: Simulator, clock: FakeClock
) -> None:

    entry = CatalogEntry.objects.get(name="Sora-2")
    entry.sprite_columns, entry.sprite_rows = 5, 2
    entry.save()
    pinned = _swept(owner, simulator.transport(), clock)
    assert pinned.is_archived and pinned.sprite_source == "catalog"
    assert (pinned.sprite_columns, pinned.sprite_rows, pinned.sprite_frames) == (5, 2, 10)

    # The provider's word, seen when it was polled, outranks the pin at archiving.
    layout = {"columns": 5, "rows": 2, "frames": 8}
    said = _swept(owner, SaysLayout(simulator.transport(), layout), clock)
    assert said.is_archived and said.sprite_source == "provider"
    assert said.sprite_frames == 8


@pytest.mark.django_db
def test_a_pin_needs_both_columns_and_rows_and_two_tiles() -> None:
    from django.core.exceptions import ValidationError

    entry = CatalogEntry.objects.get(name="Sora-2")
    entry.sprite_columns = 5
    with pytest.raises(ValidationError) as caught:
        entry.full_clean()
    assert "Give both columns and rows" in str(caught.value)
    entry.sprite_columns, entry.sprite_rows = 1, 1
    with pytest.raises(ValidationError):
        entry.full_clean()
    entry.sprite_columns, entry.sprite_rows = 5, 4
    entry.full_clean()
    assert entry.to_spec().sprite_pin == (5, 4)


@pytest.mark.django_db
def test_the_command_skips_a_sheet_storage_will_not_give_and_goes_on(
    owner: Any, capsys: Any, monkeypatch: Any
) -> None:
    from videostudio.videos.management.commands import sprites_detect

    broken = archived_video(
        owner, spritesheet=_jpeg_bytes(sheet(5, 2, frame_size=PORTRAIT, seed=5))
    )
    fine = archived_video(owner, spritesheet=_jpeg_bytes(sheet(5, 2, frame_size=PORTRAIT, seed=6)))
    real = sprites_detect.video_sprites_detect

    class ClientError(Exception):  # what boto3 raises for a bucket that says no
        pass

    def detect(*, video: Video, save: bool) -> Any:
        if video.pk == broken.pk:
            raise ClientError("AccessDenied")
        return real(video=video, save=save)

    monkeypatch.setattr(sprites_detect, "video_sprites_detect", detect)
    call_command("sprites_detect")
    out, err = capsys.readouterr()
    assert f"Video {broken.pk}: its spritesheet could not be read (AccessDenied)" in err
    assert "Read 1 spritesheets" in out and "1 could not be read" in out
    fine.refresh_from_db()
    assert (fine.sprite_columns, fine.sprite_rows) == (5, 2)
