"""Syncs in separate processes at once (the schedule, the tracker, a staff member's
"Sync now", on several hosts): each charge still goes to one job, once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from videostudio.usage.models import LedgerEntry, UsagePolicy
from videostudio.videos.models import Video

from .factories import some_videos

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parent.parent

MATCHER = r"""
import json, sys, time
from django.conf import settings
settings.DATABASES["default"]["NAME"] = sys.argv[1]  # the test database
import django
django.setup()
from videostudio.usage.services import ledger_match
start = float(sys.argv[2])
while time.time() < start:
    time.sleep(0.002)
report = ledger_match()
print(json.dumps({"attributed": report.attributed, "busy": report.busy}))
"""


def test_matchers_in_several_processes_attribute_each_charge_once(owner: Any) -> None:
    sent = timezone.now() - timedelta(hours=1)
    jobs = some_videos(
        40, owner=owner, cost_points=12_000, cost_source="reported", completed_at=sent
    )
    Video.objects.update(created_at=sent - timedelta(minutes=1), cost_at=sent)
    LedgerEntry.objects.bulk_create(
        LedgerEntry(
            query_id=f"q-{i}",
            created_at=sent - timedelta(seconds=i),
            bot_name="Sora-2",
            cost_points=12_000,
        )
        for i in range(len(jobs))
    )
    UsagePolicy.current()
    UsagePolicy.objects.filter(pk=1).update(ledger_complete_until=timezone.now())
    start = time.time() + 2.0  # every process is ready by then, and they start together
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "videostudio.settings", "LOG_LEVEL": "ERROR"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", MATCHER, str(connection.settings_dict["NAME"]), str(start)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    reports = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-2000:]
        reports.append(json.loads(out.strip().splitlines()[-1]))

    assert sum(report["attributed"] for report in reports) == len(jobs)
    linked = list(LedgerEntry.objects.values_list("video_id", flat=True))
    assert None not in linked and len(set(linked)) == len(jobs)
    assert set(linked) == {job.pk for job in jobs}
    # Whoever waited found the work done: the books hold whatever the order.
    assert all(not report["busy"] for report in reports)
