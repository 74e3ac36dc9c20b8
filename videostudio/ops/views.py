from __future__ import annotations

import logging

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from videostudio.ops.alerts import alerts_now_and_then
from videostudio.ops.health import ALL, WEB, health_report

log = logging.getLogger(__name__)


@login_not_required
@never_cache
@require_safe
def health(request: HttpRequest) -> JsonResponse:
    """200 when every check passes, else 503; codes only (anyone may ask).

    `?check=web` runs the web server's own checks (database and cache): its container
    must not be restarted because the worker is down."""
    only = WEB if request.GET.get("check") == "web" else ALL
    report = health_report(only=only)
    worker = report.get("worker")
    if worker is not None and not worker.ok:
        alerts_now_and_then(worker=worker)  # staff hear of it, even with nobody browsing
    response = JsonResponse(report.as_json(), status=200 if report.ok else 503)
    if not report.ok:
        # The answer a monitor asked for, not a server error: one warning naming the
        # failing codes instead of django.request's "Service Unavailable" error line.
        failing = ", ".join(f"{c.name}={c.code}" for c in report.checks if not c.ok)
        log.warning("health: failing %s", failing)
        response._has_been_logged = True  # type: ignore[attr-defined]
    return response
