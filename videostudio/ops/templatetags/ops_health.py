from __future__ import annotations

from typing import Any

from django import template

from videostudio.ops.health import health_report

register = template.Library()

LABELS = {
    "database": "Database",
    "cache": "Cache",
    "worker": "Worker",
    "polls": "Looks at the provider",
    "archives": "Saving finished videos",
    "sends": "Send queue",
}


@register.inclusion_tag("ops/health_panel.html")
def health_panel() -> dict[str, Any]:
    """The facts of /health/, with the counts and sentences only staff may read."""
    report = health_report()
    rows = [(LABELS.get(check.name, check.name), check) for check in report.checks]
    return {"report": report, "rows": rows}
