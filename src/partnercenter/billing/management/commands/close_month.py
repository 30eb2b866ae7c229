"""`partnercenter close-month [--month YYYY-MM]`: generate the partner bills that are due."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from partnercenter.billing import services
from partnercenter.core import clock


def _month(text: str) -> dt.date:
    if not re.fullmatch(r"\d{4}-\d{2}", text):
        raise CommandError(f"--month {text!r}: must be a month as YYYY-MM")
    try:
        return dt.date(int(text[:4]), int(text[5:]), 1)
    except ValueError:
        raise CommandError(f"--month {text!r}: no such month") from None


class Command(BaseCommand):
    help = (
        "Generate every partner bill that is due and not generated yet (the bill of month M is due "
        "from 00:00 on the 5th of M+1, billing time zone), or those up to --month (months are "
        "closed oldest first). "
        "Running it again changes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--month", help="close the due months up to this one (YYYY-MM); it must be due")

    def handle(self, *args: Any, **opts: Any) -> None:
        at = clock.now()
        month = _month(opts["month"]) if opts.get("month") else None
        if month is not None:
            if at < services.due_at(month):
                raise CommandError(
                    f"--month {opts['month']}: its bill is due from {services.due_at(month).isoformat()}; "
                    "nothing was changed."
                )
        result = services.catch_up(at, through=month)
        if not result.months:
            self.stdout.write("No bill is due that is not generated yet: nothing changed.")
        for month in result.months:
            self.stdout.write(f"{month:%Y-%m}: closed.")
        self.stdout.write(f"{result.bills} bill(s) generated, {result.estimates} estimate(s) refreshed.")
