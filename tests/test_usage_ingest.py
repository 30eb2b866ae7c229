"""Usage ingestion: the FOCUS sample, spec scenarios, classification, time zone, associations,
closed months, error reporting and the `ingest` command."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import re
import shutil
from collections import defaultdict
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from partnercenter.core import clock
from partnercenter.core.money import ExactSum
from partnercenter.partners import services as partner_services
from partnercenter.partners.models import Customer, Partner
from partnercenter.usage import services
from partnercenter.usage.models import (
    ClosedMonth,
    CustomerRunningTotal,
    CustomerTotalKey,
    DailyRollup,
    Freshness,
    IngestBatch,
    LineItem,
)
from tests.conftest import FOCUS_DIR, shared_glob  # noqa: E402

SAMPLE = FOCUS_DIR / "focus_1_2_sample_aws.csv"
SCENARIOS = shared_glob("focus/spec-scenarios", "*.csv")
CLASSES = ("expenditure", "refund", "adjustment", "tax", "net")
USAGE_MODELS = (LineItem, DailyRollup, CustomerTotalKey, CustomerRunningTotal, IngestBatch, Freshness)


# --- helpers (also used by the other usage test modules) -----------------------------------------


def record(line_id: str, account: str, billed: str, start: str, **extra: str) -> dict[str, str]:
    """A native record; ``start`` is an ISO timestamp, the charge lasts an hour."""
    begin = dt.datetime.fromisoformat(start)
    rec = {
        "line_id": line_id,
        "account_id": account,
        "billed_cost": billed,
        "currency": "USD",
        "charge_category": "Usage",
        "charge_period_start": begin.isoformat(),
        "charge_period_end": (begin + dt.timedelta(hours=1)).isoformat(),
        "service_name": "ECS",
        "region_id": "ap-shanghai",
        "billing_mode": "pay_per_use",
    }
    rec.update(extra)
    return rec


def _plain(value):
    if isinstance(value, memoryview):
        return bytes(value)
    return value


def snapshot() -> dict[str, list[tuple]]:
    """Every usage table as sorted value tuples."""
    out = {}
    for model in USAGE_MODELS:
        fields = [f.attname for f in model._meta.concrete_fields]
        rows = [tuple(_plain(v) for v in row) for row in model.objects.values_list(*fields)]
        out[model.__name__] = sorted(rows, key=repr)
    return out


def line_sums_by_rollup_key() -> dict[tuple, tuple[Decimal, int]]:
    """Σ billed_cost and count of LineItem rows per rollup key, added up in Python."""
    sums: dict[tuple, list] = defaultdict(lambda: [Decimal(0), 0])
    for li in LineItem.objects.all():
        key = (
            li.charge_day,
            li.customer_id,
            li.partner_id,
            li.association_type,
            li.service_name,
            li.service_type,
            li.region_id,
            li.x_project,
            li.x_billing_mode,
            li.classification,
            li.billing_currency,
        )
        sums[key][0] += li.billed_cost
        sums[key][1] += 1
    return {k: (v[0], v[1]) for k, v in sums.items()}


def rollups_by_key() -> dict[tuple, tuple[Decimal, int]]:
    return {
        (
            r.day,
            r.customer_id,
            r.partner_id,
            r.association_type,
            r.service_name,
            r.service_type,
            r.region_id,
            r.x_project,
            r.x_billing_mode,
            r.classification,
            r.currency,
        ): (r.amount, r.line_count)
        for r in DailyRollup.objects.all()
    }


def shown(sums: dict[str, Decimal]) -> dict[str, Decimal]:
    """Per-classification signed sums → what reports show (refund positive, net = Σ)."""
    full = {c: sums.get(c, Decimal(0)) for c in ("expenditure", "refund", "adjustment", "tax")}
    net = full["expenditure"] + full["refund"] + full["adjustment"] + full["tax"]
    return {**full, "refund": -full["refund"], "net": net}


# --- fixtures --------------------------------------------------------------------------------------


@pytest.fixture
def focus_customers(db) -> dict[str, Customer]:
    with clock.frozen_at(dt.datetime(2026, 1, 1, tzinfo=dt.UTC)):
        partner_services.create_partner(code="focus-sample-reseller", name="FOCUS Sample", kind="solution_provider")
        result = partner_services.import_customers((FOCUS_DIR / "customers.csv").read_text(encoding="utf-8"))
    assert result.created == 4
    return {c.account_id: c for c in Customer.objects.filter(account_id__startswith="2000000000")}


@pytest.fixture
def expected_totals() -> dict[tuple[str, str], dict[str, Decimal]]:
    with (FOCUS_DIR / "expected_totals.csv").open(encoding="utf-8") as f:
        return {(r["account_id"], r["month"]): {c: Decimal(r[c]) for c in CLASSES} for r in csv.DictReader(f)}


def _totals_from_rollups(customers: dict[str, Customer]) -> dict[tuple[str, str], dict[str, Decimal]]:
    out: dict[tuple[str, str], dict[str, Decimal]] = {}
    days = DailyRollup.objects.values_list("day", flat=True).distinct()
    months = sorted({d.replace(day=1) for d in days})
    for account, customer in customers.items():
        for month in months:
            end = (month + dt.timedelta(days=32)).replace(day=1)
            qs = DailyRollup.objects.filter(customer=customer, day__gte=month, day__lt=end)
            if not qs.exists():
                continue
            sums = {
                r["classification"]: r["t"]
                for r in qs.values("classification").annotate(t=ExactSum("amount")).order_by()
            }
            out[(account, month.strftime("%Y-%m"))] = shown(sums)
    return out


def _totals_from_lines(customers: dict[str, Customer]) -> dict[tuple[str, str], dict[str, Decimal]]:
    by_id = {c.pk: a for a, c in customers.items()}
    sums: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for li in LineItem.objects.all():
        sums[(by_id[li.customer_id], li.charge_month.strftime("%Y-%m"))][li.classification] += li.billed_cost
    return {k: shown(v) for k, v in sums.items()}


# --- the FOCUS sample --------------------------------------------------------------------------------


def test_focus_sample_ingests_with_exact_totals(focus_customers, expected_totals):
    report = services.ingest_path(SAMPLE, source="aws")
    assert report.errors == [] and report.error_count == 0
    assert report.accepted and report.batch_id is not None
    assert (report.rows_total, report.rows_new, report.rows_present, report.rows_corrections) == (2000, 2000, 0, 0)
    assert report.unknown_accounts == []
    assert LineItem.objects.count() == 2000

    assert _totals_from_rollups(focus_customers) == expected_totals
    assert _totals_from_lines(focus_customers) == expected_totals

    # The batch's totals are the sum over customers, and are stored on the batch as exact strings.
    overall = {c: sum(t[c] for t in expected_totals.values()) for c in CLASSES}
    assert report.totals == {"USD": overall}
    batch = IngestBatch.objects.get(pk=report.batch_id)
    assert {k: Decimal(v) for k, v in batch.totals["USD"].items()} == overall
    assert (batch.rows_total, batch.rows_new, batch.format, batch.source) == (2000, 2000, "focus", "aws")
    assert batch.file_name == SAMPLE.name
    # Every line belongs to the partner that held the customer; rollups count every line once.
    assert set(LineItem.objects.values_list("partner__code", flat=True)) == {"focus-sample-reseller"}
    assert rollups_by_key() == line_sums_by_rollup_key()
    assert sum(n for _, n in rollups_by_key().values()) == 2000
    # Freshness: the latest ChargePeriodEnd of the batch.
    with SAMPLE.open(encoding="utf-8") as f:
        latest = max(dt.datetime.fromisoformat(r["ChargePeriodEnd"]) for r in csv.DictReader(f))
    assert Freshness.objects.get(source="aws").complete_until == latest


def test_focus_sample_keeps_the_precision_it_arrives_with(focus_customers):
    services.ingest_path(SAMPLE, source="aws")
    with SAMPLE.open(encoding="utf-8") as f:
        amounts = sorted(Decimal(r["BilledCost"]) for r in csv.DictReader(f))
    assert sorted(LineItem.objects.values_list("billed_cost", flat=True)) == amounts
    assert max(-a.as_tuple().exponent for a in amounts) == 15  # the file really carries 15 places


def test_focus_sample_reingest_is_all_present(focus_customers, expected_totals):
    first = services.ingest_path(SAMPLE, source="aws")
    before = snapshot()
    second = services.ingest_path(SAMPLE, source="aws")
    assert second.accepted
    assert (second.rows_total, second.rows_new, second.rows_present) == (2000, 0, 2000)
    assert second.totals == {}
    assert second.batch_id != first.batch_id
    after = snapshot()
    for name in ("LineItem", "DailyRollup", "Freshness"):
        assert after[name] == before[name]
    assert IngestBatch.objects.count() == 2
    assert _totals_from_rollups(focus_customers) == expected_totals


def test_gzipped_copy_has_the_same_identities(focus_customers, tmp_path):
    gz = tmp_path / "focus_1_2_sample_aws.csv.gz"
    with SAMPLE.open("rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    first = services.ingest_path(gz, source="aws")
    assert (first.rows_total, first.rows_new, first.error_count) == (2000, 2000, 0)
    plain = services.ingest_path(SAMPLE, source="aws")
    assert (plain.rows_new, plain.rows_present) == (0, 2000)
    assert first.checksum != plain.checksum  # different bytes, same rows


def test_focus_identity_ignores_column_order_and_absent_empty_columns(focus_customers, tmp_path):
    with SAMPLE.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))[:50]
    # Reverse the columns and drop one that is empty in every row (ChargeClass).
    columns = [c for c in reversed(list(rows[0].keys())) if c != "ChargeClass"]
    path = tmp_path / "reordered.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    services.ingest_path(SAMPLE, source="aws")
    report = services.ingest_path(path, source="aws")
    assert (report.rows_total, report.rows_new, report.rows_present) == (50, 0, 50)


def test_parquet_copy_ingests_identically(focus_customers, tmp_path, expected_totals):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    with SAMPLE.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    table = pa.table({c: [r[c] or None for r in rows] for c in rows[0]})
    path = tmp_path / "sample.parquet"
    pq.write_table(table, path)
    report = services.ingest_path(path, source="aws")
    assert (report.rows_total, report.rows_new, report.error_count) == (2000, 2000, 0)
    assert _totals_from_rollups(focus_customers) == expected_totals


def test_typed_parquet_ingests_with_exact_totals(focus_customers, tmp_path, expected_totals):
    """Parquet as providers write it: decimal and timestamp columns, not text."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    with SAMPLE.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    columns = {}
    for c in rows[0]:
        values = [r[c] or None for r in rows]
        if c in ("BilledCost", "ListCost", "EffectiveCost"):
            columns[c] = pa.array([Decimal(v) if v else None for v in values], type=pa.decimal128(38, 15))
        elif c in ("ChargePeriodStart", "ChargePeriodEnd", "BillingPeriodStart", "BillingPeriodEnd"):
            columns[c] = pa.array(
                [dt.datetime.fromisoformat(v) if v else None for v in values], type=pa.timestamp("us", tz="UTC")
            )
        else:
            columns[c] = pa.array(values, type=pa.string())
    path = tmp_path / "typed.parquet"
    pq.write_table(pa.table(columns), path)
    report = services.ingest_path(path, source="aws")
    assert (report.rows_total, report.rows_new, report.error_count) == (2000, 2000, 0), report.errors[:3]
    assert _totals_from_rollups(focus_customers) == expected_totals
    assert _totals_from_lines(focus_customers) == expected_totals


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[p.name for p in SCENARIOS])
def test_spec_scenarios_are_rejected_naming_missing_columns(focus_customers, scenario):
    before = snapshot()
    report = services.ingest_path(scenario, source="spec")
    assert not report.accepted and report.batch_id is None
    header = scenario.read_text(encoding="utf-8").splitlines()[0].split(",")
    if "SubAccountId" not in header:
        missing = [c for c in ("SubAccountId", "BillingCurrency") if c not in header]
        assert "SubAccountId" in missing
        assert report.error_count == 1
        (err,) = report.errors
        assert err.row == 1
        assert err.column == ", ".join(missing)
        assert err.reason == f"missing required column(s): {', '.join(missing)}"
    else:
        # The column exists but is empty: every data row is refused for its SubAccountId.
        with scenario.open(encoding="utf-8", newline="") as f:
            n = len(list(csv.DictReader(f)))
        sub = [e for e in report.errors if e.column == "SubAccountId"]
        assert [(e.row, e.reason) for e in sub] == [(i, "missing value") for i in range(2, n + 2)]
    assert snapshot() == before


