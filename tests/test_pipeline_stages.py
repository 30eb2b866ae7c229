"""The ingestion stages one by one (usage/pipeline), and a FOCUS batch written chunk by chunk."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection, transaction

from partnercenter.core.money import InvalidAmount, parse_quantity
from partnercenter.usage import ingest, services
from partnercenter.usage.models import DailyRollup, LineItem
from partnercenter.usage.pipeline import projections, read, transform, write
from partnercenter.usage.pipeline.report import Report
from tests.test_usage_ingest import line_sums_by_rollup_key, rollups_by_key


@pytest.mark.parametrize(
    ("category", "billed", "expected"),
    [
        ("Usage", "0", "expenditure"),
        ("Usage", "-0.01", "refund"),
        ("Purchase", "12.5", "expenditure"),
        ("Purchase", "-1", "refund"),
        ("Tax", "-3", "tax"),
        ("Credit", "-5", "adjustment"),
        ("Adjustment", "7", "adjustment"),
    ],
)
def test_one_classification(category, billed, expected):
    assert transform._classify(category, Decimal(billed)) == expected
    assert ingest._classify is transform._classify


@pytest.mark.parametrize(
    ("explicit", "frequency", "category", "expected"),
    [
        ("prepaid_yearly", "Usage-Based", "Usage", "prepaid_yearly"),
        ("", "Usage-Based", "Usage", "pay_per_use"),
        ("", "Recurring", "Purchase", "prepaid_monthly"),
        ("", "One-Time", "Purchase", "prepaid_yearly"),
        ("", "One-Time", "Usage", "other"),
        ("", "", "Tax", "other"),
    ],
)
def test_billing_mode_from_frequency(explicit, frequency, category, expected):
    assert transform.billing_mode(explicit, frequency, category) == expected


def test_service_type_and_project():
    assert transform.service_type("", "AWS", "AWS") == "cloud"
    assert transform.service_type("", "AWS", "Acme") == "marketplace"
    assert transform.service_type("", "", "Acme") == "cloud"
    assert transform.project_from_tags('{"x_Project": "alpha", "Project": "beta"}') == "alpha"
    assert transform.project_from_tags('{"project": "p"}') == "p"
    assert transform.project_from_tags('{"Project": ""}') == ""
    assert transform.project_from_tags("Project: not json") == ""
    assert transform.project_from_tags('{"env": "prod"}') == ""


def test_focus_identity_ignores_column_order_and_absent_empty_columns():
    a = read.layout(["SubAccountId", "BilledCost", "Tags"], "focus")
    b = read.layout(["Tags", "BilledCost", "SubAccountId", "RegionId"], "focus")
    ident_a, ident_b = transform.identity_function(a), transform.identity_function(b)
    row_a = ["a1", "1.5", "", ""]
    row_b = ["", "1.5", "a1", "", ""]
    assert ident_a(row_a, "") == ident_b(row_b, "")
    assert len(ident_a(row_a, "")) == 16
    assert ident_a(row_a, "") != ident_a(["a1", "1.50", "", ""], "")


def test_native_identity_is_the_line_id():
    native = transform.identity_function(read.layout(["line_id", "account_id"], "native"))
    assert native(["x", "a1", ""], "L-1") == native(["y", "b2", ""], "L-1") != native(["x", "a1", ""], "L-2")


def test_association_in_force_at_charge_time():
    t = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    entry = (7, [t, t + dt.timedelta(days=10)], [(t + dt.timedelta(days=10), 1, "reseller"), (None, 2, "referral")])
    assert transform.association_at(entry, t - dt.timedelta(seconds=1)) is None
    assert transform.association_at(entry, t) == (1, "reseller")
    assert transform.association_at(entry, t + dt.timedelta(days=10)) == (2, "referral")
    ended = (7, [t], [(t + dt.timedelta(days=1), 1, "reseller")])
    assert transform.association_at(ended, t + dt.timedelta(days=1)) is None


def test_report_totals_net_and_refund_shown_positive():
    report = Report(source="s", file_name="f", format="focus", checksum="c")
    report.set_totals({("USD", "expenditure"): Decimal("10.5"), ("USD", "refund"): Decimal("-2.25")})
    assert report.totals == {
        "USD": {
            "expenditure": Decimal("10.5"),
            "refund": Decimal("2.25"),
            "adjustment": Decimal(0),
            "tax": Decimal(0),
            "net": Decimal("8.25"),
        }
    }
    assert report.totals_as_strings()["USD"]["net"] == "8.25"


def test_projections_are_registered_and_each_can_be_rebuilt():
    from partnercenter.usage import rebuild

    assert [p.name for p in projections.PROJECTIONS] == ["daily_rollups", "customer_totals"]
    assert list(rebuild.PROJECTIONS) == [p.name for p in projections.PROJECTIONS]


def test_quantity_parsing_lives_in_money():
    assert parse_quantity("99999999999999999999999") == Decimal("99999999999999999999999")
    with pytest.raises(InvalidAmount, match="more than 15 decimal places"):
        parse_quantity("1.0000000000000001")


def _focus(resource: str, billed: str, hour: int) -> dict[str, str]:
    start = dt.datetime(2026, 3, 1, hour, tzinfo=dt.UTC)
    return {
        "SubAccountId": "a1",
        "BilledCost": billed,
        "BillingCurrency": "USD",
        "ChargeCategory": "Usage",
        "ChargePeriodStart": start.isoformat(),
        "ChargePeriodEnd": (start + dt.timedelta(hours=1)).isoformat(),
        "ServiceName": "ECS",
        "ResourceId": resource,
    }


def test_focus_chunks_count_repeats_once(org, monkeypatch):
    monkeypatch.setattr(ingest, "CHUNK", 2)  # repeats within and across chunks
    rows = [_focus(f"r{i % 5}", f"{i % 5}.25", i % 5) for i in range(13)]
    report = services.ingest_records(rows, fmt="focus", source="t")
    assert report.accepted, report.as_dict()
    assert (report.rows_total, report.rows_new, report.rows_present) == (13, 5, 8)
    assert report.totals["USD"]["expenditure"] == Decimal("11.25")  # 0.25 + 1.25 + 2.25 + 3.25 + 4.25
    assert LineItem.objects.count() == 5
    assert rollups_by_key() == line_sums_by_rollup_key()
    again = services.ingest_records(rows, fmt="focus", source="t")
    assert (again.rows_new, again.rows_present) == (0, 13)
    assert sum(DailyRollup.objects.values_list("line_count", flat=True)) == 5


def test_focus_batch_rejected_after_written_chunks_writes_nothing(org, monkeypatch):
    monkeypatch.setattr(ingest, "CHUNK", 2)
    rows = [_focus(f"r{i}", "1", i) for i in range(9)]
    rows.append({**_focus("bad", "1", 10), "SubAccountId": "nobody"})
    report = services.ingest_records(rows, fmt="focus", source="t")
    assert not report.accepted
    assert [(e.row, e.column, e.reason) for e in report.errors] == [
        (10, "SubAccountId", "unknown customer account 'nobody'")
    ]
    assert report.unknown_accounts == ["nobody"]
    assert (report.rows_new, report.rows_present) == (0, 0)
    assert LineItem.objects.count() == 0 and DailyRollup.objects.count() == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's work_mem")
def test_the_batch_sorts_in_more_memory_on_postgresql_for_its_transaction_only():
    with connection.cursor() as cur:
        cur.execute("SHOW work_mem")
        before = cur.fetchone()[0]
        with transaction.atomic():
            write.writer().lock()
            cur.execute("SHOW work_mem")
            assert cur.fetchone()[0] == write.POSTGRES_WORK_MEM == "128MB"
        cur.execute("SHOW work_mem")
        assert cur.fetchone()[0] == before != "128MB"


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite keeps the constraints it was created with")
def test_line_items_and_derived_totals_queue_no_checks_at_commit_on_postgresql():
    # Migrations 0007 and 0008: a batch's rows would otherwise each queue deferred checks.
    with connection.cursor() as cur:
        cur.execute(
            "SELECT conrelid::regclass::text, count(*) FROM pg_constraint WHERE contype = 'f' "
            "AND conrelid::regclass::text IN ('usage_lineitem', 'usage_dailyrollup', 'usage_customerrunningtotal', "
            "'usage_customertotalkey') GROUP BY 1"
        )
        assert dict(cur.fetchall()) == {"usage_customertotalkey": 2}
