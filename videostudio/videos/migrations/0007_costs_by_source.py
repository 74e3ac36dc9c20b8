"""Costs by their source: "measured" splits into reported (the job's own usage) and
ledger (an attributed charge); failed jobs cost nothing; unsettled sends get their
own status; a cost counts when its charge was made."""

from django.db import migrations

POINT_KEYS = ("cost_points", "points", "total_points", "cost")


def reported(usage):
    if not isinstance(usage, dict):
        return None
    for key in POINT_KEYS:
        value = usage.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
            return int(value)
    return None


def forwards(apps, schema_editor):
    video = apps.get_model("videos", "Video")
    ledger = apps.get_model("usage", "LedgerEntry")
    charges = dict(ledger.objects.filter(video__isnull=False).values_list("video_id", "created_at"))
    for row in video.objects.all().iterator():
        row.cost_at = charges.get(row.pk, row.created_at)
        if row.status == "failed" and row.error_code == "unsettled":
            row.status, row.cost_points, row.cost_source = "unsettled", None, ""
        elif row.status == "failed" and row.error_code != "charged_untracked":
            row.cost_points, row.cost_source, row.reserved_points = 0, "none", 0
        elif row.cost_source == "measured":
            points = reported(row.usage)
            if points is not None:
                row.cost_points, row.cost_source = points, "reported"
            else:
                row.cost_source = "ledger"
        row.save(update_fields=["cost_at", "status", "cost_points", "cost_source", "reserved_points"])


class Migration(migrations.Migration):
    dependencies = [
        ("videos", "0006_video_cost_at_alter_video_cost_source_and_more"),
        ("usage", "0002_usagepolicy_ledger_complete_until"),
    ]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
