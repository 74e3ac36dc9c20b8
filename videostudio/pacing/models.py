from __future__ import annotations

from django.db import models


class Bucket(models.Model):
    """One request budget shared through the database (`DatabaseBudget`).

    Times are wall-clock seconds (`time.time()`), the only clock hosts share: a
    refill is a sum of seconds, not a date, so floats keep the arithmetic exact
    and the same on SQLite and PostgreSQL.
    """

    name = models.CharField(max_length=100, primary_key=True)
    tokens = models.FloatField()
    updated = models.FloatField(help_text="When the tokens were counted (wall-clock seconds).")
    paused_until = models.FloatField(
        default=0.0, help_text="Nobody takes a token before this (wall-clock seconds)."
    )

    class Meta:
        db_table = "pacing_bucket"

    def __str__(self) -> str:
        return self.name