def test_spec_scenarios_header_check(db):
    """The scenarios really lack the account: guard against the fixture files changing."""
    lacking = [p.name for p in SCENARIOS if "SubAccountId" not in p.read_text().splitlines()[0].split(",")]
    assert lacking == ["commitment_discount_purchase_scenario_2.csv", "commitment_discount_usage_scenario_1.csv"]


# --- classification, time zone, associations, closed months ------------------------------------------


def test_classification_per_product_rules(org):
    items = [
        record("u+", "a1", "10.5", "2026-03-01T00:00:00+00:00"),
        record("u0", "a1", "0", "2026-03-01T00:00:00+00:00"),
        record("u-", "a1", "-2.25", "2026-03-01T00:00:00+00:00"),
        record("p+", "a1", "100.000000000000001", "2026-03-01T00:00:00+00:00", charge_category="Purchase"),
        record("p-", "a1", "-40", "2026-03-01T00:00:00+00:00", charge_category="Purchase"),
        record("c-", "a1", "-5", "2026-03-01T00:00:00+00:00", charge_category="Credit"),
        record("a+", "a1", "1.5", "2026-03-01T00:00:00+00:00", charge_category="Adjustment"),
        record("a-", "a1", "-0.5", "2026-03-01T00:00:00+00:00", charge_category="Adjustment"),
        record("t+", "a1", "3.3", "2026-03-01T00:00:00+00:00", charge_category="Tax"),
    ]
    report = services.ingest_records(items, source="t")
    assert report.accepted, report.errors
    got = dict(LineItem.objects.values_list("x_line_id", "classification"))
    assert got == {
        "u+": "expenditure",
        "u0": "expenditure",
        "u-": "refund",
        "p+": "expenditure",
        "p-": "refund",
        "c-": "adjustment",
        "a+": "adjustment",
        "a-": "adjustment",
        "t+": "tax",
    }
    assert report.totals == {
        "USD": {
            "expenditure": Decimal("110.500000000000001"),
            "refund": Decimal("42.25"),  # shown positive
            "adjustment": Decimal("-4"),
            "tax": Decimal("3.3"),
            "net": Decimal("67.550000000000001"),  # Σ BilledCost
        }
    }
    net = Decimal("10.5") + 0 - Decimal("2.25") + Decimal("100.000000000000001") - 40 - 5 + Decimal("1.5")
    net += Decimal("-0.5") + Decimal("3.3")
    assert report.totals["USD"]["net"] == net
    strings = report.totals_as_strings()["USD"]
    assert list(strings) == ["adjustment", "expenditure", "net", "refund", "tax"]
    assert all(re.fullmatch(r"-?\d+(\.\d+)?", v) for v in strings.values())  # fixed point, no exponent
    assert {k: Decimal(v) for k, v in strings.items()} == report.totals["USD"]
    assert strings["expenditure"] == "110.500000000000001"
    # The rollups carry the signed amounts per classification.
    sums = dict(
        DailyRollup.objects.values("classification").annotate(t=ExactSum("amount")).values_list("classification", "t")
    )
    assert sums == {
        "expenditure": Decimal("110.500000000000001"),
        "refund": Decimal("-42.25"),
        "adjustment": Decimal("-4"),
        "tax": Decimal("3.3"),
    }


