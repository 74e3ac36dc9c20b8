"""The simulator's own model table.

Deliberately separate from `videostudio.provider.catalog`: the simulator plays the
part of a remote provider, so it must not share code (or bugs) with the client
that talks to it. The numbers mirror Poe's published limits; prices are made up.
"""

from __future__ import annotations

from dataclasses import dataclass

PORTRAIT = "720x1280"
LANDSCAPE = "1280x720"

# Every size any model accepts. Job ids store a size as an index into this tuple,
# so only ever APPEND to it (reordering would change the meaning of old ids).
SIZES: tuple[str, ...] = (PORTRAIT, LANDSCAPE, "1024x1792", "1792x1024")

MAX_LINEAGE_SECONDS = 120  # OpenAI's cap on original + extensions for Sora


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


_SORA_DURATIONS = (4, 8, 12, 16, 20)
_VEO_DURATIONS = (4, 6, 8)

# Job ids store a model as an index into this tuple: only ever APPEND to it.
VIDEO_MODELS: tuple[SimModel, ...] = (
    SimModel("Sora-2", "openai", _SORA_DURATIONS, 4, (PORTRAIT, LANDSCAPE), 1000, True, True),
    SimModel("Sora-2-Pro", "openai", _SORA_DURATIONS, 4, SIZES, 3000, True, True),
    SimModel("Veo-2", "google", _VEO_DURATIONS, 8, (PORTRAIT, LANDSCAPE), 1500),
    SimModel("Veo-3", "google", _VEO_DURATIONS, 8, (PORTRAIT, LANDSCAPE), 2500),
    SimModel("Veo-3-Fast", "google", _VEO_DURATIONS, 8, (PORTRAIT, LANDSCAPE), 1200),
    SimModel("Veo-3.1", "google", _VEO_DURATIONS, 8, (PORTRAIT, LANDSCAPE), 2500),
    SimModel("Veo-3.1-Fast", "google", _VEO_DURATIONS, 8, (PORTRAIT, LANDSCAPE), 1200),
)

# Listed by GET /v1/models so a catalog sync has something to filter out.
_OTHER_MODELS: tuple[tuple[str, str, list[str], list[str]], ...] = (
    ("Claude-Sonnet-4.5", "anthropic", ["text", "image"], ["text"]),
    ("GPT-Image-1", "openai", ["text", "image"], ["image"]),
)

_CREATED = 1_759_000_000  # a fixed "created" stamp: the list must not change run to run


def find_model(name: str) -> SimModel | None:
    """The model called `name`, matched without regard to case."""
    wanted = name.strip().lower()
    for model in VIDEO_MODELS:
        if model.name.lower() == wanted:
            return model
    return None


def model_index(model: SimModel) -> int:
    return VIDEO_MODELS.index(model)


def models_payload() -> dict[str, object]:
    """The body of GET /v1/models, in the OpenAI list shape Poe uses."""
    data: list[dict[str, object]] = [
        {
            "id": model.name,
            "object": "model",
            "created": _CREATED,
            "owned_by": model.owned_by,
            "architecture": {
                "input_modalities": ["text", "image"],
                "output_modalities": ["video"],
                "modality": "text,image->video",
            },
        }
        for model in VIDEO_MODELS
    ]
    for name, owner, inputs, outputs in _OTHER_MODELS:
        data.append(
            {
                "id": name,
                "object": "model",
                "created": _CREATED,
                "owned_by": owner,
                "architecture": {
                    "input_modalities": inputs,
                    "output_modalities": outputs,
                    "modality": f"{','.join(inputs)}->{','.join(outputs)}",
                },
            }
        )
    return {"object": "list", "data": data}
