"""FOCUS CSV files read column-wise (usage/pipeline/columnar.py) give exactly what the row path
gives: the same report, line items, daily rollups, running totals and batch, valid or not.

Each case ingests one file twice, row by row (the block path switched off) and in blocks, each
time inside a transaction rolled back afterwards, and compares everything the two wrote and
said. Every case also says how the block path must have taken the file, so none passes without
the block path having done what it is meant to."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import multiprocessing
import shutil
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction

from partnercenter.core import clock
from partnercenter.partners import services as partner_services
from partnercenter.partners.models import Customer, Partner
from partnercenter.usage import formats, services
from partnercenter.usage.models import (
    ClosedMonth,
    CustomerRunningTotal,
    DailyRollup,
    Freshness,
    IngestBatch,
    LedgerVersion,
    LineItem,
)
from partnercenter.usage.pipeline import batch, columnar, transform
from partnercenter.usage.pipeline.report import Report
from tests.test_usage_ingest import SAMPLE, focus_customers  # noqa: F401  (a fixture)

pytestmark = pytest.mark.usefixtures("focus_customers")  # the sample's four customers

SMALL_BLOCK = 4096  # a few sample rows a block: the two paths alternate within one file

# How the block path must have taken a file.
BLOCKS = "blocks"  # every block taken column-wise
MIXED = "mixed"  # some blocks taken column-wise, some handed to the row path
REFUSED = "refused"  # no block taken: the row path reported the problems
ROWS = "rows"  # the csv module's pass refused the file: the row path took all of it (again)
NO_ROWS = "no rows"  # read column-wise, but there was nothing to take
UNLOADED = "unloaded"  # too many customers to load them all first: the row path took all of it
FELL_BACK = "fell back"  # blocks taken, then pyarrow could not read on: the row path took it all again


# --- the comparison ------------------------------------------------------------------------------


class Taken:
    """What the block path did. Blocks are read and prepared in a forked process on SQLite when
    a file has several (columnar.FORK_BLOCKS): those counts are kept in memory both share."""

    def __init__(self) -> None:
        self.readable: list[bool] = []
        self.blocks = 0
        self._shared = multiprocessing.RawArray("q", 3)  # refused, raised, unsupported

    refused = property(lambda self: self._shared[0])
    raised = property(lambda self: self._shared[1])
    unsupported = property(lambda self: self._shared[2])

    def count(self, what: str) -> None:
        self._shared[("refused", "raised", "unsupported").index(what)] += 1

    def __repr__(self) -> str:
        return (
            f"Taken(readable={self.readable}, blocks={self.blocks}, refused={self.refused}, "
            f"raised={self.raised}, unsupported={self.unsupported})"
        )


def _text(value: Any) -> Any:
    """Values as compared: decimals by their text (an exponent or sign difference shows)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, memoryview):
        return bytes(value)
    return value


def _lines(batch_id: int | None) -> list[tuple[Any, ...]]:
    names = [f.attname for f in LineItem._meta.concrete_fields if f.attname != "id"]
    rows = LineItem.objects.order_by("id").values_list(*names)
    # A rolled-back batch's id may be reused (SQLite) or not (a PostgreSQL sequence).
    return [
        tuple("this batch" if n == "batch_id" and v == batch_id else _text(v) for n, v in zip(names, r, strict=True))
        for r in rows
    ]


def _rollups() -> dict[tuple[Any, ...], tuple[Any, ...]]:
    key = ["day", "customer_id", "partner_id", "association_type", "service_name", "service_type", "region_id"]
    key += ["x_project", "x_billing_mode", "classification", "currency"]
    return {r[:-2]: (_text(r[-2]), r[-1]) for r in DailyRollup.objects.values_list(*key, "amount", "line_count")}


def _running_totals() -> dict[tuple[Any, ...], tuple[Any, ...]]:
    key = ["key__customer_id", "key__partner_id", "key__association_type", "key__currency", "day"]
    values = [f.attname for f in CustomerRunningTotal._meta.concrete_fields if f.attname not in ("id", "key_id", "day")]
    rows = CustomerRunningTotal.objects.values_list(*key, *values)
    return {r[: len(key)]: r[len(key) :] for r in rows}


def _batches(batch_id: int | None) -> list[tuple[Any, ...]]:
    names = ["source", "file_name", "format", "checksum", "status", "rows_total", "rows_new", "rows_present"]
    names += ["rows_corrections", "totals", "errors"]
    return [(pk == batch_id, *r) for pk, *r in IngestBatch.objects.order_by("id").values_list("id", *names)]


def _snapshot(report: Any) -> dict[str, Any]:
    said = report.as_dict()
    batch_id = said.pop("batch_id")
    return {
        "report": said,
        "lines": _lines(batch_id),
        "rollups": _rollups(),
        "running_totals": _running_totals(),
        "batches": _batches(batch_id),
        "freshness": sorted(Freshness.objects.values_list("source", "complete_until")),
        "ledger_version": list(LedgerVersion.objects.values_list("version", flat=True)),
    }


def _raised(path: Path, what: str) -> Report:
    report = Report(source="aws", file_name=path.name, format="focus", checksum="")
    report.error(0, "", what)
    return report