@pytest.mark.parametrize(
    "start, day, month",
    [
        ("2026-05-31T15:59:59+00:00", dt.date(2026, 5, 31), dt.date(2026, 5, 1)),
        ("2026-05-31T16:00:00+00:00", dt.date(2026, 6, 1), dt.date(2026, 6, 1)),
        ("2026-05-31T16:00:00Z", dt.date(2026, 6, 1), dt.date(2026, 6, 1)),
        ("2026-06-01T00:00:00+08:00", dt.date(2026, 6, 1), dt.date(2026, 6, 1)),
        ("2026-05-31T23:59:59+08:00", dt.date(2026, 5, 31), dt.date(2026, 5, 1)),
        ("2026-05-31T12:00:00-05:00", dt.date(2026, 6, 1), dt.date(2026, 6, 1)),  # 17:00Z
    ],
)
def test_day_and_month_in_billing_time_zone(org, start, day, month):
    rec = record("x", "a1", "1", "2026-05-31T00:00:00+00:00")
    rec["charge_period_start"] = start
    rec["charge_period_end"] = "2026-06-02T00:00:00Z"
    report = services.ingest_records([rec], source="t")
    assert report.accepted, report.errors
    li = LineItem.objects.get()
    assert (li.charge_day, li.charge_month) == (day, month)
    assert li.charge_period_start == dt.datetime.fromisoformat(start.replace("Z", "+00:00"))
    assert DailyRollup.objects.get().day == day


