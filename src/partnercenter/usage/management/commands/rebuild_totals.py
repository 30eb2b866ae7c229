"""`partnercenter rebuild-totals [--only daily_rollups|customer_totals]`."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from partnercenter.usage import rebuild


class Command(BaseCommand):
    help = (
        "Recompute the ledger's derived totals (daily rollups, customer running totals) from the "
        "stored line items, in one transaction while ingestion waits."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--only", choices=rebuild.PROJECTIONS, action="append", help="rebuild only this one (repeatable)"
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        counts = rebuild.rebuild_totals(opts.get("only") or None)
        for name, rows in counts.items():
            self.stdout.write(f"{name}: {rows} row(s) rebuilt")
