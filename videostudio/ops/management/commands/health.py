"""`manage.py health`: the /health/ report on the command line, exit 0 (healthy) or 1.

The worker container's healthcheck runs `manage.py health --worker`: the tracker's
heartbeat alone, which needs no web server.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from videostudio.ops.health import ALL, WEB, health_report


class Command(BaseCommand):
    help = "Check the studio's health (as /health/ does); exit 0 when healthy, 1 otherwise."

    def add_arguments(self, parser: CommandParser) -> None:
        which = parser.add_mutually_exclusive_group()
        which.add_argument("--worker", action="store_true", help="only the worker's heartbeat")
        which.add_argument("--web", action="store_true", help="only the database and the cache")

    def handle(self, *args: Any, worker: bool, web: bool, **options: Any) -> None:
        only = ("worker",) if worker else WEB if web else ALL
        report = health_report(only=only)
        for check in report.checks:
            line = f"{check.name}: {check.code}"
            if options["verbosity"] > 1 and check.detail:
                line += f" ({check.detail})"
            self.stdout.write(line)
        if not report.ok:
            # SystemExit, not CommandError: the codes above say it all, no traceback line.
            raise SystemExit(1)