def test_partner_and_association_as_in_force_at_charge_time(org):
    moved = dt.datetime(2026, 3, 15, 16, 0, tzinfo=dt.UTC)  # 2026-03-16 00:00 Asia/Shanghai
    with clock.frozen_at(moved - dt.timedelta(days=1)):
        partner_services.associate_customer(
            customer=org.customers["a2"], partner=org.partners["sp-b"], association_type="reseller", valid_from=moved
        )
    items = [
        record("before", "a2", "10", "2026-03-02T00:00:00+00:00"),
        record("just-before", "a2", "20", "2026-03-15T15:59:59+00:00"),
        record("at", "a2", "40", "2026-03-15T16:00:00+00:00"),
        record("after", "a2", "80", "2026-03-30T00:00:00+00:00"),
    ]
    report = services.ingest_records(items, source="t")
    assert report.accepted, report.errors
    got = {li.x_line_id: (li.partner.code, li.association_type) for li in LineItem.objects.select_related("partner")}
    assert got == {
        "before": ("sp-a", "referral"),
        "just-before": ("sp-a", "referral"),
        "at": ("sp-b", "reseller"),
        "after": ("sp-b", "reseller"),
    }
    by_partner = dict(
        DailyRollup.objects.values("partner__code").annotate(t=ExactSum("amount")).values_list("partner__code", "t")
    )
    assert by_partner == {"sp-a": Decimal(30), "sp-b": Decimal(120)}