def _ingest_rolled_back(path: Path) -> dict[str, Any]:
    with transaction.atomic():
        try:
            report = services.ingest_path(path, source="aws")
        except formats.UnreadableInput as e:
            # Refused before any row is taken: the message (where and why) must be the same.
            report = _raised(path, f"unreadable: {e}")
        except Exception as e:  # noqa: BLE001  (what escapes one path must escape the other alike)
            report = _raised(path, f"{type(e).__name__}: {str(e).splitlines()[0]}")
        snap = _snapshot(report)
        transaction.set_rollback(True)
    return snap


def _count_blocks(monkeypatch: pytest.MonkeyPatch) -> Taken:
    taken = Taken()
    readable, record_batches = columnar.readable, columnar.record_batches
    prepare, take = columnar.BlockPath.prepare, columnar.BlockPath.take

    def counted_readable(source: Any, width: int) -> Any:
        # The check runs beside the blocks; asked here at once, its answer is known whatever
        # happens to the blocks after (it is asked again, with the same answer, after the last).
        check = readable(source, width)
        taken.readable.append(check is not None and check.passed())
        return check

    def counted_prepare(self: Any, *args: Any) -> Any:
        try:
            ready = prepare(self, *args)
        except Exception:
            taken.count("raised")
            raise
        if ready is None:
            taken.count("refused")
        return ready

    def counted_take(self: Any, *args: Any) -> None:
        try:
            take(self, *args)
        except Exception:
            taken.count("raised")
            raise
        taken.blocks += 1

    def counted_batches(*args: Any) -> Any:
        try:
            yield from record_batches(*args)
        except columnar.Unsupported:
            taken.count("unsupported")
            raise

    monkeypatch.setattr(columnar, "readable", counted_readable)
    monkeypatch.setattr(columnar, "record_batches", counted_batches)
    monkeypatch.setattr(columnar.BlockPath, "prepare", counted_prepare)
    monkeypatch.setattr(columnar.BlockPath, "take", counted_take)
    return taken


def _check_taken(taken: Taken, expect: str) -> None:
    if expect == ROWS:
        # Blocks may have been taken beside the check: its answer undid them.
        assert taken.readable == [False]
        return
    assert taken.readable == [True]
    assert taken.raised == 0, taken
    if expect == FELL_BACK:
        assert taken.blocks > 0 and taken.unsupported == 1, taken
        return
    assert taken.unsupported == 0, taken
    if expect in (NO_ROWS, UNLOADED):
        assert (taken.blocks, taken.refused) == (0, 0)
    elif expect == BLOCKS:
        assert taken.blocks > 0 and taken.refused == 0, taken
    elif expect == MIXED:
        assert taken.blocks > 0 and taken.refused > 0, taken
    else:
        assert expect == REFUSED
        assert taken.blocks == 0 and taken.refused > 0, taken


def same_both_ways(path: Path, monkeypatch: pytest.MonkeyPatch, expect: str, at_least: int = 1) -> dict[str, Any]:
    """Ingest ``path`` by rows then by blocks, both rolled back; the two must agree exactly.
    Returns the report (as a dict) both gave."""
    with monkeypatch.context() as m:
        m.setattr(columnar, "readable", lambda source, width: False)
        by_rows = _ingest_rolled_back(path)
    with monkeypatch.context() as m:
        taken = _count_blocks(m)
        by_blocks = _ingest_rolled_back(path)
    for part in by_rows:
        assert by_blocks[part] == by_rows[part], part
    assert by_blocks == by_rows
    _check_taken(taken, expect)
    assert taken.blocks >= (at_least if expect in (BLOCKS, MIXED) else 0), taken
    report: dict[str, Any] = by_rows["report"]
    if expect == BLOCKS:
        assert report["status"] == "accepted"
        assert len(by_rows["lines"]) >= report["rows_new"] and by_rows["rollups"] and by_rows["running_totals"]
    return report


# --- the inputs ---------------------------------------------------------------------------------


def sample(n: int | None = None) -> tuple[list[str], list[list[str]]]:
    with SAMPLE.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1 : None if n is None else n + 1]


