"""`partnercenter import-leads FILE.csv`: the platform operator's leads, all or nothing."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from partnercenter.core.errors import ValidationFailed
from partnercenter.leads import services


class Command(BaseCommand):
    help = (
        "Import leads from a CSV whose header names partner, company, contact_name and optionally phone, email, "
        "source, product_interest. One bad row refuses the whole file."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path")

    def handle(self, *args: object, **opts: object) -> None:
        path = str(opts["path"])
        try:
            leads = services.import_csv(path)
        except FileNotFoundError:
            raise CommandError(f"{path}: no such file") from None
        except UnicodeDecodeError:
            raise CommandError(f"{path}: not UTF-8 text") from None
        except ValidationFailed as e:
            err = self.stderr
            err.write(f"Rejected {path}: {e.message}\n")
            for p in e.details or []:
                err.write(f"  row {p['row']}, column {p['column']}: {p['why']}\n")
            raise CommandError("nothing was imported", returncode=2) from None
        self.stdout.write(f"Imported {len(leads)} lead(s): {leads[0].number} … {leads[-1].number}")
