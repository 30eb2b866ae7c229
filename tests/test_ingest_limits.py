"""Ingestion at the edges: CSV shape, clashing line ids, freshness that never goes back, the
accepted ranges of amounts, dates and currencies, and unreadable files."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from partnercenter.core import limits
from partnercenter.core.errors import ValidationFailed
from partnercenter.core.money import MAX_AMOUNT
from partnercenter.partners import services as partner_services
from partnercenter.usage import formats, freshness, ingest, services
from partnercenter.usage.models import Freshness, IngestBatch, LineItem
from tests.test_usage_api import BATCHES, bearer
from tests.test_usage_ingest import line_sums_by_rollup_key, record, rollups_by_key, snapshot
from tests.test_usage_properties import running_totals_match_line_items, wipe

HEADER = [
    "line_id",
    "account_id",
    "billed_cost",
    "currency",
    "charge_category",
    "charge_period_start",
    "charge_period_end",
    "description",
]


def native_line(line_id: str, billed: str = "1", description: str = "VM") -> str:
    return f"{line_id},a1,{billed},USD,Usage,2026-03-01T00:00:00Z,2026-03-01T01:00:00Z,{description}"


def write(tmp_path: Path, name: str, lines: list[str]) -> Path:
    path = tmp_path / name
    path.write_text("\n".join([",".join(HEADER), *lines]) + "\n", encoding="utf-8")
    return path


# --- 1. rows of the wrong shape ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad, found",
    [
        (native_line("l2", description="VM, large"), 9),  # an unquoted comma: one field too many
        ("l2,a1,1,USD,Usage,2026-03-01T00:00:00Z,2026-03-01T01:00:00Z", 7),  # a short row
    ],
)
def test_row_with_another_field_count_than_the_header_is_rejected(org, tmp_path, bad, found):
    path = write(tmp_path, "shape.csv", [native_line("l1"), bad, native_line("l3")])
    before = snapshot()
    report = services.ingest_path(path, fmt="native", source="t")
    assert not report.accepted
    assert [(e.row, e.column, e.reason) for e in report.errors] == [
        (3, "", f"line 3 has {found} field(s); the header has 8")
    ]
    assert snapshot() == before


def test_unterminated_quote_swallowing_the_next_lines_is_rejected_naming_its_line(org, tmp_path):
    # The quote opened on line 3 is closed by the first quote of line 5: everything between would
    # have become one description.
    path = write(
        tmp_path,
        "quote.csv",
        [
            native_line("l1"),
            native_line("l2", description='"VM'),
            native_line("l3"),
            native_line("l4", description='"VM, large"'),
        ],
    )
    before = snapshot()
    with pytest.raises(formats.UnreadableInput) as exc:
        services.ingest_path(path, fmt="native", source="t")
    assert str(exc.value) == "line 3: a quoted field opened here closes with text after its quote"
    assert snapshot() == before


def test_line_numbers_count_the_lines_a_quoted_field_spans(org, tmp_path):
    path = write(
        tmp_path, "multi.csv", [native_line("l1", description='"two\nlines"'), native_line("l2", description="a,b")]
    )
    report = services.ingest_path(path, fmt="native", source="t")
    assert [(e.row, e.reason) for e in report.errors] == [(3, "line 4 has 9 field(s); the header has 8")]


def test_quote_left_open_at_the_end_of_the_file_is_rejected(org, tmp_path):
    # The open quote is in the last column: the row still has 8 fields, the rest of the file is swallowed.
    path = write(tmp_path, "open.csv", [native_line("l1"), native_line("l2", description='"VM'), native_line("l3")])
    before = snapshot()
    with pytest.raises(formats.UnreadableInput) as exc:
        services.ingest_path(path, fmt="native", source="t")
    assert str(exc.value) == "line 3: a quoted field opened here is still open at the end of the file"
    assert snapshot() == before
    err = io.StringIO()
    with pytest.raises(CommandError) as cmd:
        call_command("ingest", str(path), "--format", "native", stdout=io.StringIO(), stderr=err)
    assert str(cmd.value) == f"{path}: line 3: a quoted field opened here is still open at the end of the file"
    assert cmd.value.returncode == 1


def test_command_prints_shape_errors_without_an_empty_column(org, tmp_path):
    path = write(tmp_path, "shape.csv", [native_line("l1", description="a,b")])
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("ingest", str(path), "--format", "native", stdout=io.StringIO(), stderr=err)
    assert "  row 2: line 2 has 9 field(s); the header has 8\n" in err.getvalue()


# --- 2. clashing native line ids ----------------------------------------------------------------------


def test_same_line_id_twice_in_a_batch_with_another_amount_is_rejected(org):
    items = [
        record("l1", "a1", "2", "2026-03-01T00:00:00Z"),
        record("l2", "a1", "3", "2026-03-01T00:00:00Z"),
        record("l1", "a1", "5", "2026-03-01T00:00:00Z"),
    ]
    before = snapshot()
    report = services.ingest_records(items, source="t")
    assert [(e.row, e.column, e.reason) for e in report.errors] == [
        (3, "line_id", "line id 'l1' already appears on row 1 with a different billed_cost")
    ]
    assert snapshot() == before


def test_same_line_id_with_the_same_content_differently_spelled_is_present(org):
    items = [
        record("l1", "a1", "2", "2026-03-01T00:00:00Z"),
        {**record("l1", "a1", "2.000", "2026-03-01T00:00:00Z"), "charge_period_start": "2026-03-01T08:00:00+08:00"},
    ]
    report = services.ingest_records(items, source="t")
    assert report.accepted, report.errors
    assert (report.rows_new, report.rows_present) == (1, 1)


def test_clash_across_chunks_of_one_batch_names_both_rows(org, monkeypatch):
    monkeypatch.setattr(ingest, "CHUNK", 2)
    items = [record(f"l{i}", "a1", "1", "2026-03-01T00:00:00Z") for i in range(5)]
    items.append(record("l1", "a1", "1", "2026-03-01T00:00:00Z", region_id="ap-beijing"))
    report = services.ingest_records(items, source="t")
    assert [(e.row, e.reason) for e in report.errors] == [
        (6, "line id 'l1' is already stored (row 2 of this batch) with a different region_id")
    ]
    assert LineItem.objects.count() == 0 and IngestBatch.objects.count() == 0


def test_line_id_stored_by_an_earlier_batch_with_another_amount_is_rejected(org, tmp_path):
    first = write(tmp_path, "march.csv", [native_line("l0"), native_line("l1", "2")])
    assert services.ingest_path(first, fmt="native", source="t").accepted
    batch = IngestBatch.objects.get()
    before = snapshot()
    later = write(tmp_path, "march-again.csv", [native_line("l1", "2.5", description="VM2"), native_line("l9")])
    report = services.ingest_path(later, fmt="native", source="t")
    assert [(e.row, e.column, e.reason) for e in report.errors] == [
        (
            2,
            "line_id",
            f"line id 'l1' is already stored (batch #{batch.pk} 'march.csv', row 3) with a different description, billed_cost",
        ),
    ]
    assert snapshot() == before
    # The identical row again is simply already present.
    again = services.ingest_path(write(tmp_path, "same.csv", [native_line("l1", "2.00")]), fmt="native", source="t")
    assert (again.accepted, again.rows_new, again.rows_present) == (True, 0, 1)


def test_stored_rows_keep_their_row_number(org):
    services.ingest_records(
        [record("a", "a1", "1", "2026-03-01T00:00:00Z"), record("b", "a1", "1", "2026-03-01T00:00:00Z")]
    )
    assert dict(LineItem.objects.values_list("x_line_id", "source_row")) == {"a": 1, "b": 2}


# --- 3. freshness never goes back -------------------------------------------------------------------


def _batch(source: str, line_id: str, end: str) -> None:
    rec = record(line_id, "a1", "1", "2026-03-01T00:00:00Z", charge_period_end=end)
    assert services.ingest_records([rec], source=source).accepted


def test_a_small_batch_under_a_new_source_does_not_pull_freshness_back(org):
    at = dt.datetime(2026, 4, 1, tzinfo=dt.UTC)
    _batch("aws", "big", "2026-03-29T16:00:00Z")  # complete through 03-29 (Shanghai)
    assert freshness.data_complete_through(at) == dt.date(2026, 3, 29)
    _batch("manual", "small", "2026-03-20T16:00:00Z")
    assert freshness.data_complete_through(at) == dt.date(2026, 3, 29)
    assert Freshness.objects.get(source="manual").complete_until == dt.datetime(2026, 3, 29, 16, tzinfo=dt.UTC)
    _batch("aws", "older", "2026-03-10T16:00:00Z")  # an older batch of the same source
    assert freshness.data_complete_through(at) == dt.date(2026, 3, 29)
    # Each source still moves forward on its own; the slowest one governs.
    _batch("aws", "newer", "2026-03-30T16:00:00Z")
    assert freshness.data_complete_through(at) == dt.date(2026, 3, 29)
    _batch("manual", "newer-manual", "2026-03-31T16:00:00Z")
    assert freshness.data_complete_through(at) == dt.date(2026, 3, 30)


# --- 4. amounts, dates and currencies at the limits ------------------------------------------------


@pytest.mark.parametrize(
    "billed, reason",
    [
        ("9300000000000000000", "outside the accepted range (at most 1000000000000 in magnitude)"),
        ("1e22", "outside the accepted range (at most 1000000000000 in magnitude)"),
        ("-1000000000000.000000000000001", "outside the accepted range (at most 1000000000000 in magnitude)"),
        ("1_000.00", "not a decimal number"),
        ("١٢٣", "not a decimal number"),  # Arabic-Indic digits
        ("１２", "not a decimal number"),  # full-width digits
        ("Infinity", "not a decimal number"),
        ("0x10", "not a decimal number"),
        ("1.0000000000000001", "more than 15 decimal places"),
    ],
)
def test_amounts_outside_the_accepted_range_or_spelling_are_rejected(org, billed, reason):
    before = snapshot()
    report = services.ingest_records([record("x", "a1", billed, "2026-03-01T00:00:00Z")], source="t")
    assert [(e.column, e.reason) for e in report.errors] == [("billed_cost", f"{billed!r}: {reason}")]
    assert snapshot() == before


@pytest.mark.parametrize("column", ["list_cost", "effective_cost"])
def test_list_and_effective_cost_share_the_range(org, column):
    report = services.ingest_records([record("x", "a1", "1", "2026-03-01T00:00:00Z", **{column: "1e13"})], source="t")
    assert [(e.column, e.reason) for e in report.errors] == [
        (column, "'1e13': outside the accepted range (at most 1000000000000 in magnitude)")
    ]


def test_largest_amounts_are_accepted_exactly(org):
    top = "1000000000000"
    small = "0.000000000000001"
    items = [record(f"l{i}", "a1", v, "2026-03-01T00:00:00Z") for i, v in enumerate([top, top, top, small, f"-{top}"])]
    items.append(record("q", "a1", "1", "2026-03-01T00:00:00Z", pricing_quantity="99999999999999999999999"))
    report = services.ingest_records(items, source="t")
    assert report.accepted, report.errors
    assert report.totals["USD"]["expenditure"] == Decimal("3000000000001.000000000000001")
    assert report.totals["USD"]["refund"] == Decimal("1000000000000")
    assert rollups_by_key() == line_sums_by_rollup_key()
    running_totals_match_line_items()


@pytest.mark.parametrize(
    "start, column",
    [
        ("9999-12-31T20:00:00Z", "charge_period_start"),
        ("0001-01-01T00:00:00+08:00", "charge_period_start"),
        ("1999-12-31T15:59:59Z", "charge_period_start"),  # 23:59:59 on 1999-12-31 in Shanghai
    ],
)
def test_timestamps_outside_the_window_are_rejected(org, start, column):
    rec = record("x", "a1", "1", "2026-03-01T00:00:00Z", charge_period_start=start)
    report = services.ingest_records([rec], source="t")
    assert [(e.column, e.reason) for e in report.errors] == [
        (column, f"{start!r} is outside the accepted dates 2000-01-01 to 2099-12-31 (Asia/Shanghai)")
    ]


def test_period_end_and_billing_period_outside_the_window_are_rejected(org):
    rec = record("x", "a1", "1", "2026-03-01T00:00:00Z", charge_period_end="9999-12-31T23:59:59+00:00")
    assert [e.column for e in services.ingest_records([rec], source="t").errors] == ["charge_period_end"]
    rec = record("x", "a1", "1", "2026-03-01T00:00:00Z", billing_period_start="0001-01-01T00:00:00Z")
    assert [e.column for e in services.ingest_records([rec], source="t").errors] == ["billing_period_start"]


@pytest.mark.parametrize(
    "instant, ok",
    [
        (dt.datetime(1999, 12, 31, 16, 0, 0, tzinfo=dt.UTC), True),  # 2000-01-01 00:00:00 Shanghai
        (dt.datetime(1999, 12, 31, 15, 59, 59, tzinfo=dt.UTC), False),
        (dt.datetime(2099, 12, 31, 16, 0, 0, tzinfo=dt.UTC), True),  # 2100-01-01 00:00:00: an exclusive end
        (dt.datetime(2099, 12, 31, 16, 0, 1, tzinfo=dt.UTC), False),
        (dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC), False),
        (dt.datetime(1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=8))), False),
    ],
)
def test_window_boundaries(instant, ok):
    if ok:
        assert limits.check_instant(instant) == instant
    else:
        with pytest.raises(limits.OutOfRange):
            limits.check_instant(instant)


@pytest.mark.parametrize(
    "day, ok",
    [
        (dt.date(2000, 1, 1), True),
        (dt.date(1999, 12, 31), False),
        (dt.date(2099, 12, 31), True),
        (dt.date(2100, 1, 1), False),
    ],
)
def test_window_days(day, ok):
    if ok:
        assert limits.check_day(day) == day
    else:
        with pytest.raises(limits.OutOfRange):
            limits.check_day(day)


@pytest.mark.parametrize(
    "currency, reason",
    [
        ("XYZ", "'XYZ' is not an ISO 4217 currency code"),
        ("XXX", "'XXX' is not an ISO 4217 currency code"),
        ("US", "'US' is not a 3-letter currency code"),
    ],
)
def test_unknown_currency_is_rejected(org, currency, reason):
    report = services.ingest_records([record("x", "a1", "1", "2026-03-01T00:00:00Z", currency=currency)], source="t")
    assert [(e.column, e.reason) for e in report.errors] == [("currency", reason)]


def test_iso_currencies_in_any_case_are_accepted(org):
    items = [record(c, "a1", "1", "2026-03-01T00:00:00Z", currency=c) for c in ("jpy", "KWD", "CNY", "EUR")]
    assert services.ingest_records(items, source="t").accepted
    assert set(LineItem.objects.values_list("billing_currency", flat=True)) == {"JPY", "KWD", "CNY", "EUR"}


def test_api_answers_422_for_values_beyond_the_limits(client, org):
    auth = bearer(client, "op")
    item = json.dumps(record("x", "a1", "0", "2026-03-01T00:00:00Z")).replace(
        '"billed_cost": "0"', '"billed_cost": 1e22'
    )
    body = '{"items": [' + item + "]}"
    r = client.post(BATCHES, body, content_type="application/json", **auth)
    assert r.status_code == 422
    assert r.json()["errors"][0]["column"] == "billed_cost"
    rec = record("y", "a1", "1", "2026-03-01T00:00:00Z", charge_period_start="9999-12-31T20:00:00Z")
    r = client.post(BATCHES, json.dumps({"items": [rec]}), content_type="application/json", **auth)
    assert r.status_code == 422
    assert r.json()["errors"][0]["column"] == "charge_period_start"
    r = client.post(BATCHES + "?format=native", b"\xff\xfe{", content_type="application/x-ndjson", **auth)
    assert r.status_code == 422 and r.json()["code"] == "validation_error"
    assert LineItem.objects.count() == 0


@pytest.mark.parametrize("valid_from", ["0001-01-01", "9999-12-31", "1999-12-31", "2100-01-01"])
def test_customer_import_refuses_valid_from_outside_the_window(org, valid_from):
    text = (
        "account_id,name,email,mobile,partner,association_type,valid_from\n"
        f"new-1,New One,new@example.com,,sp-a,reseller,{valid_from}\n"
    )
    with pytest.raises(ValidationFailed) as exc:
        partner_services.import_customers(text)
    assert exc.value.details == [
        f"row 2: valid_from: {valid_from!r} is outside the accepted dates 2000-01-01 to 2099-12-31"
    ]


# Any amount the ledger accepts: up to 10^12 in magnitude with up to 15 places, the extremes often.
LEDGER_AMOUNTS = st.one_of(
    st.sampled_from([MAX_AMOUNT, -MAX_AMOUNT, MAX_AMOUNT - Decimal("1E-15"), Decimal("-1E-15"), Decimal(0)]),
    st.integers(min_value=0, max_value=15).flatmap(
        lambda places: st.decimals(min_value=-MAX_AMOUNT, max_value=MAX_AMOUNT, places=places)
    ),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    values=st.lists(
        st.tuples(LEDGER_AMOUNTS, st.sampled_from(["a1", "a3"]), st.integers(0, 3)), min_size=1, max_size=30
    )
)
def test_largest_accepted_amounts_keep_rollups_and_running_totals_exact(org, values):
    wipe()
    items = [
        record(f"l{i}", account, format(v, "f"), f"2026-03-0{day + 1}T00:00:00Z")
        for i, (v, account, day) in enumerate(values)
    ]
    report = services.ingest_records(items, source="p")
    assert report.accepted, report.errors
    assert rollups_by_key() == line_sums_by_rollup_key()
    running_totals_match_line_items()
    net = sum((v for v, _, _ in values), Decimal(0))  # exact: 28 digits suffice for 30 such values
    assert report.totals["USD"]["net"] == net


# --- 5. unreadable files --------------------------------------------------------------------------------


def _gz(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_bytes(gzip.compress(text.encode()))
    return path


def _unreadable_files(tmp_path: Path) -> list[tuple[Path, str]]:
    good = "\n".join([",".join(HEADER), *(native_line(f"l{i}", description="x" * 200) for i in range(400))]) + "\n"
    truncated = tmp_path / "truncated.csv.gz"
    truncated.write_bytes(gzip.compress(good.encode())[:-40])
    not_gzip = tmp_path / "plain.csv.gz"
    not_gzip.write_text(good, encoding="utf-8")
    huge = write(
        tmp_path, "huge.csv", [native_line("l1"), native_line("l2", description="x" * (csv.field_size_limit() + 1))]
    )
    latin = tmp_path / "latin.csv"
    latin.write_bytes(
        ("\n".join([",".join(HEADER), native_line("l1", description="caf\xe9")]) + "\n").encode("latin-1")
    )
    return [
        (truncated, "the compressed data ends early: the file is truncated"),
        (not_gzip, "the file is not gzip-compressed, though its name ends in .gz"),
        (huge, f"line 3: a field is longer than {csv.field_size_limit()} characters"),
        (latin, "the file is not UTF-8 text"),
    ]


def test_unreadable_files_are_one_clear_error(org, tmp_path):
    before = snapshot()
    for path, problem in _unreadable_files(tmp_path):
        with pytest.raises(CommandError) as exc:
            call_command("ingest", str(path), "--format", "native", stdout=io.StringIO(), stderr=io.StringIO())
        assert str(exc.value) == f"{path}: {problem}"
        assert exc.value.returncode == 1
    assert snapshot() == before


def test_truncated_gzipped_json_and_ndjson_are_one_clear_error(org, tmp_path):
    lines = "".join(json.dumps(record(f"l{i}", "a1", "1", "2026-03-01T00:00:00Z")) + "\n" for i in range(300))
    for name in ("cut.ndjson.gz", "cut.json.gz"):
        path = tmp_path / name
        text = (
            lines
            if name.startswith("cut.ndjson")
            else json.dumps({"items": [json.loads(x) for x in lines.splitlines()]})
        )
        path.write_bytes(gzip.compress(text.encode())[:-30])
        with pytest.raises(CommandError, match=r": the compressed data ends early: the file is truncated$"):
            call_command("ingest", str(path), "--format", "native", stdout=io.StringIO(), stderr=io.StringIO())
    path = tmp_path / "number.json"
    path.write_text("5")
    with pytest.raises(CommandError, match=r'holds a list of records, or \{"items": \[records\]\}$'):
        call_command("ingest", str(path), "--format", "native", stdout=io.StringIO(), stderr=io.StringIO())
    assert LineItem.objects.count() == 0


@pytest.mark.skipif(
    django_settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql",
    reason="the console-script test uses its own SQLite file",
)
def test_console_prints_one_line_and_no_traceback(tmp_path):
    env = dict(
        os.environ,
        DATABASE_URL=f"sqlite:///{tmp_path / 'x.sqlite3'}",
        PARTNERCENTER_VAR_DIR=str(tmp_path),
        PYTHONPATH=str(Path(__file__).resolve().parents[1] / "src"),
    )
    env.pop("DJANGO_SETTINGS_MODULE", None)

    def script(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "partnercenter.cli", *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert script("migrate", "--verbosity", "0").returncode == 0
    for path, problem in _unreadable_files(tmp_path):
        r = script("ingest", str(path), "--format", "native")
        assert r.returncode == 1
        assert r.stdout == ""
        assert r.stderr == f"CommandError: {path}: {problem}\n"