def write(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
    return path


def edited(tmp_path: Path, n: int, edits: dict[int, dict[str, str]], name: str = "edited.csv") -> Path:
    """The first ``n`` sample rows, row k (0-based) given the column values ``edits[k]``."""
    header, rows = sample(n)
    at = {c: i for i, c in enumerate(header)}
    for k, values in edits.items():
        for column, value in values.items():
            rows[k][at[column]] = value
    return write(tmp_path / name, header, rows)


def with_columns(tmp_path: Path, n: int, extra: dict[str, list[str]], name: str = "extra.csv") -> Path:
    """The first ``n`` sample rows with added columns (one value a row, cycled)."""
    header, rows = sample(n)
    for column, values in extra.items():
        header = [*header, column]
        rows = [[*r, values[k % len(values)]] for k, r in enumerate(rows)]
    return write(tmp_path / name, header, rows)


def raw_lines(tmp_path: Path, n: int, change: Any, name: str = "raw.csv") -> Path:
    """The file's first ``n`` data lines as text, ``change(lines)`` applied (the sample has no
    line breaks inside fields)."""
    text = SAMPLE.read_text(encoding="utf-8")
    lines = text.split("\n")[: n + 1]
    path = tmp_path / name
    path.write_text("\n".join(change(lines)) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(columnar, "BLOCK_BYTES", SMALL_BLOCK)


def _errors(report: dict[str, Any]) -> list[tuple[int, str, str]]:
    return [(e["row"], e["column"], e["reason"]) for e in report["errors"]]


# --- valid files ---------------------------------------------------------------------------------


def test_focus_sample(monkeypatch):
    report = same_both_ways(SAMPLE, monkeypatch, BLOCKS)
    assert (report["rows_total"], report["rows_new"], report["rows_present"]) == (2000, 2000, 0)


def test_gzipped_sample(monkeypatch, tmp_path):
    gz = tmp_path / "focus_1_2_sample_aws.csv.gz"
    with SAMPLE.open("rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    report = same_both_ways(gz, monkeypatch, BLOCKS)
    assert (report["rows_total"], report["rows_new"]) == (2000, 2000)


def test_reingest_finds_every_row_present(monkeypatch):
    first = services.ingest_path(SAMPLE, source="aws")
    assert first.accepted
    report = same_both_ways(SAMPLE, monkeypatch, BLOCKS)
    assert (report["rows_total"], report["rows_new"], report["rows_present"], report["totals"]) == (2000, 0, 2000, {})


def test_part_of_the_file_already_stored(monkeypatch, small_blocks, tmp_path):
    header, rows = sample(120)
    services.ingest_path(write(tmp_path / "some.csv", header, rows[40:80:3]), source="aws")
    report = same_both_ways(write(tmp_path / "all.csv", header, rows), monkeypatch, BLOCKS)
    assert (report["rows_new"], report["rows_present"]) == (106, 14)


@pytest.mark.parametrize("block", [columnar.BLOCK_BYTES, SMALL_BLOCK], ids=["one-block", "small-blocks"])
def test_duplicate_rows(monkeypatch, tmp_path, block):
    monkeypatch.setattr(columnar, "BLOCK_BYTES", block)
    header, rows = sample(60)
    rows = [*rows[:30], rows[0], rows[1], rows[1], *rows[30:], rows[29], rows[5]]
    report = same_both_ways(write(tmp_path / "dups.csv", header, rows), monkeypatch, BLOCKS)
    assert (report["rows_total"], report["rows_new"], report["rows_present"]) == (65, 60, 5)


def test_small_blocks_over_the_sample(monkeypatch, small_blocks, tmp_path):
    header, rows = sample(300)
    report = same_both_ways(write(tmp_path / "s.csv", header, rows), monkeypatch, BLOCKS, at_least=50)
    assert report["rows_new"] == 300


def _times(start: str, hours: int = 1) -> dict[str, str]:
    begin = dt.datetime.fromisoformat(start)
    end = (begin + dt.timedelta(hours=hours)).isoformat().replace("+00:00", "Z")
    return {"ChargePeriodStart": start, "ChargePeriodEnd": end}


def test_billing_day_and_month_boundaries(monkeypatch, tmp_path):
    starts = [
        "2026-05-10T15:59:59Z",
        "2026-05-10T16:00:00Z",
        "2026-05-31T15:59:59Z",
        "2026-05-31T16:00:00Z",
        "2026-04-30T16:00:00Z",
        "2026-04-30T15:59:59.999999Z",
        "2026-05-11T00:00:00+08:00",
        "2026-05-10T23:59:59+08:00",
        "2026-05-10T16:00:00.000+00:00",
        "2026-05-10 16:00:00Z",
        "2026-05-10T16:00Z",
        "20260510T160000Z",
        "2026-05-10T16:00:00.5Z",
        "2026-05-10T16:00:00,5Z",
        "2026-W19-7T16:00Z",
        "2026-05-11T00:00:00+0800",
    ]
    edits = {k * 3: _times(s) for k, s in enumerate(starts)}
    edits[47] = {"ChargePeriodStart": "2026-05-12T00:00:00Z", "ChargePeriodEnd": "2026-05-12T00:00:00Z"}
    report = same_both_ways(edited(tmp_path, 50, edits), monkeypatch, BLOCKS)
    assert report["rows_new"] == 50


def test_refunds_tax_credits_adjustments(monkeypatch, tmp_path):
    kinds = [
        ("Usage", "-1.5"),
        ("Usage", "0"),
        ("Usage", "-0"),
        ("Purchase", "-40.000"),
        ("Tax", "3.30"),
        ("Tax", "-0.5"),
        ("Credit", "-5"),
        ("Credit", "2"),
        ("Adjustment", "1.5"),
        ("Adjustment", "-0.25"),
    ]
    edits = {k * 2: {"ChargeCategory": c, "BilledCost": b} for k, (c, b) in enumerate(kinds)}
    report = same_both_ways(edited(tmp_path, 30, edits), monkeypatch, BLOCKS)
    assert set(report["totals"]["USD"]) == {"expenditure", "refund", "adjustment", "tax", "net"}


@pytest.mark.parametrize("billed", ["-0.000", "-0.0", "0.000"])
def test_zero_with_a_sign_and_places(monkeypatch, tmp_path, billed):
    edits = {k: {"BilledCost": billed} for k in range(5)}
    same_both_ways(edited(tmp_path, 5, edits), monkeypatch, BLOCKS)


def test_empty_list_and_effective_cost(monkeypatch, tmp_path):
    edits = {0: {"ListCost": ""}, 1: {"EffectiveCost": ""}, 2: {"ListCost": "", "EffectiveCost": ""}}
    edits[3] = {"PricingQuantity": ""}
    report = same_both_ways(edited(tmp_path, 10, edits), monkeypatch, BLOCKS)
    assert report["rows_new"] == 10


QUANTITIES = [
    "1E+2",
    " 1.5",
    "+1.5",
    "-0.000",
    "0.000000000000001",
    "1.50",
    "1e-3",
    "\t2",
    "99999999999999999999999",
    "99999999999999999999999.999999999999999",
    "-99999999999999999999999.999999999999999",
]


def test_quantities_as_written(monkeypatch, tmp_path):
    edits = {k: {"PricingQuantity": q} for k, q in enumerate(QUANTITIES)}
    report = same_both_ways(edited(tmp_path, 20, edits), monkeypatch, BLOCKS)
    assert report["rows_new"] == 20


def test_costs_as_written(monkeypatch, tmp_path):
    texts = ["1E+2", " 1.5", "+1.5", "0.000000000000001", "1.50", "1e-3", "2.5E1", "-3 ", ".5", "7."]
    edits = {}
    for k, t in enumerate(texts):
        edits[3 * k] = {"BilledCost": t}
        edits[3 * k + 1] = {"ListCost": t}
        edits[3 * k + 2] = {"EffectiveCost": t}
    report = same_both_ways(edited(tmp_path, 35, edits), monkeypatch, BLOCKS)
    assert report["rows_new"] == 35


def test_fifteen_places_and_amounts_near_the_limit(monkeypatch, tmp_path):
    amounts = [
        "999999999999.999999999999999",
        "999999999999.999999999999999",
        "1000000000000",
        "-999999999999.999999999999999",
        "0.123456789012345",
        "-0.000000000000001",
        "1000000000000.000000000000000",
        "123456789012.100000000000000",
    ]
    edits = {k: {"BilledCost": a, "ListCost": a, "EffectiveCost": a} for k, a in enumerate(amounts)}
    # The same customer, day and service: the rollups sum amounts beyond 10^12.
    same = {"SubAccountId": "200000000011", **_times("2026-05-03T00:00:00Z"), "ServiceName": "AmazonEC2"}
    for k in (0, 1, 2, 6):
        edits[k].update(same)
    report = same_both_ways(edited(tmp_path, 12, edits), monkeypatch, BLOCKS)
    assert report["rows_new"] == 12


def test_project_from_tags_and_column(monkeypatch, tmp_path):
    tags = [
        '{"x_Project":"apollo","Project":"other"}',
        '{"Project":"gemini"}',
        '{"project":"mercury"}',
        '{"Project":""}',
        '{"Project":"' + "长" * 120 + '"}',
        '{"Project": 42}',
        '{"Project": "x"',  # not JSON
        '["Project"]',
        '{"Environment":"prod"}',
        "",
    ]
    projects = ["", "", "explicit", "", "", "", "", "", "", ""]
    path = with_columns(tmp_path, 40, {"Tags2": ["x"], "x_Project": projects})
    with path.open(encoding="utf-8", newline="") as f:
        header, *rows = list(csv.reader(f))
    at = header.index("Tags")
    for k, r in enumerate(rows):
        r[at] = tags[k % len(tags)]
    report = same_both_ways(write(tmp_path / "tags.csv", header, rows), monkeypatch, BLOCKS)
    assert report["rows_new"] == 40


def test_long_texts_are_cut_alike(monkeypatch, tmp_path):
    edits = {
        0: {"ChargeDescription": "数据分析" * 130},
        1: {"ChargeDescription": "a" * 499 + "数据"},
        2: {"ChargeDescription": "é" * 501, "ResourceId": "资源" * 260, "ServiceName": "服务" * 101},
        3: {"ResourceName": "x" * 201, "PricingUnit": "単位" * 33, "RegionId": "r" * 65, "SkuId": "🙂" * 201},
        4: {"ChargeDescription": 'line one\nline two, "quoted"\r\nline three'},
        5: {"ChargeDescription": "  padded  ", "RegionName": "区域" * 51, "ResourceType": "t" * 101},
    }
    report = same_both_ways(edited(tmp_path, 10, edits), monkeypatch, BLOCKS)
    assert report["rows_new"] == 10


def test_texts_longer_than_their_column_are_cut_to_it(monkeypatch, tmp_path):
    """ChargeClass, ChargeFrequency, PricingCategory and x_Project are cut to their columns as the
    other texts are (before, SQLite stored them whole and PostgreSQL refused the batch)."""
    path = with_columns(tmp_path, 6, {"x_Project": ["项目" * 60, "p" * 100, ""]})
    with path.open(encoding="utf-8", newline="") as f:
        header, *rows = list(csv.reader(f))
    long = {"ChargeClass": "Correction" * 3, "ChargeFrequency": "Usage-Based" * 4, "PricingCategory": "定价" * 20}
    for r in rows[:3]:
        for name, text in long.items():
            r[header.index(name)] = text
    path = write(tmp_path / "long.csv", header, rows)
    assert same_both_ways(path, monkeypatch, BLOCKS)["rows_new"] == 6
    assert services.ingest_path(path, source="aws").error_count == 0
    fields = ("charge_class", "charge_frequency", "pricing_category", "x_project")
    stored = {r[0]: r[1:] for r in LineItem.objects.values_list("source_row", *fields)}
    cut = ("CorrectionCorrec", ("Usage-Based" * 4)[:32], "定价" * 16)
    assert stored[2] == (*cut, "项目" * 50)
    assert stored[3] == (*cut, "p" * 100)
    assert stored[4][:3] == cut and stored[4][3] == ""
    assert [len(stored[n][3]) for n in range(5, 8)] == [100, 100, 0]


def test_billing_mode_and_service_type_columns(monkeypatch, tmp_path):
    extra = {
        "x_BillingMode": ["", "prepaid_yearly", "monthly_95th_bandwidth", "", "other"],
        "x_ServiceType": ["", "marketplace", "", "cloud"],
        "x_OrderId": ["", "order-1"],
        "x_LineId": ["", "line-a", "line-b"],
    }
    path = with_columns(tmp_path, 30, extra)
    with path.open(encoding="utf-8", newline="") as f:
        header, *rows = list(csv.reader(f))
    at = {c: i for i, c in enumerate(header)}
    for k, r in enumerate(rows[:8]):
        r[at["ChargeFrequency"]] = ["One-Time", "", "Recurring", "Usage-Based"][k % 4]
        r[at["PublisherName"]] = ["Vendor", "", "AWS", "AWS"][k % 4]
    report = same_both_ways(write(tmp_path / "modes.csv", header, rows), monkeypatch, BLOCKS)
    assert report["rows_new"] == 30


def test_customer_moved_to_another_partner_mid_month(monkeypatch, tmp_path):
    moved = dt.datetime(2026, 5, 15, 16, 0, tzinfo=dt.UTC)  # 2026-05-16 00:00 Asia/Shanghai
    with clock.frozen_at(moved - dt.timedelta(days=1)):
        other = partner_services.create_partner(code="focus-other", name="Other", kind="solution_provider")
        partner_services.associate_customer(
            customer=Customer.objects.get(account_id="200000000011"),
            partner=other,
            association_type="reseller",
            valid_from=moved,
        )
    edits = {k: {"SubAccountId": "200000000011", **_times(s)} for k, s in enumerate(
        ["2026-05-15T15:59:59Z", "2026-05-15T16:00:00Z", "2026-05-02T00:00:00Z", "2026-05-30T00:00:00Z"]
    )}  # fmt: skip
    report = same_both_ways(edited(tmp_path, 60, edits), monkeypatch, BLOCKS)
    assert report["rows_new"] == 60
    assert len({r[3] for r in _partners_of_lines(tmp_path, monkeypatch)}) == 2


def _partners_of_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    with transaction.atomic():
        services.ingest_path(tmp_path / "edited.csv", source="aws")
        found = list(
            LineItem.objects.values_list("customer__account_id", "charge_day", "association_type", "partner_id")
        )
        transaction.set_rollback(True)
    return [r for r in found if r[0] == "200000000011"]


def test_rows_of_closed_months_are_corrections(monkeypatch, tmp_path):
    partner = Partner.objects.get(code="focus-sample-reseller")
    ClosedMonth.objects.create(
        partner=partner, month=dt.date(2026, 4, 1), closed_at=dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
    )
    starts = ["2026-04-10T00:00:00Z", "2026-04-30T15:59:59Z", "2026-04-30T16:00:00Z", "2026-03-05T00:00:00Z"]
    edits = {k * 4: _times(s) for k, s in enumerate(starts)}
    report = same_both_ways(edited(tmp_path, 30, edits), monkeypatch, BLOCKS)
    assert (report["rows_new"], report["rows_corrections"]) == (30, 3)


def test_crlf_lines_and_a_byte_order_mark(monkeypatch, tmp_path):
    path = tmp_path / "crlf.csv"
    header, rows = sample(25)
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        csv.writer(f, lineterminator="\r\n").writerows([header, *rows])
    report = same_both_ways(path, monkeypatch, BLOCKS)
    assert report["rows_new"] == 25


# --- invalid files: the same report and nothing written, both ways --------------------------------

# id -> (row index, column values, the column the first error names)
INVALID = {
    "unknown-account": (3, {"SubAccountId": "999999999999"}, "SubAccountId"),
    "empty-account": (3, {"SubAccountId": " "}, "SubAccountId"),
    "amount-two-points": (3, {"BilledCost": "1.2.3"}, "BilledCost"),
    "amount-16-places": (3, {"BilledCost": "0.1234567890123456"}, "BilledCost"),
    "amount-beyond-limit": (3, {"BilledCost": "1000000000000.000000000000001"}, "BilledCost"),
    "amount-far-beyond-limit": (3, {"BilledCost": "1E+13"}, "BilledCost"),
    "amount-empty": (3, {"BilledCost": ""}, "BilledCost"),
    "amount-nan": (3, {"BilledCost": "NaN"}, "BilledCost"),
    "amount-thousands": (3, {"BilledCost": "1,000.5"}, "BilledCost"),
    "amount-arabic-digits": (3, {"BilledCost": "١٢"}, "BilledCost"),
    "list-cost-bad": (3, {"ListCost": "abc"}, "ListCost"),
    "effective-cost-17-places": (3, {"EffectiveCost": "0.00000000000000001"}, "EffectiveCost"),
    "quantity-beyond-limit": (3, {"PricingQuantity": "1E+24"}, "PricingQuantity"),
    "currency-unknown": (3, {"BillingCurrency": "XYZ"}, "BillingCurrency"),
    "currency-long": (3, {"BillingCurrency": "USDT"}, "BillingCurrency"),
    "currency-empty": (3, {"BillingCurrency": ""}, "BillingCurrency"),
    "timestamp-bad": (3, {"ChargePeriodStart": "2026-13-01T00:00:00Z"}, "ChargePeriodStart"),
    "timestamp-words": (3, {"ChargePeriodEnd": "tomorrow"}, "ChargePeriodEnd"),
    "timestamp-empty": (3, {"ChargePeriodStart": ""}, "ChargePeriodStart"),
    "timestamp-naive": (3, {"ChargePeriodStart": "2026-05-10T16:00:00"}, "ChargePeriodStart"),
    "timestamp-date-only": (3, {"ChargePeriodEnd": "2026-05-10"}, "ChargePeriodEnd"),
    "timestamp-leading-space": (3, {"ChargePeriodStart": " 2026-05-10T16:00:00Z"}, "ChargePeriodStart"),
    "timestamp-hour-24": (3, {"ChargePeriodEnd": "2026-05-10T24:00:00Z"}, "ChargePeriodEnd"),
    "timestamp-out-of-range": (3, {"ChargePeriodStart": "1899-01-01T00:00:00Z"}, "ChargePeriodStart"),
    "end-before-start": (3, _times("2026-05-03T00:00:00Z", -1), "ChargePeriodEnd"),
    "before-any-association": (3, _times("2025-12-31T15:59:59Z"), "ChargePeriodStart"),
    "category-unknown": (3, {"ChargeCategory": "Refund"}, "ChargeCategory"),
    "category-case": (3, {"ChargeCategory": "usage"}, "ChargeCategory"),
    "billing-period-bad": (3, {"BillingPeriodStart": "May 2026"}, "BillingPeriodStart"),
    "billing-period-end-bad": (3, {"BillingPeriodEnd": "2026-06-31T00:00:00Z"}, "BillingPeriodEnd"),
}


@pytest.mark.parametrize("at", [3, 70])
def test_nul_character(monkeypatch, small_blocks, tmp_path, at):
    """A NUL character anywhere in the file: the row path takes all of it and names the cell
    (blocks taken before the csv module's check answered are undone; the block holding the NUL
    is never written: PostgreSQL would refuse it)."""
    report = same_both_ways(edited(tmp_path, 80, {at: {"ChargeDescription": "before\x00after"}}), monkeypatch, ROWS)
    assert [(e[0], e[1]) for e in _errors(report)] == [(at + 2, "ChargeDescription")]


@pytest.mark.parametrize("quantity", ["1E+23", "100000000000000000000000", "1e23"])
def test_quantity_of_ten_to_the_23(monkeypatch, tmp_path, quantity):
    """Refused as beyond the quantities' range (below 10^23), alike both ways."""
    report = same_both_ways(edited(tmp_path, 12, {3: {"PricingQuantity": quantity}}), monkeypatch, REFUSED)
    assert [(e[0], e[1]) for e in _errors(report)] == [(5, "PricingQuantity")]


@pytest.mark.parametrize("case", INVALID, ids=list(INVALID))
def test_invalid_row(monkeypatch, tmp_path, case):
    k, values, column = INVALID[case]
    report = same_both_ways(edited(tmp_path, 12, {k: values}), monkeypatch, REFUSED)
    assert report["status"] == "rejected" and report["error_count"] >= 1
    if column:
        assert report["errors"][0]["row"] == k + 2 and report["errors"][0]["column"] == column


def test_invalid_billing_mode_column(monkeypatch, tmp_path):
    path = with_columns(tmp_path, 12, {"x_BillingMode": ["", "", "", "weekly"], "x_ServiceType": ["", "saas"]})
    report = same_both_ways(path, monkeypatch, REFUSED)
    assert [(e[0], e[1]) for e in _errors(report)][:2] == [(3, "x_ServiceType"), (5, "x_BillingMode")]


@pytest.mark.parametrize(
    ("case", "change"),
    [
        ("short-row", lambda lines: [*lines[:4], lines[4].rsplit(",", 3)[0], *lines[5:]]),
        ("long-row", lambda lines: [*lines[:4], lines[4] + ",extra", *lines[5:]]),
        ("blank-line", lambda lines: [*lines[:4], "", *lines[4:]]),
        ("text-after-quote", lambda lines: [*lines[:4], '"a"b' + lines[4][lines[4].index(",") :], *lines[5:]]),
        ("unclosed-quote", lambda lines: [*lines[:-1], '"' + lines[-1]]),
    ],
)
def test_rows_the_csv_module_reads_otherwise(monkeypatch, tmp_path, case, change):
    report = same_both_ways(raw_lines(tmp_path, 12, change), monkeypatch, ROWS)
    assert report["status"] == "rejected" and report["error_count"] >= 1


def test_error_only_in_a_late_block(monkeypatch, small_blocks, tmp_path):
    report = same_both_ways(edited(tmp_path, 200, {190: {"BilledCost": "1.2.3"}}), monkeypatch, MIXED, at_least=40)
    assert [(e[0], e[1]) for e in _errors(report)] == [(192, "BilledCost")]
    assert (report["rows_total"], report["rows_new"]) == (200, 0)


def test_errors_in_an_early_and_a_late_block(monkeypatch, small_blocks, tmp_path):
    edits = {20: {"SubAccountId": "nobody"}, 150: {"BillingCurrency": "EUR?"}, 151: {"ChargeCategory": "x"}}
    report = same_both_ways(edited(tmp_path, 160, edits), monkeypatch, MIXED)
    assert [e[0] for e in _errors(report)] == [22, 152, 153]
    assert report["unknown_accounts"] == ["nobody"]


def test_several_errors_in_one_row_and_many_rows(monkeypatch, tmp_path):
    edits: dict[int, dict[str, str]] = {
        k: {"SubAccountId": f"stranger-{k % 7}", "BilledCost": "x", "BillingCurrency": "??"} for k in range(0, 150, 1)
    }
    edits[3] = {"ChargeCategory": "Nope", "ChargePeriodStart": "bad", "ChargePeriodEnd": "worse", "BilledCost": ""}
    report = same_both_ways(edited(tmp_path, 160, edits), monkeypatch, REFUSED)
    assert report["error_count"] > 100 and len(report["errors"]) == 100
    assert len(report["unknown_accounts"]) == 7


def test_blocks_after_a_problem_are_checked_only(monkeypatch, small_blocks, tmp_path):
    edits = {0: {"BilledCost": "bad"}, 100: {"BillingPeriodStart": "bad"}}
    report = same_both_ways(edited(tmp_path, 120, edits), monkeypatch, REFUSED)
    # After the first problem the billing period is no longer checked (as the row path always did).
    assert [(e[0], e[1]) for e in _errors(report)] == [(2, "BilledCost")]


def _description_line(lines: list[str], text: str) -> list[str]:
    """The first row's ChargeDescription (column 17, unquoted in the sample) written as ``text``."""
    fields = lines[1].split(",")
    assert fields[16] == "Reserved Instance commitment purchase (no upfront)"
    return [lines[0], ",".join([*fields[:16], text, *fields[17:]]), *lines[2:]]


@pytest.mark.parametrize(
    "text",
    [
        'ab"c',
        ' "x"',
        '"with ""doubled"" quotes"',
        '"a,b"',
        '""',
        '"multi\nline"',
        '"multi\r\nline"',
        '"cr\ronly"',
        "\\N",
        "NULL",
    ],
)
def test_quoting_read_alike(monkeypatch, tmp_path, text):
    report = same_both_ways(raw_lines(tmp_path, 8, lambda lines: _description_line(lines, text)), monkeypatch, BLOCKS)
    assert report["rows_new"] == 8


@pytest.mark.parametrize("ending", ["\r", "\r\n"])
def test_other_line_endings(monkeypatch, tmp_path, ending):
    path = tmp_path / "endings.csv"
    path.write_text(ending.join(SAMPLE.read_text(encoding="utf-8").split("\n")[:9]), encoding="utf-8", newline="")
    report = same_both_ways(path, monkeypatch, BLOCKS)
    assert report["rows_new"] == 8


def test_header_only(monkeypatch, tmp_path):
    report = same_both_ways(raw_lines(tmp_path, 0, lambda lines: lines), monkeypatch, NO_ROWS)
    assert _errors(report) == [(1, "", "the batch has no rows")]


def test_not_utf8(monkeypatch, tmp_path):
    path = raw_lines(tmp_path, 40, lambda lines: lines)
    data = path.read_bytes()
    at = data.rfind(b"AWS")  # far enough into the file to be read after its header
    path.write_bytes(data[:at] + b"AW\xe9" + data[at + 3 :])
    report = same_both_ways(path, monkeypatch, ROWS)
    assert report["status"] == "rejected"


def test_currencies_as_written(monkeypatch, tmp_path):
    codes = [" usd", "eur", "JPY ", "Cny", "USD"]
    edits = {k: {"BillingCurrency": c, "BilledCost": f"{k}.125"} for k, c in enumerate(codes)}
    report = same_both_ways(edited(tmp_path, 12, edits), monkeypatch, BLOCKS)
    assert sorted(report["totals"]) == ["CNY", "EUR", "JPY", "USD"]


def test_a_column_named_twice(monkeypatch, tmp_path):
    path = with_columns(tmp_path, 10, {"BilledCost": ["1.5", "2", "-3"], "Tags": ['{"Project":"twice"}']})
    report = same_both_ways(path, monkeypatch, BLOCKS)
    assert report["rows_new"] == 10


def test_order_and_line_ids_are_cut_alike(monkeypatch, tmp_path):
    extra = {"x_OrderId": ["o" * 101, "订单" * 60, ""], "x_LineId": ["l" * 201, "行" * 250, ""]}
    report = same_both_ways(with_columns(tmp_path, 9, extra), monkeypatch, BLOCKS)
    assert report["rows_new"] == 9


def test_only_some_columns(monkeypatch, tmp_path):
    """The required columns only: every other field reads as empty, both ways."""
    header, rows = sample(20)
    keep = [header.index(c) for c in ("SubAccountId", "BilledCost", "BillingCurrency", "ChargeCategory")]
    keep += [header.index(c) for c in ("ChargePeriodStart", "ChargePeriodEnd")]
    path = write(tmp_path / "few.csv", [header[i] for i in keep], [[r[i] for i in keep] for r in rows])
    report = same_both_ways(path, monkeypatch, BLOCKS)
    assert (report["rows_new"], report["rows_present"]) == (10, 10)  # rows only other columns told apart


def test_a_row_longer_than_a_block(monkeypatch, small_blocks, tmp_path):
    """pyarrow cannot read a row longer than its block: after blocks already taken, the batch
    starts again row by row."""
    edits = {60: {"ChargeDescription": "long " * 2000}}
    report = same_both_ways(edited(tmp_path, 80, edits), monkeypatch, FELL_BACK)
    assert report["rows_new"] == 80


def test_sums_handed_over_at_every_write(monkeypatch, small_blocks, tmp_path):
    """The rollup sums go to the projections a few keys at a time (as at millions of keys)."""
    monkeypatch.setattr(batch, "ROLLUP_FLUSH", 1)
    header, rows = sample(150)
    rows = [*rows, *rows[:20]]
    report = same_both_ways(write(tmp_path / "flush.csv", header, rows), monkeypatch, BLOCKS, at_least=20)
    assert (report["rows_new"], report["rows_present"]) == (150, 20)


@pytest.mark.parametrize("block", [columnar.BLOCK_BYTES, SMALL_BLOCK], ids=["one-block", "small-blocks"])
def test_gzip_of_several_members(monkeypatch, tmp_path, block):
    """``cat a.gz b.gz``: one file whose rows are in two gzip members."""
    monkeypatch.setattr(columnar, "BLOCK_BYTES", block)
    lines = SAMPLE.read_bytes().split(b"\n")
    path = tmp_path / "members.csv.gz"
    path.write_bytes(gzip.compress(b"\n".join(lines[:21]) + b"\n") + gzip.compress(b"\n".join(lines[21:41]) + b"\n"))
    report = same_both_ways(path, monkeypatch, BLOCKS)
    assert (report["rows_total"], report["rows_new"]) == (40, 40)


def test_rows_numbered_alike_after_a_field_over_several_lines(monkeypatch, small_blocks, tmp_path):
    edits = {0: {"ChargeDescription": "one\ntwo\nthree"}, 9: {"ChargeDescription": "a\r\nb"}}
    edits[14] = {"BilledCost": "bad"}
    edits[30] = {"BillingCurrency": "bad"}
    report = same_both_ways(edited(tmp_path, 40, edits), monkeypatch, MIXED)
    assert [(e[0], e[1]) for e in _errors(report)] == [(16, "BilledCost"), (32, "BillingCurrency")]


@pytest.mark.parametrize("preload", [True, False], ids=["customers-preloaded", "customers-one-by-one"])
def test_accounts_written_with_spaces(monkeypatch, tmp_path, preload):
    if not preload:
        monkeypatch.setattr(transform, "PRELOAD_CUSTOMERS", 0)
    spellings = [" 200000000011", "200000000012 ", "\t200000000013", "\u3000200000000014\u3000"]
    edits = {k: {"SubAccountId": a} for k, a in enumerate(spellings)}
    report = same_both_ways(edited(tmp_path, 20, edits), monkeypatch, BLOCKS if preload else UNLOADED)
    assert report["rows_new"] == 20
    bad = edited(tmp_path, 20, {7: {"SubAccountId": "2000000000 11"}})
    unknown = same_both_ways(bad, monkeypatch, REFUSED if preload else UNLOADED)
    assert unknown["unknown_accounts"] == ["2000000000 11"]


# --- the csv module's check, beside the blocks -----------------------------------------------------


def test_the_csv_check_runs_in_a_process_of_its_own(tmp_path, monkeypatch):
    """``formats.reads_whole`` in its own process, and its answer."""
    header, rows = sample(12)
    path = write(tmp_path / "twelve.csv", header, rows)
    assert columnar.ReadCheck(path, len(header)).passed() is True
    assert columnar.ReadCheck(path, len(header) + 1).passed() is False
    assert columnar.ReadCheck(tmp_path / "gone.csv", len(header)).passed() is False
    asked: list[Path] = []
    reads_whole = formats.reads_whole
    monkeypatch.setattr(formats, "reads_whole", lambda p, w: asked.append(p) or reads_whole(p, w))
    assert columnar.ReadCheck(path, len(header)).passed() is True
    assert asked == []  # the process answered: nothing read here


@pytest.mark.parametrize(
    "interpreter",
    ["#!/bin/sh\nexit 7\n", "#!/bin/sh\nkill -9 $$\n", None],
    ids=["crashes", "is-killed", "cannot-start"],
)
def test_a_check_process_without_an_answer_leaves_the_check_here(tmp_path, monkeypatch, interpreter):
    header, rows = sample(12)
    path = write(tmp_path / "twelve.csv", header, rows)
    fake = tmp_path / "python"
    if interpreter is not None:
        fake.write_text(interpreter)
        fake.chmod(0o755)
    monkeypatch.setattr(columnar.sys, "executable", str(fake))
    asked: list[Path] = []
    reads_whole = formats.reads_whole
    monkeypatch.setattr(formats, "reads_whole", lambda p, w: asked.append(p) or reads_whole(p, w))
    assert columnar.ReadCheck(path, len(header)).passed() is True
    assert columnar.ReadCheck(path, len(header) + 1).passed() is False
    assert asked == [path, path]


def test_a_check_still_running_is_stopped(tmp_path, monkeypatch):
    header, rows = sample(3)
    path = write(tmp_path / "three.csv", header, rows)
    slow = tmp_path / "slow"
    slow.write_text("#!/bin/sh\nsleep 60\n")
    slow.chmod(0o755)
    monkeypatch.setattr(columnar.sys, "executable", str(slow))
    check = columnar.ReadCheck(path, len(header))
    started = time.monotonic()
    check.close()
    assert time.monotonic() - started < 30
    assert check._process is not None and check._process.returncode == -9


def test_a_batch_whose_check_process_fails_is_still_taken_in_blocks(monkeypatch, tmp_path):
    """The check falls back to this process: the file still goes column-wise, and is right."""
    failing = tmp_path / "python"
    failing.write_text("#!/bin/sh\nexit 7\n")
    failing.chmod(0o755)
    monkeypatch.setattr(columnar.sys, "executable", str(failing))
    report = same_both_ways(edited(tmp_path, 30, {}), monkeypatch, BLOCKS)
    assert report["rows_new"] == 30
