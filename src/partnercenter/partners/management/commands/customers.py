"""``partnercenter customers import FILE.csv`` and
``partnercenter customers associate ACCOUNT --partner CODE --type reseller|referral --from YYYY-MM-DD``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from partnercenter.core import clock, limits
from partnercenter.core.errors import DomainError
from partnercenter.partners import services
from partnercenter.partners.management.commands.partners import command_error
from partnercenter.partners.models import AssociationType


def _day(value: str) -> dt.date:
    try:
        return limits.check_day(dt.date.fromisoformat(value))
    except limits.OutOfRange as exc:
        raise CommandError(f"--from: {value!r} is {exc}.") from None
    except ValueError:
        raise CommandError(f"--from: {value!r} is not a date (YYYY-MM-DD).") from None


class Command(BaseCommand):
    help = "Import customers from CSV, or associate a customer with a partner."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="{import,associate}")
        imp = sub.add_parser(
            "import",
            help="All-or-nothing import of account_id,name,email,mobile,partner,association_type,valid_from.",
        )
        imp.add_argument("file", help="CSV file (UTF-8); valid_from is a day in the billing time zone")
        assoc = sub.add_parser("associate", help="Associate a customer with a partner from a day on.")
        assoc.add_argument("account", help="the customer's account id")
        assoc.add_argument("--partner", required=True, help="partner code")
        assoc.add_argument("--type", required=True, choices=AssociationType.values, dest="association_type")
        assoc.add_argument(
            "--from", required=True, dest="valid_from", help="YYYY-MM-DD; 00:00 in the billing time zone"
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            if opts["action"] == "import":
                self._import(opts["file"])
            else:
                self._associate(opts["account"], opts["partner"], opts["association_type"], opts["valid_from"])
        except DomainError as exc:
            raise command_error(exc) from exc

    def _import(self, file: str) -> None:
        path = Path(file)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise CommandError(f"No such file: {file}") from None
        except UnicodeDecodeError:
            raise CommandError(f"{file} is not UTF-8 text.") from None
        result = services.import_customers(text)
        self.stdout.write(f"Imported {result.created} customer(s) from {path.name}.")

    def _associate(self, account: str, partner_code: str, association_type: str, valid_from: str) -> None:
        start = clock.start_of_day(_day(valid_from))
        customer = services.get_customer_by_account_id(account)
        partner = services.get_partner_by_code(partner_code)
        assoc = services.associate_customer(
            customer=customer, partner=partner, association_type=association_type, valid_from=start
        )
        self.stdout.write(
            f"Customer {customer.account_id} is a {assoc.association_type} customer of {partner.code} "
            f"from {assoc.valid_from.isoformat()}."
        )
