"""`partnercenter exports purge`: expire export files older than 7 days, fail stale tasks."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser

from partnercenter.core import clock
from partnercenter.exports import services


class Command(BaseCommand):
    help = "Export task housekeeping."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser(
            "purge",
            help="Delete files of exports finished more than 7 days ago (status expired), fail tasks whose "
            "worker stopped (no heartbeat for 10 minutes) or that never started, and remove orphaned "
            "partial files.",
        )

    def handle(self, *args: object, **opts: object) -> None:
        if opts["action"] == "purge":
            r = services.purge(clock.now())
            self.stdout.write(
                f"Expired {r.expired} export file(s); failed {r.failed} stale task(s); "
                f"removed {r.orphans} orphaned partial file(s)."
            )
