"""Two closes at once (B6): invoice numbers stay gap-free and unique per issuer, and no month is
closed twice. PostgreSQL: SQLite's BEGIN IMMEDIATE already serialises every writer."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, connections

from partnercenter.billing import services
from partnercenter.billing.models import Bill, Invoice
from partnercenter.usage.models import ClosedMonth
from tests.test_billing_close import SHANGHAI, ingest, on, rec

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite: BEGIN IMMEDIATE serialises all writers"),
    pytest.mark.django_db(transaction=True),
]

ACCOUNTS = ("a1", "a3", "b1", "d1", "s1", "s2")


def _parallel(*jobs: Callable[[], Any]) -> list[BaseException]:
    barrier = threading.Barrier(len(jobs))
    errors: list[BaseException] = []

    def run(job: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            job()
        except BaseException as e:  # reported by the test
            errors.append(e)
        finally:
            connections["default"].close()

    threads = [threading.Thread(target=run, args=(j,)) for j in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_two_closes_at_once_number_invoices_without_gaps_or_duplicates(org):
    records = [rec(f"M{a}", a, "10", on(5)) for a in ACCOUNTS] + [
        rec(f"A{a}", a, "20", on(6, month=4)) for a in ACCOUNTS
    ]
    ingest(records, on(8, month=4))
    at = dt.datetime(2026, 5, 5, 1, tzinfo=SHANGHAI)
    march, april = dt.date(2026, 3, 1), dt.date(2026, 4, 1)
    errors = _parallel(
        lambda: services.generate_bills(march, at=at),
        lambda: services.generate_bills(march, at=at),
        lambda: services.catch_up(at),
        lambda: services.catch_up(at),
    )
    assert errors == []
    # Every reseller partner with charges: sp-a, sp-b, dist, sub1, sub2, for March and April.
    assert Bill.objects.filter(month=march).count() == 5
    assert Bill.objects.filter(month=april).count() == 5
    numbers = sorted(Invoice.objects.values_list("number", flat=True))
    assert numbers == [f"PC-{n:010d}" for n in range(1, 11)]
    assert ClosedMonth.objects.filter(month=march).count() == ClosedMonth.objects.filter(month=april).count() == 6
