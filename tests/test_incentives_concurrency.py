"""Two workers catching up at once (PostgreSQL; SQLite's BEGIN IMMEDIATE serialises every
writer): each period is generated once, the numbers have no gap and no duplicate, and today's
estimates are written once."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection

from partnercenter.accounts.models import AuditEntry
from partnercenter.incentives import services
from partnercenter.incentives.models import Estimate, Incentive, Program
from partnercenter.incentives.programs import RateSpec
from tests.incentive_ledger import SHANGHAI, ingest, on, program, rec
from tests.test_billing_concurrency import _parallel

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite: BEGIN IMMEDIATE serialises all writers"),
    pytest.mark.django_db(transaction=True),
]


def test_two_catch_ups_at_once_generate_each_period_once(org):
    program("cloud", [RateSpec("0.03")])
    program("more", [RateSpec("0.01")])
    records = [rec(f"M{a}", a, "100", on(5), order=f"O{a}") for a in ("a1", "a3", "b1")]
    ingest([*records, rec("A1", "a1", "50", on(10, 4), order="P1")], on(19, month=4))
    at = dt.datetime(2026, 4, 20, 9, tzinfo=SHANGHAI)
    cloud = Program.objects.get(code="cloud")
    errors = _parallel(
        lambda: services.catch_up(at),
        lambda: services.catch_up(at),
        lambda: services.generate_period(cloud, dt.date(2026, 3, 1), at=at),
    )
    assert errors == []
    numbers = sorted(Incentive.objects.values_list("number", flat=True))
    assert numbers == [f"INC-202603-{n:06d}" for n in range(1, 5)]  # sp-a and sp-b in both programs
    assert AuditEntry.objects.filter(action="incentives.generate").count() == 4  # February and March, per program
    # April so far, once: sp-a in both programs.
    assert sorted(Estimate.objects.values_list("program__code", "amount")) == [
        ("cloud", Decimal("1.50")),
        ("more", Decimal("0.50")),
    ]
