"""Forget the spritesheet grids guessed from a sheet's shape alone.

That guess could not tell a grid from its multiples (a 10x4 sheet has the shape of
a 5x2 one, a 5x5 sheet of portrait frames the shape of one frame, read as 2x2), so
none of the grids it stored is known to be right, and a wrong one shows a mosaic.
Without a grid a card shows its thumbnail. `manage.py sprites_detect` reads the
grids again from the archived sheets (it is not run here: migrations should not
read every media file, which may sit in a bucket).
"""

from __future__ import annotations

from django.db import migrations


def forget(apps, schema_editor):  # type: ignore[no-untyped-def]
    Video = apps.get_model("videos", "Video")
    Video.objects.filter(sprite_source="", sprite_columns__isnull=False).update(
        sprite_columns=None, sprite_rows=None, sprite_frames=None
    )


class Migration(migrations.Migration):
    dependencies = [("videos", "0011_sprite_frames_and_source")]

    operations = [migrations.RunPython(forget, migrations.RunPython.noop)]
