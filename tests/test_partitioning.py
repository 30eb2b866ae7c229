"""Line items partitioned by month on PostgreSQL (docs/scaling.md): conversion keeps every row and
id, ingestion and its deduplication work on the partitioned table, the selectors read the same
figures, a month's read touches only its partition, rows that landed in the DEFAULT partition move
into their month's, and an old month can be detached. On SQLite nothing is partitioned."""

from __future__ import annotations

import datetime as dt
import io
from collections import defaultdict
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from partnercenter.core import clock
from partnercenter.usage import ingest, partitioning, selectors, services
from partnercenter.usage.models import LineItem
from tests.test_usage_ingest import SAMPLE, expected_totals, focus_customers, record  # noqa: F401 - fixtures

on_postgres = pytest.mark.skipif(connection.vendor != "postgresql", reason="partitioning is PostgreSQL's")
NOW = dt.datetime(2026, 6, 10, 4, 0, tzinfo=dt.UTC)  # June in the billing time zone
MARCH, APRIL, MAY, JUNE, JULY = (dt.date(2026, m, 1) for m in (3, 4, 5, 6, 7))
ACCOUNT = "200000000011"


def _rows_by_partition() -> dict[str, int]:
    with connection.cursor() as cur:
        cur.execute(f"SELECT tableoid::regclass::text, count(*) FROM {partitioning.TABLE} GROUP BY 1")  # noqa: S608
        return dict(cur.fetchall())


def _stored() -> list[tuple]:
    return list(
        LineItem.objects.order_by("id").values_list("id", "identity", "customer_id", "charge_day", "billed_cost")
    )


def _older_months() -> None:
    """Three line items in March and two in April for one of the sample's customers."""
    items = [
        record("m1", ACCOUNT, "1.5", "2026-03-02T00:00:00+00:00"),
        record("m2", ACCOUNT, "2.25", "2026-03-15T00:00:00+00:00"),
        record("m3", ACCOUNT, "0.000000000000001", "2026-03-31T10:00:00+00:00"),
        record("a1", ACCOUNT, "10", "2026-04-01T00:00:00+00:00"),
        record("a2", ACCOUNT, "-3", "2026-04-20T00:00:00+00:00", charge_category="Adjustment"),
    ]
    assert services.ingest_records(items, source="native").rows_new == 5


@pytest.fixture
def partitioned(focus_customers):  # noqa: F811 - the fixture imported above
    with clock.frozen_at(NOW):
        _older_months()
        before = _stored()
        months = partitioning.partition_line_items()
    assert months == [MARCH, APRIL, JUNE, JULY]
    assert _stored() == before
    return focus_customers


@on_postgres
def test_conversion_keeps_rows_and_creates_monthly_partitions(partitioned):
    assert partitioning.is_partitioned()
    assert partitioning.partitions() == {m: partitioning.partition_name(m) for m in (MARCH, APRIL, JUNE, JULY)}
    assert _rows_by_partition() == {"usage_lineitem_y2026m03": 3, "usage_lineitem_y2026m04": 2}
    with connection.cursor() as cur:
        cur.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass "
            "AND contype IN ('p', 'u') ORDER BY conname",
            [partitioning.TABLE],
        )
        assert cur.fetchall() == [
            ("usage_lineitem_identity_key", "UNIQUE (identity, customer_id, charge_day)"),
            ("usage_lineitem_pkey", "PRIMARY KEY (id, customer_id, charge_day)"),
        ]
        cur.execute(
            "SELECT count(*) FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'f'", [partitioning.TABLE]
        )
        assert cur.fetchone() == (0,)  # none since migration 0007, as before the conversion
    with pytest.raises(partitioning.PartitioningError, match="already partitioned"):
        partitioning.partition_line_items()


@on_postgres
def test_ingest_reingest_and_read_through_selectors(partitioned, expected_totals):  # noqa: F811
    top = max(LineItem.objects.values_list("id", flat=True))
    assert MAY not in partitioning.partitions()
    with clock.frozen_at(NOW):
        first = services.ingest_path(SAMPLE, source="aws")  # creates May's partition before writing it
        again = services.ingest_path(SAMPLE, source="aws")
    assert (first.rows_new, first.rows_present) == (2000, 0)
    assert (again.accepted, again.rows_new, again.rows_present) == (True, 0, 2000)
    assert min(LineItem.objects.filter(charge_day__gte=MAY).values_list("id", flat=True)) == top + 1
    assert _rows_by_partition()["usage_lineitem_y2026m05"] == 2000

    by_customer = {c.pk: a for a, c in partitioned.items()}
    spent: dict[str, Decimal] = defaultdict(Decimal)
    for kind in ("reseller", "referral"):
        for row in selectors.incentive_base_rows(MAY, JUNE, association_type=kind, currency="USD"):
            spent[by_customer[row["customer_id"]]] += row["amount"] if row["classification"] == "expenditure" else 0
    assert dict(spent) == {a: t["expenditure"] for (a, month), t in expected_totals.items() if month == "2026-05"}
    # The referral customer (…13) pays the cloud directly: no customer bill.
    totals = selectors.customer_month_totals(MAY, selectors.ledger_watermark())
    net = {by_customer[r["customer_id"]]: r["amount"] for r in totals}
    assert net == {a: t["net"] for (a, m), t in expected_totals.items() if m == "2026-05" and a != "200000000013"}