def test_charge_before_any_association_is_refused(org):
    rec = record("early", "a1", "1", "2025-01-01T00:00:00+00:00")
    report = services.ingest_records([rec], source="t")
    assert not report.accepted
    assert [(e.row, e.column) for e in report.errors] == [(1, "charge_period_start")]
    assert "no partner association" in report.errors[0].reason
    assert LineItem.objects.count() == 0


def test_rows_of_a_closed_month_are_corrections(org):
    ClosedMonth.objects.create(partner=org.partners["sp-a"], month=dt.date(2026, 3, 1), closed_at=T_CLOSE)
    items = [
        record("march", "a1", "5", "2026-03-10T00:00:00+00:00"),
        record("march-last-second", "a3", "6", "2026-03-31T15:59:59+00:00"),
        record("april-in-shanghai", "a1", "7", "2026-03-31T16:00:00+00:00"),
        record("other-partner", "b1", "8", "2026-03-10T00:00:00+00:00"),
    ]
    report = services.ingest_records(items, source="t")
    assert report.accepted, report.errors
    assert report.rows_corrections == 2
    flags = dict(LineItem.objects.values_list("x_line_id", "is_correction"))
    assert flags == {"march": True, "march-last-second": True, "april-in-shanghai": False, "other-partner": False}
    assert IngestBatch.objects.get(pk=report.batch_id).rows_corrections == 2
    # Re-sending them adds nothing and counts no new corrections.
    again = services.ingest_records(items, source="t")
    assert (again.rows_new, again.rows_present, again.rows_corrections) == (0, 4, 0)


