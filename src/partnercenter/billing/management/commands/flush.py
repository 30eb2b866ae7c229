"""``flush`` empties the whole database. On SQLite it deletes row by row, which the immutability
triggers of bills and incentives refuse (billing/immutability.py, incentives/immutability.py);
wiping everything is not an edit of a bill, so the triggers are dropped for the flush and put
back in the same transaction."""

from __future__ import annotations

from typing import Any

from django.core.management.commands import flush
from django.db import connections, transaction

from partnercenter.billing import immutability
from partnercenter.incentives import immutability as incentive_immutability


class Command(flush.Command):
    def handle(self, **options: Any) -> None:
        connection = connections[options["database"]]
        if connection.vendor != "sqlite":
            super().handle(**options)
            return
        with transaction.atomic(using=connection.alias):
            with connection.cursor() as c:
                for sql in immutability.drop_sql("sqlite") + incentive_immutability.drop_sql("sqlite"):
                    c.execute(sql)
            super().handle(**options)
            with connection.cursor() as c:
                for sql in immutability.create_sql("sqlite") + incentive_immutability.create_sql("sqlite"):
                    c.execute(sql)
