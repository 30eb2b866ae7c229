"""``partnercenter billing top-up|transfer|statement|decide …``: the operator's payment tasks (B9).

    partnercenter billing top-up sp-a 1000.00 --currency CNY --by op [--remark TEXT] [--key KEY]
    partnercenter billing transfer sp-a 500 --currency CNY --payer "ACME Ltd" --date 2026-03-09 \\
        --reference TRX-1 --by op [--bill ID]
    partnercenter billing statement sp-a
    partnercenter billing decide AGREEMENT_ID approved|rejected --by op [--remark TEXT]
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from partnercenter.accounts.models import User
from partnercenter.billing import payment_selectors as sel
from partnercenter.billing import payment_services as svc
from partnercenter.core.errors import DomainError
from partnercenter.partners.management.commands.partners import command_error
from partnercenter.partners.models import Partner


def _operator(username: str) -> User:
    user = User.objects.filter(username=username, is_active=True).first()
    if user is None or not user.is_platform_operator:
        raise CommandError(f"--by {username!r} is not an active platform operator.")
    return user


def _partner(code: str) -> Partner:
    partner = Partner.objects.filter(code=code).first()
    if partner is None:
        raise CommandError(f"No partner with code {code!r}.")
    return partner


class Command(BaseCommand):
    help = "Top up a partner's prepaid balance, record a bank transfer, show the statement, decide agreements."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="{top-up,transfer,statement,decide}")
        top = sub.add_parser("top-up", help="Credit the partner's prepaid balance.")
        top.add_argument("partner")
        top.add_argument("amount", help="decimal text, e.g. 1000.00")
        top.add_argument("--currency", required=True)
        top.add_argument("--remark", default="")
        top.add_argument("--key", default="", help="idempotency key: the same key tops up once")
        top.add_argument("--by", required=True, help="the platform operator's username")
        tr = sub.add_parser("transfer", help="Record a bank transfer received for the partner's bills.")
        tr.add_argument("partner")
        tr.add_argument("amount")
        tr.add_argument("--currency", required=True)
        tr.add_argument("--payer", required=True, help="the name on the paying account")
        tr.add_argument("--date", required=True, help="the day the money arrived, YYYY-MM-DD")
        tr.add_argument("--reference", required=True, help="the bank's reference")
        tr.add_argument("--bill", default=None, help="settle this bill id only")
        tr.add_argument("--by", required=True)
        st = sub.add_parser("statement", help="Print the partner's payment records.")
        st.add_argument("partner")
        de = sub.add_parser("decide", help="Approve or reject a third-party payment agreement.")
        de.add_argument("agreement", type=int)
        de.add_argument("status", choices=["approved", "rejected"])
        de.add_argument("--remark", default="")
        de.add_argument("--by", required=True)

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            getattr(self, "_" + opts["action"].replace("-", "_"))(opts)
        except DomainError as exc:
            raise command_error(exc) from exc

    def _top_up(self, o: dict[str, Any]) -> None:
        e = svc.top_up(
            actor=_operator(o["by"]),
            partner=_partner(o["partner"]),
            currency=o["currency"],
            amount=o["amount"],
            remark=o["remark"],
            idempotency_key=o["key"],
        )
        self.stdout.write(f"Top-up {e.amount} {e.currency}; balance {e.balance_after} {e.currency}.")

    def _transfer(self, o: dict[str, Any]) -> None:
        p = svc.record_transfer(
            actor=_operator(o["by"]),
            partner=_partner(o["partner"]),
            currency=o["currency"],
            amount=o["amount"],
            payer_name=o["payer"],
            received_on=o["date"],
            reference=o["reference"],
            bill_id=o["bill"],
        )
        extra = f"; {p.statement_entry.amount} to the prepaid balance" if p.statement_entry else ""
        self.stdout.write(f"Transfer {p.reference}: {p.amount} {p.currency} applied to bills{extra}.")

    def _statement(self, o: dict[str, Any]) -> None:
        for r in sel.statement(_partner(o["partner"])):
            after = "" if r.balance_after is None else str(r.balance_after)
            self.stdout.write(f"{r.at:%Y-%m-%d %H:%M}\t{r.kind}\t{r.currency}\t{r.amount}\t{after}\t{r.description}")

    def _decide(self, o: dict[str, Any]) -> None:
        d = svc.decide_agreement(
            actor=_operator(o["by"]), agreement_id=o["agreement"], status=o["status"], remark=o["remark"]
        )
        self.stdout.write(f"Agreement {d.agreement_id}: {d.status}.")
