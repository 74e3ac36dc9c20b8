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
    # List prices in Poe points (about 33,000 a dollar), estimates only: what the
    # provider reports for a job always wins. HD: 1024 px or more on the short side.
    points_per_second: float | None = None
    hd_points_per_second: float | None = None
    # The spritesheet layout the model is known to use (columns, rows), when someone
    # pinned it; None: read it from the sheet.
    sprite_columns: int | None = None
    sprite_rows: int | None = None

    @property
    def sprite_pin(self) -> tuple[int, int] | None:
        if self.sprite_columns and self.sprite_rows:
            return (self.sprite_columns, self.sprite_rows)
        return None


POINTS_PER_DOLLAR = 33_000  # Poe's add-on points: about $30 per million
# Late-2026 list prices in dollars per second (see DESIGN.md); HD where it differs.
LIST_PRICES: dict[str, tuple[float, float | None]] = {
    "Sora-2": (0.10, None),
    "Sora-2-Pro": (0.30, 0.50),
    "Veo-2": (0.50, None),
    "Veo-3": (0.40, None),
    "Veo-3.1": (0.40, None),
    "Veo-3-Fast": (0.15, None),
    "Veo-3.1-Fast": (0.15, None),
}


def list_points(name: str) -> tuple[float | None, float | None]:
    """Seed points per second (standard, HD) for a model, from its list price."""
    dollars, hd = LIST_PRICES.get(name, (None, None))
    return (
        round(dollars * POINTS_PER_DOLLAR) if dollars is not None else None,
        round(hd * POINTS_PER_DOLLAR) if hd is not None else None,
    )


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
        points_per_second=list_points("Sora-2")[0],
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
        points_per_second=list_points("Sora-2-Pro")[0],
        hd_points_per_second=list_points("Sora-2-Pro")[1],
    ),
    *(
        ModelSpec(
            name=name,
            label=name.replace("-", " "),
            family="google",
            durations=_VEO_DURATIONS,
            default_seconds=8,
            sizes=(PORTRAIT, LANDSCAPE),
            points_per_second=list_points(name)[0],
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
