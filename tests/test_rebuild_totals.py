"""Derived totals rebuilt from the line items (`partnercenter rebuild-totals`): exact values."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, connections, transaction

from partnercenter import cli
from partnercenter.core.money import join
from partnercenter.usage import formats, rebuild, services
from partnercenter.usage.ingest import _ADVISORY_LOCK_KEY, ledger_version
from partnercenter.usage.models import CustomerRunningTotal, CustomerTotalKey, DailyRollup
from tests.test_usage_ingest import record, rollups_by_key

CLASSES = CustomerRunningTotal.CLASSES
D9, D10 = dt.date(2026, 3, 9), dt.date(2026, 3, 10)
MAX = "999999999999.999999999999999"


def running_values() -> dict[tuple, tuple]:
    """Every running-total row by (customer, partner, association type, currency, day): the four
    classification totals as exact Decimals and the line count (whatever the split integers)."""
    out = {}
    for row in CustomerRunningTotal.objects.select_related("key"):
        k = row.key
        values = tuple(join(*(getattr(row, f"{c}_{p}") for p in ("units", "hi", "lo"))) for c in CLASSES)
        out[(k.customer_id, k.partner_id, k.association_type, k.currency, row.day)] = (*values, row.line_count)
    return out


def derived() -> tuple[dict, dict]:
    return rollups_by_key(), running_values()


def wipe_derived() -> None:
    DailyRollup.objects.all().delete()
    CustomerRunningTotal.objects.all().delete()
    CustomerTotalKey.objects.all().delete()


@pytest.fixture
def ledger(org):
    """Charges of a1 either side of midnight in Shanghai (16:00Z), a refund, a tax, a credit, a
    charge of the smallest and one of the largest accepted amount."""
    recs = [
        record("l1", "a1", "0.000000000000001", "2026-03-09T15:59:59+00:00"),  # 23:59:59 on the 9th
        record("l2", "a1", "-1.25", "2026-03-09T02:00:00+00:00", charge_category="Credit"),
        record("l3", "a1", MAX, "2026-03-09T16:00:00+00:00"),  # 00:00:00 on the 10th
        record("l4", "a1", "-0.5", "2026-03-10T01:00:00+00:00"),
        record("l5", "a1", "0.06", "2026-03-10T01:00:00+00:00", charge_category="Tax"),
        record("l6", "b1", "12.345", "2026-03-10T01:00:00+00:00", currency="CNY"),
    ]
    report = services.ingest_records(recs, source="t")
    assert report.accepted, report.errors
    return org


def _key(org, account: str, day: dt.date, cls: str, currency: str = "USD") -> tuple:
    c = org.customers[account]
    return (day, c.pk, c.associations.get().partner_id, "reseller", "ECS", "cloud", "ap-shanghai", "", "pay_per_use",
            cls, currency)  # fmt: skip


def expected_rollups(org) -> dict[tuple, tuple[Decimal, int]]:
    return {
        _key(org, "a1", D9, "expenditure"): (Decimal("0.000000000000001"), 1),
        _key(org, "a1", D9, "adjustment"): (Decimal("-1.25"), 1),
        _key(org, "a1", D10, "expenditure"): (Decimal(MAX), 1),
        _key(org, "a1", D10, "refund"): (Decimal("-0.5"), 1),
        _key(org, "a1", D10, "tax"): (Decimal("0.06"), 1),
        _key(org, "b1", D10, "expenditure", "CNY"): (Decimal("12.345"), 1),
    }


def expected_running(org) -> dict[tuple, tuple]:
    a1, b1 = org.customers["a1"], org.customers["b1"]
    ka = (a1.pk, a1.associations.get().partner_id, "reseller", "USD")
    kb = (b1.pk, b1.associations.get().partner_id, "reseller", "CNY")
    zero = Decimal(0)
    return {
        (*ka, D9): (Decimal("0.000000000000001"), zero, Decimal("-1.25"), zero, 2),
        (*ka, D10): (Decimal(10**12), Decimal("-0.5"), Decimal("-1.25"), Decimal("0.06"), 5),
        (*kb, D10): (Decimal("12.345"), zero, zero, zero, 1),
    }


def test_ingestion_and_rebuild_give_the_same_exact_totals(ledger):
    assert derived() == (expected_rollups(ledger), expected_running(ledger))
    before = ledger_version()
    wipe_derived()
    assert rebuild.rebuild_totals() == {"daily_rollups": 6, "customer_totals": 3}
    assert derived() == (expected_rollups(ledger), expected_running(ledger))
    assert ledger_version() == before + 1  # cached figures expire
    # A rebuild adds each day's split sum to the day before: (0, 0, 1) + (999999999999, 99999999, 9999999).
    row = CustomerRunningTotal.objects.get(key__customer=ledger.customers["a1"], day=D10)
    assert (row.expenditure_units, row.expenditure_hi, row.expenditure_lo) == (999_999_999_999, 99_999_999, 10**7)
    assert (row.refund_units, row.refund_hi, row.refund_lo) == (-1, 50_000_000, 0)


def test_rebuild_repairs_a_stale_table_and_leaves_the_other_alone(ledger):
    DailyRollup.objects.filter(classification="tax").update(amount=Decimal("99"), line_count=7)
    CustomerRunningTotal.objects.filter(day=D9).update(tax_units=5)
    assert rebuild.rebuild_daily_rollups() == 6
    assert rollups_by_key() == expected_rollups(ledger)
    assert running_values() != expected_running(ledger)  # not rebuilt
    assert rebuild.rebuild_customer_totals() == 3
    assert derived() == (expected_rollups(ledger), expected_running(ledger))


def test_rebuild_of_an_empty_ledger_empties_the_totals(org):
    DailyRollup.objects.create(
        day=D9, customer=org.customers["a1"], partner=org.partners["sp-a"], association_type="reseller",
        service_name="", service_type="cloud", region_id="", x_project="", x_billing_mode="other",
        classification="tax", currency="USD", amount=Decimal(1), line_count=1,
    )  # fmt: skip
    assert rebuild.rebuild_totals() == {"daily_rollups": 0, "customer_totals": 0}
    assert derived() == ({}, {})


def test_unknown_projection_is_refused(db):
    with pytest.raises(rebuild.UnknownProjection, match="unknown projection"):
        rebuild.rebuild_totals(["rollups"])


def test_command_rebuilds_and_prints_counts(ledger):
    wipe_derived()
    out = StringIO()
    call_command("rebuild_totals", "--only", "customer_totals", stdout=out)
    assert out.getvalue() == "customer_totals: 3 row(s) rebuilt\n"
    assert derived() == ({}, expected_running(ledger))
    out = StringIO()
    call_command("rebuild_totals", stdout=out)
    assert out.getvalue() == "daily_rollups: 6 row(s) rebuilt\ncustomer_totals: 3 row(s) rebuilt\n"
    assert derived() == (expected_rollups(ledger), expected_running(ledger))


def test_console_script_alias(ledger):
    # ``partnercenter rebuild-totals`` runs this command (cli.main itself closes the connections,
    # which the test's transaction cannot survive on PostgreSQL).
    wipe_derived()
    out = StringIO()
    call_command(*cli.ALIASES["rebuild-totals"], "--only", "daily_rollups", stdout=out)
    assert out.getvalue() == "daily_rollups: 6 row(s) rebuilt\n"
    assert derived() == (expected_rollups(ledger), {})


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite: BEGIN IMMEDIATE serialises all writers")
@pytest.mark.django_db(transaction=True)
def test_rebuild_holds_the_ingestion_lock_until_commit(ledger):
    """No ingestion batch starts while the totals are rebuilt: it waits for the same lock."""
    got: list[bool] = []

    def try_ingestion_lock() -> None:
        try:
            with connections["default"].cursor() as c:
                c.execute("SELECT pg_try_advisory_lock(%s)", [_ADVISORY_LOCK_KEY])
                got.append(c.fetchone()[0])
                c.execute("SELECT pg_advisory_unlock_all()")
        finally:
            connections["default"].close()

    with transaction.atomic():
        rebuild.rebuild_totals()
        other = threading.Thread(target=try_ingestion_lock)
        other.start()
        other.join()
    after = threading.Thread(target=try_ingestion_lock)
    after.start()
    after.join()
    assert got == [False, True]
    assert derived() == (expected_rollups(ledger), expected_running(ledger))


def test_a_batch_in_steps_gives_the_totals_of_a_rebuild(org, monkeypatch):
    """Rows written one at a time with their sums handed over at every write: the same rollup
    key and customer day reach the projections in several steps, summed once the batch is
    written; the totals are those a rebuild computes, and the exact expected ones."""
    from partnercenter.usage.pipeline import batch

    monkeypatch.setattr(batch, "ROLLUP_FLUSH", 1)
    recs = [
        record("s1", "a1", "0.5", "2026-03-10T01:00:00+00:00"),
        record("s2", "a1", "0.25", "2026-03-10T02:00:00+00:00"),
        record("s3", "a1", "-0.125", "2026-03-10T03:00:00+00:00"),
        record("s4", "a1", "1.000000000000001", "2026-03-09T04:00:00+00:00"),
        record("s5", "a1", "0.5", "2026-03-10T05:00:00+00:00"),
    ]
    source = formats.from_records(recs)
    report = batch.run(source, fmt=formats.NATIVE, source_name="t", file_name="", checksum="", chunk=1)
    assert report.accepted, report.errors
    after_ingestion = derived()
    assert after_ingestion[0] == {
        _key(org, "a1", D9, "expenditure"): (Decimal("1.000000000000001"), 1),
        _key(org, "a1", D10, "expenditure"): (Decimal("1.25"), 3),
        _key(org, "a1", D10, "refund"): (Decimal("-0.125"), 1),
    }
    wipe_derived()
    rebuild.rebuild_totals()
    assert derived() == after_ingestion
