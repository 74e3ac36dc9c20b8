"""What the provider offers, as data.

Models come and go (OpenAI retired its own Sora API on 2026-09-24), so nothing in
the code branches on a model name: every rule a form or a service applies is read
from a `ModelSpec`. This module holds today's defaults; the app stores its own
editable copy.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PORTRAIT = "720x1280"
LANDSCAPE = "1280x720"


@dataclass(frozen=True)
class ModelSpec:
    name: str  # what the provider calls it (a Poe bot name)
    label: str
    family: str  # who makes it: "openai", "google", ...
    durations: tuple[int, ...]  # allowed `seconds` for a new video
    default_seconds: int
    sizes: tuple[str, ...]
    default_size: str = PORTRAIT
    image_input: bool = True
    remix: bool = False
    extend: bool = False
    # Longest a lineage (original + extensions) may run, in seconds; None: no extensions.
    max_lineage_seconds: int | None = None
    notes: str = ""
    aliases: tuple[str, ...] = field(default=())


_SORA_DURATIONS = (4, 8, 12, 16, 20)
_VEO_DURATIONS = (4, 6, 8)

DEFAULT_CATALOG: tuple[ModelSpec, ...] = (
    ModelSpec(
        name="Sora-2",
        label="Sora 2",
        family="openai",
        durations=_SORA_DURATIONS,
        default_seconds=4,
        sizes=(PORTRAIT, LANDSCAPE),
        remix=True,
        extend=True,
        max_lineage_seconds=120,
    ),
    ModelSpec(
        name="Sora-2-Pro",
        label="Sora 2 Pro (1080p)",
        family="openai",
        durations=_SORA_DURATIONS,
        default_seconds=4,
        sizes=(PORTRAIT, LANDSCAPE, "1024x1792", "1792x1024"),
        remix=True,
        extend=True,
        max_lineage_seconds=120,
    ),
    *(
        ModelSpec(
            name=name,
            label=name.replace("-", " "),
            family="google",
            durations=_VEO_DURATIONS,
            default_seconds=8,
            sizes=(PORTRAIT, LANDSCAPE),
        )
        for name in ("Veo-2", "Veo-3", "Veo-3-Fast", "Veo-3.1", "Veo-3.1-Fast")
    ),
)


def find_model(name: str, catalog: tuple[ModelSpec, ...] = DEFAULT_CATALOG) -> ModelSpec | None:
    """The spec for `name`, matched without regard to case ("sora-2" is "Sora-2")."""
    wanted = name.strip().lower()
    for spec in catalog:
        if spec.name.lower() == wanted or wanted in (a.lower() for a in spec.aliases):
            return spec
    return None