T_CLOSE = dt.datetime(2026, 4, 1, 3, 0, tzinfo=dt.UTC)


def test_unknown_accounts_are_listed_and_nothing_written(org):
    items = [
        record("1", "zz-2", "1", "2026-03-01T00:00:00+00:00"),
        record("2", "a1", "1", "2026-03-01T00:00:00+00:00"),
        record("3", "zz-1", "1", "2026-03-01T00:00:00+00:00"),
        record("4", "zz-2", "1", "2026-03-01T00:00:00+00:00"),
    ]
    before = snapshot()
    report = services.ingest_records(items, source="t")
    assert not report.accepted and report.batch_id is None
    assert report.unknown_accounts == ["zz-1", "zz-2"]
    assert report.error_count == 3
    assert [(e.row, e.column) for e in report.errors] == [(1, "account_id"), (3, "account_id"), (4, "account_id")]
    assert report.errors[0].reason == "unknown customer account 'zz-2'"
    assert (report.rows_new, report.totals) == (0, {})
    assert snapshot() == before


def test_more_than_100_errors_reports_100_and_counts_all(org):
    items = [record(str(i), "a1", "1", "2026-03-01T00:00:00+00:00", charge_category="Refund") for i in range(150)]
    items.insert(70, record("good", "a1", "1", "2026-03-01T00:00:00+00:00"))
    report = services.ingest_records(items, source="t")
    assert report.error_count == 150
    assert len(report.errors) == 100
    assert [e.row for e in report.errors] == list(range(1, 71)) + list(range(72, 102))  # items numbered from 1
    assert {e.column for e in report.errors} == {"charge_category"}
    assert report.as_dict()["error_count"] == 150
    assert LineItem.objects.count() == 0 and IngestBatch.objects.count() == 0


def test_error_after_many_good_rows_rolls_back_written_chunks(org, monkeypatch):
    from partnercenter.usage import ingest

    monkeypatch.setattr(ingest, "CHUNK", 7)  # several chunks are written before the bad row
    items = [record(f"g{i}", "a1", "1.1", "2026-03-01T00:00:00+00:00") for i in range(40)]
    services.ingest_records(items[:3], source="t")
    before = snapshot()
    items.append(record("bad", "a1", "1..1", "2026-03-01T00:00:00+00:00"))
    report = services.ingest_records(items, source="t")
    assert [(e.row, e.column) for e in report.errors] == [(41, "billed_cost")]
    assert snapshot() == before


def test_duplicate_line_ids_within_a_batch_count_once(org, monkeypatch):
    from partnercenter.usage import ingest

    monkeypatch.setattr(ingest, "CHUNK", 3)  # duplicates both within and across chunks
    items = [record(f"l{i % 4}", "a1", "2", "2026-03-01T00:00:00+00:00") for i in range(10)]
    report = services.ingest_records(items, source="t")
    assert (report.rows_total, report.rows_new, report.rows_present) == (10, 4, 6)
    assert report.totals["USD"]["expenditure"] == Decimal(8)
    assert DailyRollup.objects.get().line_count == 4
    assert rollups_by_key() == line_sums_by_rollup_key()


def test_empty_batch_is_rejected(org):
    report = services.ingest_records([], source="t")
    assert not report.accepted
    assert report.error_count == 1
    assert IngestBatch.objects.count() == 0


# --- the command -------------------------------------------------------------------------------------


def test_command_prints_counts_and_exact_totals(focus_customers, expected_totals):
    out = io.StringIO()
    call_command("ingest", str(SAMPLE), "--format", "focus", "--source", "x", stdout=out)
    text = out.getvalue()
    batch = IngestBatch.objects.get()
    assert text.splitlines()[0] == f"Batch {batch.pk} accepted: 2000 rows, 2000 new, 0 already present, 0 corrections"
    m = re.search(r"^  USD: (.*)$", text, re.M)
    assert m is not None
    printed = dict(part.split(" ") for part in m.group(1).split(", "))
    assert "E" not in m.group(1)  # fixed point, never an exponent
    overall = {c: sum(t[c] for t in expected_totals.values()) for c in CLASSES}
    assert {k: Decimal(v) for k, v in printed.items()} == overall
    assert printed["net"] == "44238.884023339465000"

    out = io.StringIO()
    call_command("ingest", str(SAMPLE), "--format", "focus", "--source", "x", stdout=out)
    assert ": 2000 rows, 0 new, 2000 already present, 0 corrections" in out.getvalue()


