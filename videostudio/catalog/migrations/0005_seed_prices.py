"""Seed list prices (late 2026, about 33,000 Poe points a dollar) as estimates.

A frozen copy: migrations must not change when `provider/catalog.py` does.
"""

from django.db import migrations

PRICES = {
    "sora-2": (3300, None),
    "sora-2-pro": (9900, 16500),
    "veo-2": (16500, None),
    "veo-3": (13200, None),
    "veo-3.1": (13200, None),
    "veo-3-fast": (4950, None),
    "veo-3.1-fast": (4950, None),
}


def seed_prices(apps, schema_editor):
    entry = apps.get_model("catalog", "CatalogEntry")
    for row in entry.objects.all():
        if row.points_per_second:
            row.price_source = "admin"  # an admin set it before prices were seeded
        elif row.name.lower() in PRICES:
            row.points_per_second, row.hd_points_per_second = PRICES[row.name.lower()]
            row.price_source = "seed"
        else:
            continue
        row.save(update_fields=["points_per_second", "hd_points_per_second", "price_source"])


class Migration(migrations.Migration):
    dependencies = [("catalog", "0004_catalogentry_hd_points_per_second_and_more")]
    operations = [migrations.RunPython(seed_prices, migrations.RunPython.noop)]
