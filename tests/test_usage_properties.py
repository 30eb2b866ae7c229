"""Property tests for ingestion: exact rollups and totals, idempotency, atomic rejection."""

from __future__ import annotations

import datetime as dt
import decimal
from collections import defaultdict
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from partnercenter.core.money import ExactSum
from partnercenter.usage import services
from partnercenter.usage.models import (
    CustomerRunningTotal,
    CustomerTotalKey,
    DailyRollup,
    Freshness,
    IngestBatch,
    LineItem,
)
from tests.conftest import T0
from tests.test_usage_ingest import line_sums_by_rollup_key, rollups_by_key, shown, snapshot

DB_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
SHANGHAI = ZoneInfo("Asia/Shanghai")
ACCOUNTS = ("a1", "a2", "a3", "b1", "d1", "s1", "s2", "r1")  # the org fixture's customers
CATEGORIES = ("Usage", "Purchase", "Tax", "Credit", "Adjustment")
# Every customer is associated from T0 - 60 days; charges fall within the 80 days after that,
# starting at arbitrary seconds so that billing-day boundaries (16:00Z) are crossed.
EARLIEST = T0 - dt.timedelta(days=59)

amounts = st.integers(min_value=0, max_value=15).flatmap(
    lambda places: st.decimals(
        min_value=-(10**12), max_value=10**12, places=places, allow_nan=False, allow_infinity=False
    )
)


@st.composite
def native_record(draw) -> dict:
    start = EARLIEST + dt.timedelta(seconds=draw(st.integers(0, 80 * 86400)))
    end = start + dt.timedelta(seconds=draw(st.integers(0, 3 * 86400)))
    billed = draw(amounts)
    return {
        "account_id": draw(st.sampled_from(ACCOUNTS)),
        # a string in any valid decimal spelling, or a Decimal (as the JSON API parses numbers)
        "billed_cost": draw(st.sampled_from([str(billed), format(billed, "f"), billed])),
        "currency": draw(st.sampled_from(("USD", "CNY"))),
        "charge_category": draw(st.sampled_from(CATEGORIES)),
        "charge_period_start": start.isoformat(),
        "charge_period_end": end.isoformat(),
        "service_name": draw(st.sampled_from(("ECS", "COS", "CDN", ""))),
        "region_id": draw(st.sampled_from(("ap-shanghai", "ap-guangzhou", ""))),
        "project": draw(st.sampled_from(("", "alpha", "beta"))),
        "billing_mode": draw(st.sampled_from(("pay_per_use", "prepaid_monthly", "prepaid_yearly"))),
        "service_type": draw(st.sampled_from(("cloud", "marketplace"))),
        "order_id": draw(st.sampled_from(("", "ORD-1"))),
    }


batches = st.lists(native_record(), min_size=1, max_size=25).map(
    lambda recs: [{"line_id": f"line-{i}", **r} for i, r in enumerate(recs)]
)


def wipe() -> None:
    """Each hypothesis example starts from empty usage tables (the test transaction is shared)."""
    LineItem.objects.all().delete()
    DailyRollup.objects.all().delete()
    CustomerRunningTotal.objects.all().delete()
    CustomerTotalKey.objects.all().delete()
    IngestBatch.objects.all().delete()
    Freshness.objects.all().delete()


def running_totals_match_line_items() -> None:
    """Every running-total row equals the line items of its key charged on or before its day."""
    from partnercenter.core.money import join

    items = list(
        LineItem.objects.values_list(
            "customer_id",
            "partner_id",
            "association_type",
            "billing_currency",
            "charge_day",
            "classification",
            "billed_cost",
        )
    )
    rows = CustomerRunningTotal.objects.select_related("key")
    assert rows.count() == len({(i[0], i[1], i[2], i[3], i[4]) for i in items})
    for row in rows:
        k = row.key
        mine = [
            i
            for i in items
            if (i[0], i[1], i[2], i[3]) == (k.customer_id, k.partner_id, k.association_type, k.currency)
        ]
        for cls in ("expenditure", "refund", "adjustment", "tax"):
            want = sum((i[6] for i in mine if i[4] <= row.day and i[5] == cls), Decimal(0))
            got = join(getattr(row, f"{cls}_units"), getattr(row, f"{cls}_hi"), getattr(row, f"{cls}_lo"))
            assert got == want, (cls, row.day, got, want)
        assert row.line_count == sum(1 for i in mine if i[4] <= row.day)


def expected_class(category: str, billed: Decimal) -> str:
    if category in ("Usage", "Purchase"):
        return "expenditure" if billed >= 0 else "refund"
    return "tax" if category == "Tax" else "adjustment"


def expected_totals(records: list[dict]) -> dict[str, dict[str, Decimal]]:
    sums: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    with decimal.localcontext() as ctx:
        ctx.prec = 80
        ctx.traps[decimal.Inexact] = True
        for r in records:
            billed = Decimal(r["billed_cost"])
            sums[r["currency"]][expected_class(r["charge_category"], billed)] += billed
        return {cur: shown(s) for cur, s in sums.items()}


