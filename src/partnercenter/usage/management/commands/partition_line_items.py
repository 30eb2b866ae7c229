"""`partnercenter partition-line-items [--detach YYYY-MM]`: line items partitioned by month on
PostgreSQL (docs/scaling.md). Opt-in, run by an operator in a maintenance window."""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError, CommandParser

from partnercenter.usage import partitioning


def _month(text: str) -> dt.date:
    try:
        return dt.datetime.strptime(text, "%Y-%m").date()  # noqa: DTZ007 - a calendar month, no instant
    except ValueError:
        raise CommandError(f"month must be YYYY-MM, not {text!r}") from None


class Command(BaseCommand):
    help = (
        "Convert the line items table into one partitioned by month (PostgreSQL), or with --detach "
        "YYYY-MM detach a past month's partition from it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--detach", metavar="YYYY-MM", help="detach this past month's partition")

    def handle(self, *args: object, **opts: object) -> None:
        try:
            if opts["detach"]:
                month = _month(str(opts["detach"]))
                name = partitioning.detach_month(month)
                self.stdout.write(f"Detached {month:%Y-%m}: its line items are in the table {name}.")
                return
            months = partitioning.partition_line_items()
        except partitioning.PartitioningError as e:
            raise CommandError(str(e)) from None
        listed = ", ".join(f"{m:%Y-%m}" for m in months)
        self.stdout.write(f"{partitioning.TABLE} is partitioned by month: {listed} (and a DEFAULT partition).")
