"""The simulator's own model table.

Deliberately separate from `videostudio.provider.catalog`: the simulator plays the
part of a remote provider, so it must not share code (or bugs) with the client
that talks to it. The limits and the prices mirror Poe's published ones.

Prices are points per second of footage. Some models charge more for large
sizes: `SimModel.hd_points_per_second` applies to a size whose shorter side is
`HD_MIN_SIDE` (1024) pixels or more, `points_per_second` to the rest (None: one
price for every size); `SimModel.points_per_second_for(size)` picks the one.

    Sora-2          3000
    Sora-2-Pro      9000 at 720x1280 and 1280x720; 15000 at 1024x1792 and 1792x1024
                    (and at 1080x1920 and 1920x1080, which it does not accept today)
    Veo-2          15000
    Veo-3          12000         Veo-3-Fast      4500
    Veo-3.1        12000         Veo-3.1-Fast    4500
    Sora-3          6000 at 720p; 10000 at 1080p (not offered by default)

A job costs its billed seconds times its model's price at its size (see
`jobs.Job.cost_points`; an extension pays for its new seconds only).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

PORTRAIT = "720x1280"
LANDSCAPE = "1280x720"
PORTRAIT_1080P = "1080x1920"
LANDSCAPE_1080P = "1920x1080"

# Every size any model accepts. Job ids store a size as an index into this tuple,
# so only ever APPEND to it (reordering would change the meaning of old ids).
SIZES: tuple[str, ...] = (
    PORTRAIT,
    LANDSCAPE,
    "1024x1792",
    "1792x1024",
    PORTRAIT_1080P,
    LANDSCAPE_1080P,
)

MAX_LINEAGE_SECONDS = 120  # OpenAI's cap on original + extensions for Sora

# A size whose shorter side is at least this many pixels pays `hd_points_per_second`.
HD_MIN_SIDE = 1024


def is_large_size(size: str) -> bool:
    """Whether `size` ("WIDTHxHEIGHT") has a shorter side of `HD_MIN_SIDE` or more."""
    width, sep, height = size.lower().partition("x")
    if not sep or not width.isdigit() or not height.isdigit():
        raise ValueError(f"size must be WIDTHxHEIGHT, not {size!r}")
    return min(int(width), int(height)) >= HD_MIN_SIDE


@dataclass(frozen=True)
class SimModel:
    name: str
    owned_by: str
    durations: tuple[int, ...]
    default_seconds: int
    sizes: tuple[str, ...]
    points_per_second: int
    remix: bool = False
    extend: bool = False
    description: str = ""
    # False for a model the provider has not launched yet: tests switch it on to
    # rehearse a catalog that changes under the app (see `Simulator(models=...)`).
    offered_by_default: bool = True
    # The price for large sizes (see `is_large_size`); None: `points_per_second` for all.
    hd_points_per_second: int | None = None
    # Its spritesheets: this many frames, this many across (the last row may be short).
    # Providers do not say; the app reads the grid from the sheet.
    sprite_columns: int = 5
    sprite_tiles: int = 10

    def points_per_second_for(self, size: str) -> int:
        """Points per second of footage at `size`."""
        if self.hd_points_per_second is not None and is_large_size(size):
            return self.hd_points_per_second
        return self.points_per_second


_SORA_DURATIONS = (4, 8, 12, 16, 20)
_VEO_DURATIONS = (4, 6, 8)
_PORTRAIT_LANDSCAPE = (PORTRAIT, LANDSCAPE)


def _sora(
    name: str,
    points_per_second: int,
    sizes: tuple[str, ...],
    blurb: str,
    durations: tuple[int, ...] = _SORA_DURATIONS,
    offered_by_default: bool = True,
    hd_points_per_second: int | None = None,
    sprite_columns: int = 5,
    sprite_tiles: int = 10,
) -> SimModel:
    longest = max(durations)
    description = f"{blurb}: create, remix and extend, up to {longest} seconds"
    return SimModel(
        name,
        "openai",
        durations,
        4,
        sizes,
        points_per_second,
        remix=True,
        extend=True,
        description=description,
        offered_by_default=offered_by_default,
        hd_points_per_second=hd_points_per_second,
        sprite_columns=sprite_columns,
        sprite_tiles=sprite_tiles,
    )


def _veo(name: str, points_per_second: int, blurb: str) -> SimModel:
    description = f"{blurb}: create only, up to 8 seconds"
    return SimModel(
        name,
        "google",
        _VEO_DURATIONS,
        8,
        _PORTRAIT_LANDSCAPE,
        points_per_second,
        description=description,
    )


# Job ids store a model as an index into this tuple: only ever APPEND to it.
VIDEO_MODELS: tuple[SimModel, ...] = (
    _sora("Sora-2", 3000, _PORTRAIT_LANDSCAPE, "OpenAI's Sora 2 video model"),
    _sora(
        "Sora-2-Pro",
        9000,
        SIZES[:4],
        "OpenAI's Sora 2 Pro, higher fidelity",
        hd_points_per_second=15000,
    ),
    _veo("Veo-2", 15000, "Google's Veo 2 video model"),
    _veo("Veo-3", 12000, "Google's Veo 3 video model, with sound"),
    _veo("Veo-3-Fast", 4500, "A faster, cheaper Veo 3"),
    _veo("Veo-3.1", 12000, "Google's Veo 3.1 video model, with sound"),
    _veo("Veo-3.1-Fast", 4500, "A faster, cheaper Veo 3.1"),
    # Not launched yet: tests offer it to watch the app's catalog grow.
    _sora(
        "Sora-3",
        6000,
        (PORTRAIT, LANDSCAPE, PORTRAIT_1080P, LANDSCAPE_1080P),
        "OpenAI's Sora 3 video model, up to 1080p",
        durations=(*_SORA_DURATIONS, 25),
        offered_by_default=False,
        hd_points_per_second=10000,
        # A square grid whose last row is short: a sheet with the shape of one frame.
        sprite_columns=4,
        sprite_tiles=14,
    ),
)

DEFAULT_MODELS: tuple[str, ...] = tuple(m.name for m in VIDEO_MODELS if m.offered_by_default)

# Listed by GET /v1/models so a catalog sync has something to filter out.
_OTHER_MODELS: tuple[tuple[str, str, list[str], list[str], str], ...] = (
    ("Claude-Sonnet-4.5", "anthropic", ["text", "image"], ["text"], "Anthropic's Claude"),
    ("GPT-Image-1", "openai", ["text", "image"], ["image"], "OpenAI's image model"),
)

_CREATED = 1_759_000_000  # a fixed "created" stamp: the list must not change run to run


def find_model(name: str) -> SimModel | None:
    """The model called `name`, matched without regard to case (offered or not)."""
    wanted = name.strip().lower()
    for model in VIDEO_MODELS:
        if model.name.lower() == wanted:
            return model
    return None


def resolve_models(names: Iterable[str]) -> frozenset[SimModel]:
    """The models called `names`; a name the table lacks is a mistake, so ValueError."""
    if isinstance(names, str):  # "Sora-2" would otherwise be read letter by letter
        raise TypeError("models must be an iterable of names, not one string")
    found: set[SimModel] = set()
    for name in names:
        model = find_model(name)
        if model is None:
            known = ", ".join(m.name for m in VIDEO_MODELS)
            raise ValueError(f"unknown simulator model {name!r}: known are {known}")
        found.add(model)
    return frozenset(found)


def model_index(model: SimModel) -> int:
    return VIDEO_MODELS.index(model)


def models_payload(offered: Iterable[SimModel] | None = None) -> dict[str, object]:
    """The body of GET /v1/models, in the OpenAI list shape Poe uses.

    Lists the `offered` video models (default: today's), in table order, then a
    few that make no video.
    """
    chosen = frozenset(offered) if offered is not None else resolve_models(DEFAULT_MODELS)
    data: list[dict[str, object]] = [
        _entry(model.name, model.owned_by, ["text", "image"], ["video"], model.description)
        for model in VIDEO_MODELS
        if model in chosen
    ]
    data.extend(_entry(*other) for other in _OTHER_MODELS)
    return {"object": "list", "data": data}


def _entry(
    name: str, owner: str, inputs: list[str], outputs: list[str], description: str
) -> dict[str, object]:
    return {
        "id": name,
        "object": "model",
        "created": _CREATED,
        "owned_by": owner,
        "description": description,
        "architecture": {
            "input_modalities": inputs,
            "output_modalities": outputs,
            "modality": f"{','.join(inputs)}->{','.join(outputs)}",
        },
    }
