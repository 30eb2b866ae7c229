"""`partnercenter ingest PATH [--format focus|native] [--source NAME]`."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from partnercenter.usage import formats, services


class Command(BaseCommand):
    help = "Ingest rated line items (CSV, CSV.gz, Parquet, JSON, NDJSON) as one atomic batch."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path")
        parser.add_argument("--format", choices=formats.FORMATS, default=formats.FOCUS)
        parser.add_argument("--source", default="", help="name of the data source (default: the format)")
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args: object, **opts: object) -> None:
        path = str(opts["path"])
        try:
            report = services.ingest_path(path, fmt=str(opts["format"]), source=str(opts["source"]))
        except FileNotFoundError:
            raise CommandError(f"{path}: no such file") from None
        except OSError as e:
            raise CommandError(f"{path}: {e.strerror or e}") from None
        except ValueError as e:  # formats.UnreadableInput among them: one line, where and why
            raise CommandError(f"{path}: {e}") from None
        if opts["json"]:
            self.stdout.write(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
        if not report.accepted:
            err = self.stderr  # honours call_command(stderr=...); sys.stderr otherwise
            err.write(f"Rejected {path}: {report.error_count} problem(s); nothing was written.\n")
            for problem in report.errors:
                column = f", column {problem.column}" if problem.column else ""
                err.write(f"  row {problem.row}{column}: {problem.reason}\n")
            if report.error_count > len(report.errors):
                err.write(f"  … and {report.error_count - len(report.errors)} more\n")
            if report.unknown_accounts:
                err.write(f"Unknown customer accounts: {', '.join(report.unknown_accounts)}\n")
            raise CommandError("batch rejected", returncode=2)
        if opts["json"]:
            return
        self.stdout.write(
            f"Batch {report.batch_id} accepted: {report.rows_total} rows, {report.rows_new} new, "
            f"{report.rows_present} already present, {report.rows_corrections} corrections"
        )
        for currency, totals in report.totals_as_strings().items():
            parts = ", ".join(f"{k} {v}" for k, v in totals.items())
            self.stdout.write(f"  {currency}: {parts}")
