"""The ``partnercenter`` console script: a thin front for the management commands.

``partnercenter serve|worker|tick|close-month|import-leads|rebuild-totals|partition-line-items|up|demo|partners …|customers …|
users …|check-migrations`` and any
Django management command by its own name.
"""

from __future__ import annotations

import os
import sys

ALIASES = {
    "check-migrations": ["makemigrations", "--check", "--dry-run"],
    "close-month": ["close_month"],
    "import-leads": ["import_leads"],
    "rebuild-totals": ["rebuild_totals"],
    "partition-line-items": ["partition_line_items"],
}


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "partnercenter.settings")
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in ALIASES:
        args = ALIASES[args[0]] + args[1:]
    from django.core.management import execute_from_command_line

    execute_from_command_line(["partnercenter", *args])


if __name__ == "__main__":
    main()
