"""Seed the catalog with the models the provider offers today (see DESIGN.md)."""

from django.db import migrations


def seed(apps, schema_editor):
    from videostudio.provider.catalog import DEFAULT_CATALOG

    entry = apps.get_model("catalog", "CatalogEntry")
    known = {name.lower() for name in entry.objects.values_list("name", flat=True)}
    entry.objects.bulk_create(
        entry(
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
            source="seed",
            position=index * 10,
        )
        for index, spec in enumerate(DEFAULT_CATALOG)
        if spec.name.lower() not in known
    )


class Migration(migrations.Migration):
    dependencies = [("catalog", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
