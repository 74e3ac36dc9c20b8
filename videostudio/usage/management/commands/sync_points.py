"""Read the provider's points history and balance now, and say how the books close."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from videostudio.connection import get_client
from videostudio.usage import selectors
from videostudio.usage.services import balance_refresh, ledger_sync


class Command(BaseCommand):
    help = "Sync the points ledger and the team balance from the provider, then report."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--balance-only", action="store_true", help="Only read the team balance."
        )

    def handle(self, *args: Any, balance_only: bool, **options: Any) -> None:
        client = get_client()
        balance = balance_refresh(client=client)
        self.stdout.write(
            f"Balance: {balance} points" if balance is not None else "Balance: could not be read"
        )
        if balance_only:
            return
        report = ledger_sync(client=client)
        self.stdout.write(f"Ledger: {report}")
        books = selectors.books(selectors.default_scope())
        self.stdout.write(
            f"Last 30 days: the provider billed {books.ledger_total} points; "
            f"{books.attributed} attributed to jobs, {books.unattributed} unattributed. "
            f"Jobs cost {books.jobs_total}: {books.reported_unmatched} reported but not "
            f"matched, {books.estimated_only} estimated only. "
            + ("The books close." if books.closes else f"Off by {books.gap:+d} points.")
        )
        if report.error:
            raise CommandError(report.error)