@DB_SETTINGS
@given(records=batches, split=st.integers(0, 25))
def test_rollups_equal_line_items_and_report_totals(org, records, split):
    wipe()
    first, second = records[:split], records[split:]
    reports = [services.ingest_records(part, source="prop") for part in (first, second) if part]
    for report in reports:
        assert report.accepted, report.errors
    assert sum(r.rows_new for r in reports) == len(records)

    # Rollups (accumulated over one or two batches) equal the line items per key...
    assert rollups_by_key() == line_sums_by_rollup_key()
    # ...and so do the running totals the summary reads, on every day they were written.
    running_totals_match_line_items()
    # ...each line item is what was sent, classified, on its billing-time-zone day...
    by_line = {li.x_line_id: li for li in LineItem.objects.select_related("customer")}
    partner_of = {a: c.associations.get().partner_id for a, c in org.customers.items()}
    assert len(by_line) == len(records)
    for r in records:
        li = by_line[r["line_id"]]
        billed = Decimal(r["billed_cost"])
        start = dt.datetime.fromisoformat(r["charge_period_start"])
        assert li.billed_cost == billed
        assert li.customer.account_id == r["account_id"]
        assert li.classification == expected_class(r["charge_category"], billed)
        assert li.charge_day == start.astimezone(SHANGHAI).date()
        assert li.charge_month == li.charge_day.replace(day=1)
        assert li.partner_id == partner_of[r["account_id"]]
    # ...and per currency the rollups and the reports' totals equal the independent sums.
    expected = expected_totals(records)
    per_class: dict[str, dict[str, Decimal]] = defaultdict(dict)
    for row in DailyRollup.objects.values("currency", "classification").annotate(t=ExactSum("amount")).order_by():
        per_class[row["currency"]][row["classification"]] = row["t"]
    assert {cur: shown(s) for cur, s in per_class.items()} == expected
    reported: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for report in reports:
        for cur, totals in report.totals.items():
            for cls, v in totals.items():
                reported[cur][cls] += v
        stored = IngestBatch.objects.get(pk=report.batch_id).totals
        assert {c: {k: Decimal(v) for k, v in t.items()} for c, t in stored.items()} == report.totals
    assert reported == expected


@DB_SETTINGS
@given(records=batches)
def test_ingesting_twice_equals_ingesting_once(org, records):
    wipe()
    first = services.ingest_records(records, source="prop")
    assert first.accepted, first.errors
    assert (first.rows_new, first.rows_present) == (len(records), 0)
    before = snapshot()
    second = services.ingest_records(records, source="prop")
    assert second.accepted
    assert (second.rows_total, second.rows_new, second.rows_present) == (len(records), 0, len(records))
    assert second.rows_corrections == 0
    assert second.totals == {}
    after = snapshot()
    for name in ("LineItem", "DailyRollup", "Freshness"):
        assert after[name] == before[name]
    assert IngestBatch.objects.get(pk=second.batch_id).rows_present == len(records)


# One invalid value and the column the report must name for it.
BAD_VALUES = [
    ("billed_cost", "billed_cost", "12.3.4"),
    ("billed_cost", "billed_cost", "abc"),
    ("billed_cost", "billed_cost", "NaN"),
    ("billed_cost", "billed_cost", "1.0000000000000001"),  # 16 places
    ("billed_cost", "billed_cost", "1e30"),
    ("billed_cost", "billed_cost", ""),
    ("account_id", "account_id", "no-such-customer"),
    ("account_id", "account_id", ""),
    ("charge_period_start", "charge_period_start", "2026-13-01T00:00:00Z"),
    ("charge_period_start", "charge_period_start", "yesterday"),
    ("charge_period_start", "charge_period_start", "2026-03-01T00:00:00"),  # no time zone
    ("charge_period_start", "charge_period_start", "2020-01-01T00:00:00Z"),  # before any association
    ("charge_category", "charge_category", "Refund"),
    ("charge_category", "charge_category", "usage"),
    ("currency", "currency", "US"),
    ("line_id", "line_id", ""),
]


@DB_SETTINGS
@given(
    existing=batches,
    records=batches,
    position=st.integers(min_value=0, max_value=25),
    bad=st.sampled_from(BAD_VALUES),
    template=native_record(),
)
def test_one_bad_row_leaves_the_database_as_it_was(org, existing, records, position, bad, template):
    wipe()
    # Some usage is already there, so "as it was" is not just "empty".
    assert services.ingest_records([{**r, "line_id": f"old-{r['line_id']}"} for r in existing], source="prop").accepted
    before = snapshot()

    field, column, value = bad
    bad_row = {**template, "line_id": "the-bad-one", field: value}
    if field == "charge_period_start":
        bad_row["charge_period_end"] = "2026-06-01T00:00:00+00:00"  # only the start is wrong
    position = min(position, len(records))
    batch = [*records[:position], bad_row, *records[position:]]

    report = services.ingest_records(batch, source="prop")
    assert not report.accepted
    assert report.batch_id is None
    assert report.error_count == 1
    (error,) = report.errors
    # Rows are numbered as in a CSV file: the header is row 1, the first record row 2.
    assert (error.row, error.column) == (position + 1, column)  # items are numbered from 1
    if field == "account_id" and value:
        assert report.unknown_accounts == [value]
    assert (report.rows_new, report.rows_present, report.rows_corrections, report.totals) == (0, 0, 0, {})
    assert snapshot() == before