@on_postgres
def test_a_month_read_touches_only_its_partition(partitioned):
    customer = partitioned[ACCOUNT]
    qs = selectors.bill_line_items(
        partner_id=customer.associations.get().partner_id,
        currency="USD",
        customer_id=customer.pk,
        service_type="cloud",
        service_name="ECS",
        region_id="ap-shanghai",
        classification="expenditure",
        month=MARCH,
        corrects_month=None,
        after=0,
        through=10**9,
    )
    assert sorted(qs.values_list("billed_cost", flat=True)) == [Decimal("1E-15"), Decimal("1.5"), Decimal("2.25")]
    plan = qs.explain()
    assert "usage_lineitem_y2026m03" in plan
    assert "usage_lineitem_y2026m04" not in plan and "usage_lineitem_default" not in plan


@on_postgres
def test_ensure_months_moves_rows_out_of_the_default_partition(partitioned, monkeypatch):
    with clock.frozen_at(NOW):
        # Rows written by something that does not create partitions land in the DEFAULT one.
        monkeypatch.setattr(partitioning, "ensure_months", lambda months: None)
        services.ingest_path(SAMPLE, source="aws")
        monkeypatch.undo()
        assert _rows_by_partition()["usage_lineitem_default"] == 2000
        before = _stored()
        partitioning.ensure_months({dt.date(2026, 5, 17), MARCH})
        partitioning.ensure_months({MAY})  # already there: nothing to do
    assert _stored() == before
    assert _rows_by_partition() == {
        "usage_lineitem_y2026m03": 3,
        "usage_lineitem_y2026m04": 2,
        "usage_lineitem_y2026m05": 2000,
    }
    assert MAY in partitioning.partitions()


@on_postgres
def test_detach_an_old_month(partitioned):
    with clock.frozen_at(NOW):
        with pytest.raises(partitioning.PartitioningError, match="2026-06 is not over yet"):
            partitioning.detach_month(JUNE)
        with pytest.raises(partitioning.PartitioningError, match="no partition of 2026-05"):
            partitioning.detach_month(MAY)
        assert partitioning.detach_month(dt.date(2026, 3, 20)) == "usage_lineitem_y2026m03"
    assert MARCH not in partitioning.partitions()
    assert sorted(LineItem.objects.values_list("charge_day__month", flat=True)) == [4, 4]
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM usage_lineitem_y2026m03")
        assert cur.fetchone() == (3,)  # the rows stay in the detached table, to archive or drop
    with pytest.raises(partitioning.PartitioningError, match=r"2026-03 was detached \(table usage_lineitem_y2026m03\)"):
        partitioning.ensure_months({MARCH})


@on_postgres
def test_command_converts_and_detaches(focus_customers):  # noqa: F811
    out = io.StringIO()
    with clock.frozen_at(NOW):
        _older_months()
        call_command("partition_line_items", stdout=out)
        call_command("partition_line_items", "--detach", "2026-03", stdout=out)
        with pytest.raises(CommandError, match="already partitioned"):
            call_command("partition_line_items")
        with pytest.raises(CommandError, match="month must be YYYY-MM"):
            call_command("partition_line_items", "--detach", "March")
    assert out.getvalue().splitlines() == [
        "usage_lineitem is partitioned by month: 2026-03, 2026-04, 2026-06, 2026-07 (and a DEFAULT partition).",
        "Detached 2026-03: its line items are in the table usage_lineitem_y2026m03.",
    ]


@pytest.mark.skipif(connection.vendor == "postgresql", reason="SQLite's behaviour")
def test_sqlite_is_never_partitioned(focus_customers):  # noqa: F811
    assert not partitioning.is_partitioned()
    assert partitioning.partitions() == {}
    partitioning.ensure_months({MAY})  # a no-op
    with pytest.raises(partitioning.PartitioningError, match="needs PostgreSQL"):
        partitioning.partition_line_items()


@on_postgres
def test_ensure_months_is_a_no_op_on_an_unpartitioned_table(focus_customers):  # noqa: F811
    partitioning.ensure_months({MAY})
    assert not partitioning.is_partitioned()


@on_postgres
def test_a_rejected_batch_leaves_no_partition_behind(partitioned, monkeypatch):
    monkeypatch.setattr(ingest, "CHUNK", 1)  # the first rows are written, partitions made, before the error
    items = [
        record("s1", ACCOUNT, "4", "2026-09-02T00:00:00+00:00"),
        record("o1", ACCOUNT, "4", "2026-10-02T00:00:00+00:00"),
        record("bad", ACCOUNT, "not a number", "2026-10-03T00:00:00+00:00"),
    ]
    before = (_stored(), partitioning.partitions())
    with clock.frozen_at(NOW):
        report = services.ingest_records(items, source="native")
    assert (report.accepted, report.error_count) == (False, 1)
    assert (_stored(), partitioning.partitions()) == before
    with clock.frozen_at(NOW):
        assert services.ingest_records(items[:2], source="native").rows_new == 2
    assert _rows_by_partition()["usage_lineitem_y2026m09"] == 1
    assert _rows_by_partition()["usage_lineitem_y2026m10"] == 1
    assert "usage_lineitem_default" not in _rows_by_partition()
