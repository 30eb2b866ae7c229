"""``partnercenter partners create CODE --name NAME --kind KIND [--parent CODE]`` and ``partners list``."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from partnercenter.core.errors import DomainError
from partnercenter.partners import services
from partnercenter.partners.models import Partner, PartnerKind


def command_error(exc: DomainError) -> CommandError:
    """The service's message and every detail line, for stderr; the command exits non-zero."""
    lines = [exc.message]
    if isinstance(exc.details, dict):
        lines += [f"  {k}: {v}" for k, v in exc.details.items()]
    elif isinstance(exc.details, list | tuple):
        lines += [f"  {d}" for d in exc.details]
    elif exc.details is not None:
        lines.append(f"  {exc.details}")
    return CommandError("\n".join(lines))


class Command(BaseCommand):
    help = "Onboard and list partners."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="{create,list}")
        create = sub.add_parser("create", help="Create a partner.")
        create.add_argument("code", help="lowercase letters, digits and hyphens, e.g. acme-cloud")
        create.add_argument("--name", required=True)
        create.add_argument("--kind", required=True, choices=PartnerKind.values)
        create.add_argument("--parent", default=None, help="the distributor of a second-level reseller")
        sub.add_parser("list", help="List partners.")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["action"] == "create":
            try:
                partner = services.create_partner(
                    code=opts["code"], name=opts["name"], kind=opts["kind"], parent_code=opts["parent"]
                )
            except DomainError as exc:
                raise command_error(exc) from exc
            self.stdout.write(f"Created partner {partner.code} ({partner.kind}).")
        else:
            for p in Partner.objects.select_related("parent").order_by("code"):
                parent = p.parent.code if p.parent else "-"
                self.stdout.write(f"{p.code}\t{p.kind}\t{parent}\t{p.name}")
