from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from videostudio.provider.catalog import ModelSpec

_SIZE = re.compile(r"^\d{2,5}x\d{2,5}$")


def parse_durations(text: str) -> tuple[int, ...]:
    try:
        values = tuple(sorted({int(part) for part in text.replace(" ", "").split(",") if part}))
    except ValueError:
        raise ValidationError(
            "Durations are whole seconds separated by commas, e.g. 4, 8, 12."
        ) from None
    if not values or values[0] <= 0:
        raise ValidationError("List at least one duration, each above zero.")
    return values


def parse_sizes(text: str) -> tuple[str, ...]:
    values = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    bad = [value for value in values if not _SIZE.match(value)]
    if bad or not values:
        raise ValidationError(
            f"Sizes are WIDTHxHEIGHT separated by commas, e.g. 720x1280, 1280x720 (not {bad})."
        )
    return values


def is_hd(size: str) -> bool:
    """Sizes priced higher where a model's price depends on size (1024 px and up)."""
    width, _, height = size.partition("x")
    try:
        return min(int(width), int(height)) >= 1024
    except ValueError:
        return False


class CatalogEntry(models.Model):
    """One model the provider offers, and what this studio lets members do with it.

    Entries are never deleted: a model the provider stops listing is marked
    retired, so the videos made with it keep their model.
    """

    class Source(models.TextChoices):
        SEED = "seed", "Shipped with videostudio"
        PROVIDER = "provider", "Found at the provider"
        ADMIN = "admin", "Added by an admin"

    name = models.CharField(max_length=100, unique=True, help_text="The provider's name for it.")
    label = models.CharField(max_length=100)
    family = models.CharField(max_length=50, blank=True, help_text="Who makes it.")
    durations = models.CharField(
        max_length=200, help_text="Allowed lengths of a new video, in seconds: 4, 8, 12"
    )
    default_seconds = models.PositiveIntegerField()
    sizes = models.CharField(max_length=200, help_text="Allowed sizes: 720x1280, 1280x720")
    default_size = models.CharField(max_length=20, default="720x1280")
    image_input = models.BooleanField("takes a reference image", default=True)
    remix = models.BooleanField("can remix", default=False)
    extend = models.BooleanField("can extend", default=False)
    max_lineage_seconds = models.PositiveIntegerField(
        null=True, blank=True, help_text="Longest total of a video and its extensions."
    )

    class Price(models.TextChoices):
        SEED = "seed", "List price shipped with videostudio (an estimate)"
        ADMIN = "admin", "Set by an admin"
        NONE = "", "Not priced"

    points_per_second = models.FloatField(
        null=True, blank=True, help_text="What a second costs, to estimate jobs before they run."
    )
    hd_points_per_second = models.FloatField(
        "HD points per second",
        null=True,
        blank=True,
        help_text="What a second costs at sizes of 1024 pixels or more on the short side "
        "(empty: the same as above).",
    )
    price_source = models.CharField(max_length=5, choices=Price.choices, blank=True)
    learned_points_per_second = models.FloatField(
        null=True, blank=True, help_text="Learned from the costs the provider reported."
    )
    learned_hd_points_per_second = models.FloatField(
        "learned HD points per second",
        null=True,
        blank=True,
        help_text="Learned from the costs the provider reported at HD sizes.",
    )
    sprite_columns = models.PositiveSmallIntegerField(
        "spritesheet columns",
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="Pin the model's spritesheet layout, if you know it (empty: read "
        "from each sheet). Used when the sheet's tiles have the video's shape.",
    )
    sprite_rows = models.PositiveSmallIntegerField(
        "spritesheet rows",
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
    )
    enabled = models.BooleanField(default=True, help_text="Members can choose it for new videos.")
    position = models.PositiveIntegerField(default=100, help_text="Order in the form.")
    notes = models.TextField(blank=True)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.ADMIN)
    seen_at = models.DateTimeField(
        null=True, blank=True, help_text="When the provider last listed it."
    )
    retired_at = models.DateTimeField(
        null=True, blank=True, help_text="Set when the provider stopped offering it."
    )
    last_error = models.TextField(blank=True, help_text="The provider's last complaint about it.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "name"]
        verbose_name = "catalog model"
        verbose_name_plural = "catalog models"

    def __str__(self) -> str:
        return self.name

    def price_for(self, size: str) -> tuple[float | None, str]:
        """Points per second for a job of `size`, and where that comes from: "learned"
        (from what the provider reported), the price's own source ("seed" or
        "admin"), or "" when nobody priced the model. HD prices apply to HD sizes."""
        hd = is_hd(size)
        for rate, source in (
            (self.learned_hd_points_per_second if hd else None, "learned"),
            (self.hd_points_per_second if hd else None, self.price_source),
            (self.learned_points_per_second, "learned"),
            (self.points_per_second, self.price_source),
        ):
            if rate:
                return rate, source
        return None, ""

    def rate_for(self, size: str) -> float | None:
        """Points per second for a job of `size`: learned, else priced, else None."""
        return self.price_for(size)[0]

    @property
    def available(self) -> bool:
        return self.enabled and self.retired_at is None

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        try:
            durations = parse_durations(self.durations)
        except ValidationError as exc:
            errors["durations"] = exc.messages
            durations = ()
        try:
            sizes = parse_sizes(self.sizes)
        except ValidationError as exc:
            errors["sizes"] = exc.messages
            sizes = ()
        if durations and self.default_seconds not in durations:
            errors["default_seconds"] = ["The default must be one of the allowed durations."]
        if sizes and self.default_size not in sizes:
            errors["default_size"] = ["The default must be one of the allowed sizes."]
        if self.extend and not self.max_lineage_seconds:
            errors["max_lineage_seconds"] = ["A model that can extend needs a lineage cap."]
        if bool(self.sprite_columns) != bool(self.sprite_rows):
            field = "sprite_rows" if self.sprite_columns else "sprite_columns"
            errors[field] = ["Give both columns and rows, or neither."]
        elif (
            self.sprite_columns and self.sprite_rows and self.sprite_columns * self.sprite_rows < 2
        ):
            errors["sprite_columns"] = [
                "A spritesheet of one tile is a thumbnail: leave both empty."
            ]
        if errors:
            raise ValidationError(errors)
        self.durations = ", ".join(str(d) for d in durations)
        self.sizes = ", ".join(sizes)

    def to_spec(self) -> ModelSpec:
        return ModelSpec(
            name=self.name,
            label=self.label or self.name,
            family=self.family,
            durations=parse_durations(self.durations),
            default_seconds=self.default_seconds,
            sizes=parse_sizes(self.sizes),
            default_size=self.default_size,
            image_input=self.image_input,
            remix=self.remix,
            extend=self.extend,
            max_lineage_seconds=self.max_lineage_seconds,
            notes=self.notes,
            sprite_columns=self.sprite_columns,
            sprite_rows=self.sprite_rows,
        )

    @classmethod
    def from_spec(cls, spec: ModelSpec, **extra: object) -> CatalogEntry:
        return cls(
            name=spec.name,
            label=spec.label,
            family=spec.family,
            durations=", ".join(str(d) for d in spec.durations),
            default_seconds=spec.default_seconds,
            sizes=", ".join(spec.sizes),
            default_size=spec.default_size,
            image_input=spec.image_input,
            remix=spec.remix,
            extend=spec.extend,
            max_lineage_seconds=spec.max_lineage_seconds,
            notes=spec.notes,
            points_per_second=spec.points_per_second,
            hd_points_per_second=spec.hd_points_per_second,
            price_source=CatalogEntry.Price.SEED if spec.points_per_second else "",
            sprite_columns=spec.sprite_columns,
            sprite_rows=spec.sprite_rows,
            **extra,
        )