def test_command_rejected_file(focus_customers, tmp_path):
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    row = next(csv.reader([lines[5]]))
    row[header.index("BilledCost")] = "12,5"
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(row)
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join([*lines[:5], buf.getvalue().rstrip("\n"), *lines[6:]]) + "\n", encoding="utf-8")

    err = io.StringIO()
    with pytest.raises(CommandError) as exc:
        call_command("ingest", str(bad), "--format", "focus", "--source", "x", stdout=io.StringIO(), stderr=err)
    assert exc.value.returncode == 2  # the process exits with status 2
    text = err.getvalue()
    assert f"Rejected {bad}: 1 problem(s); nothing was written." in text
    assert "row 6, column BilledCost: '12,5': not a decimal number" in text
    assert LineItem.objects.count() == 0 and IngestBatch.objects.count() == 0


def test_command_missing_columns_and_missing_file(db, tmp_path):
    scenario = FOCUS_DIR / "spec-scenarios" / "commitment_discount_usage_scenario_1.csv"
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("ingest", str(scenario), stdout=io.StringIO(), stderr=err)
    text = err.getvalue()
    assert (
        "row 1, column SubAccountId, BillingCurrency: missing required column(s): SubAccountId, BillingCurrency" in text
    )
    with pytest.raises(CommandError, match="no such file"):
        call_command("ingest", str(tmp_path / "nope.csv"))


def test_command_native_json(org, tmp_path):
    import json

    path = tmp_path / "items.json"
    items = [
        record("j1", "a1", "0.000000000000001", "2026-03-01T00:00:00Z"),
        record("j2", "b1", "2", "2026-03-01T00:00:00Z"),
    ]
    path.write_text(json.dumps({"items": items}), encoding="utf-8")
    out = io.StringIO()
    call_command("ingest", str(path), "--format", "native", stdout=out)
    assert "2 rows, 2 new" in out.getvalue()
    assert "USD: adjustment 0, expenditure 2.000000000000001, net 2.000000000000001, refund 0, tax 0" in out.getvalue()
    assert Partner.objects.filter(pk__in=LineItem.objects.values("partner_id")).count() == 2


def test_bad_billing_period_names_its_column(org):
    good = record("bp-ok", "a1", "1", "2026-03-01T00:00:00Z", billing_period_start="2026-03-01T00:00:00Z")
    bad_end = record("bp-end", "a1", "1", "2026-03-01T00:00:00Z", billing_period_end="March")
    report = services.ingest_records([good, bad_end], source="t")
    assert [(e.row, e.column) for e in report.errors] == [(2, "billing_period_end")]
    assert report.errors[0].reason.startswith("'March' is not an ISO 8601 timestamp")
    bad_start = record("bp-start", "a1", "1", "2026-03-01T00:00:00Z", billing_period_start="2026-03-01")
    report = services.ingest_records([good, bad_start], source="t")
    assert [(e.row, e.column) for e in report.errors] == [(2, "billing_period_start")]  # naive: no time zone
    assert LineItem.objects.count() == 0 and IngestBatch.objects.count() == 0


def test_billing_period_is_kept(org):
    rec = record(
        "bp",
        "a1",
        "1",
        "2026-03-01T00:00:00Z",
        billing_period_start="2026-03-01T00:00:00Z",
        billing_period_end="2026-04-01T00:00:00+08:00",
    )
    assert services.ingest_records([rec], source="t").accepted
    li = LineItem.objects.get()
    assert li.billing_period_start == dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    assert li.billing_period_end == dt.datetime(2026, 3, 31, 16, tzinfo=dt.UTC)
