"""`partnercenter demo`: load the demo organisation into an empty database (see partners/demo.py)."""

from django.core.management.base import BaseCommand, CommandParser

from partnercenter.core.demo_signins import signin_table
from partnercenter.partners.demo import DEFAULT_SEED, build_demo
from partnercenter.partners.models import Partner


class Command(BaseCommand):
    help = "Load the demo organisation (partners, users, customers, assignments, usage) into an empty database."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
        parser.add_argument(
            "--usage-months", type=int, default=13, help="months of usage line items to generate (default 13)"
        )

    def handle(self, *args: object, **opts: object) -> None:
        if Partner.objects.exists():
            self.stdout.write("Demo already loaded (the database has partners): nothing changed.")
            return
        seed = opts["seed"]
        assert isinstance(seed, int)
        self.stdout.write(f"Loading the demo organisation (seed {seed}) …")
        months = opts["usage_months"]
        assert isinstance(months, int)
        summary = build_demo(seed=seed, stdout=self.stdout, usage_months=months)
        self.stdout.write(self.style.SUCCESS(summary.render()))
        self.stdout.write(signin_table())
