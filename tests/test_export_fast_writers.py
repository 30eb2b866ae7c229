"""Files written from record batches (``exports.fast``) are byte for byte the files the per-cell
writers make of the same values: the CSV file, and every worksheet's XML of the workbook; for any
values (formula starts, cells to quote, XML specials, CJK, amounts at 15 places, negative, zero,
huge, empty values, instants at the billing day's edges, anonymized names), in batches of any
size, and for the customer bills (expenditure details) export through its database source on the
engine the tests run on, in both languages."""

from __future__ import annotations

import datetime as dt
import io
import random
import zipfile
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest
from django.utils import translation

from partnercenter.core import clock
from partnercenter.exports import fast, registry, services, writers
from partnercenter.exports.models import ExportStatus
from partnercenter.exports.registry import Column
from partnercenter.partners import services as partner_services
from partnercenter.usage import services as usage_services
from partnercenter.usage.models import LineItem
from tests.conftest import Org

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
NOW = dt.datetime(2026, 4, 10, 10, 0, tzinfo=SHANGHAI)

TEXTS = [
    "plain",
    "=SUM(A1:A9)",
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@import",
    "\tTab first",
    "\rCR first",
    "＝全角等号",
    "＋全角",
    "－全角",
    "＠全角",
    "华东地区（上海）",
    "comma, inside",
    'quote " inside',
    '"quoted"',
    "line\nbreak",
    "carriage\rreturn",
    "crlf\r\nend\r\n",
    "ends with space ",
    " starts with space",
    "tab at end\t",
    "'already quoted",
    "<b>&amp;</b>",
    "_x0041_ lookalike",
    "a\x01b control",
    "émoji 🚀 ok",
    "ideographic\u3000space",
    'back\\slash \\" and (parentheses)',
    "NULL",
    "null",
    "ends with a backslash\\",
    "",
]
AMOUNTS = [
    "0",
    "7",
    "-5",
    "-28.000000000000001",
    "13028.441023123878751",
    "0.000000000000001",
    "-0.000000000000001",
    "1000",
    "100000000000000000000",
    "0.1",
    "2.50",
    "999999999999.999999999999999",
    "-999999999999.999999999999999",
    "123456789012345",
    "1234567890123456",
    "12345678901234.5",
    "0.000000000000100",
    "-0",
]
# Within the ledger's accepted range (at most 10^12 in magnitude).
LEDGER_AMOUNTS = [a for a in AMOUNTS if abs(Decimal(a)) < 10**12 and a not in ("-0", "2.50", "0.000000000000100")]
NAMES = ["张小明", "Alice Corp", "=cmd", "", "a,b"]
INSTANTS = [
    dt.datetime(2026, 3, 9, 16, 0, tzinfo=dt.UTC),  # 00:00 in Shanghai
    dt.datetime(2026, 3, 9, 15, 59, 59, 999999, tzinfo=dt.UTC),  # 23:59:59.999999 the day before
    dt.datetime(2026, 2, 28, 16, 0, 0, 1, tzinfo=dt.UTC),
    dt.datetime(2025, 12, 31, 16, 0, tzinfo=dt.UTC),
]
COLUMNS = [
    Column("text", "Text"),
    Column("name", "Customer", "sensitive_name"),
    Column("email", "Email", "sensitive_email"),
    Column("mobile", "Mobile", "sensitive_mobile"),
    Column("amount", "Amount", "amount"),
    Column("day", "Day", "date"),
    Column("at", "At", "datetime"),
    Column("n", "N", "int"),
    Column("more", "More, text"),
]


def _random_row(rnd: random.Random) -> list[Any]:
    instant = rnd.choice([*INSTANTS, None])
    return [
        rnd.choice([*TEXTS, None]),
        rnd.choice([*NAMES, None]),
        rnd.choice(["x@example.com", "", None]),
        rnd.choice(["13812345678", None]),
        rnd.choice([Decimal(a) for a in AMOUNTS] + [None]),
        rnd.choice([dt.date(2026, 3, 10), dt.date(2024, 2, 29), None]),
        instant,
        rnd.choice([0, -3, 10**12, None]),
        rnd.choice(TEXTS),
    ]


def _as_text(value: Any, kind: str) -> str | None:
    """A value as a batch holds it (see ``exports.fast``)."""
    if value is None:
        return None
    if kind == "amount" and not isinstance(value, str):
        return format(value, "f")
    if kind == "datetime":
        return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(sep=" ")
    if kind == "date":
        return value.isoformat()
    return str(value)


def _batches(rows: list[list[Any]], columns: list[Column], sizes: list[int]) -> list[pa.RecordBatch]:
    out, at = [], 0
    while at < len(rows) or not out:
        size = sizes[len(out) % len(sizes)]
        part = rows[at : at + size]
        arrays = [pa.array([_as_text(r[i], c.kind) for r in part], pa.string()) for i, c in enumerate(columns)]
        out.append(pa.RecordBatch.from_arrays(arrays, names=[c.key for c in columns]))
        at += size
    return out


def _sheets(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.testzip() is None
        return {n: zf.read(n) for n in zf.namelist()}


def _old_csv(columns, rows) -> bytes:
    out = io.StringIO(newline="")
    writers.write_csv(out, columns, rows)
    return out.getvalue().encode("utf-8-sig")


def _new_csv(columns, batches) -> bytes:
    out = io.BytesIO()
    fast.write_csv(out, columns, batches)
    return out.getvalue()


def _old_xlsx(columns, rows, **kw) -> dict[str, bytes]:
    out = io.BytesIO()
    writers.write_xlsx(out, columns, rows, **kw)
    return _sheets(out.getvalue())


def _new_xlsx(columns, batches, **kw) -> dict[str, bytes]:
    out = io.BytesIO()
    fast.write_xlsx(out, columns, batches, **kw)
    return _sheets(out.getvalue())


def _assert_same_files(columns, rows, batches, **xlsx) -> None:
    """The CSV file and the workbook of ``batches()`` are those of ``rows`` (``xlsx``: the
    workbook's options)."""
    assert _new_csv(columns, batches()) == _old_csv(columns, rows)
    assert _new_xlsx(columns, batches(), **xlsx) == _old_xlsx(columns, rows, **xlsx)


@pytest.mark.parametrize("seed", range(6))
def test_the_batch_writers_write_the_same_bytes_as_the_per_cell_writers(seed):
    rnd = random.Random(seed)
    rows = [_random_row(rnd) for _ in range(rnd.randrange(1, 400))]
    for i, (text, amount) in enumerate(zip(TEXTS, AMOUNTS * 2, strict=False)):
        rows.append([text, NAMES[i % 5], None, "13812345678", Decimal(amount), None, INSTANTS[i % 4], i, text])
    sizes = rnd.choice([[1], [7, 3], [50_000], [64, 1, 5]])
    _assert_same_files(COLUMNS, rows, lambda: _batches(rows, COLUMNS, sizes))
    # Sheets cut within a batch and at a batch's end continue with the header, numbered alike.
    for per_sheet in (2, 5, 17):
        kw = {"max_rows_per_sheet": per_sheet, "sheet_title": "Bills: [x]"}
        assert _new_xlsx(COLUMNS, _batches(rows, COLUMNS, sizes), **kw) == _old_xlsx(COLUMNS, rows, **kw)


def test_every_nasty_text_and_amount_alone():
    text_col, amount_col = [Column("t", "T")], [Column("a", "A", "amount")]
    for text in TEXTS:
        rows = [[text]]
        _assert_same_files(text_col, rows, lambda rows=rows: _batches(rows, text_col, [1]))
    for amount in AMOUNTS:
        rows = [[Decimal(amount)], [amount]]
        _assert_same_files(amount_col, rows, lambda rows=rows: _batches(rows, amount_col, [2]))


def test_an_amount_that_is_not_a_decimal_fails_as_in_the_per_cell_writer():
    columns = [Column("a", "A", "amount")]
    batch = pa.RecordBatch.from_arrays([pa.array(["1.5", "abc"])], names=["a"])
    with pytest.raises(ValueError):
        fast.write_csv(io.BytesIO(), columns, [batch])
    with pytest.raises(ValueError):
        fast.write_xlsx(io.BytesIO(), columns, [batch])


def test_an_empty_export_is_the_header_only():
    _assert_same_files(COLUMNS, [], list)


def test_progress_is_reported_as_by_the_per_cell_writers():
    rows = [["x"] for _ in range(23)]
    columns = [Column("t", "T")]
    seen: list[int] = []
    fast.write_csv(io.BytesIO(), columns, _batches(rows, columns, [4]), progress=seen.append, progress_every=10)
    assert seen == [12, 20, 23]


# ---- the customer bills (expenditure details) export through the database -----------------------


def _record(i: int, rnd: random.Random) -> dict[str, str]:
    start = rnd.choice([*INSTANTS[:2], dt.datetime(2026, 3, 1 + i % 28, i % 24, tzinfo=SHANGHAI)])
    start = max(start, dt.datetime(2026, 3, 1, tzinfo=SHANGHAI)).astimezone(dt.UTC)
    r = {
        "line_id": f"L{i}",
        "account_id": rnd.choice(["a1", "a3"]),
        "billed_cost": rnd.choice(LEDGER_AMOUNTS),
        "currency": rnd.choice(["USD", "CNY"]),
        "charge_category": rnd.choice(["Usage", "Tax", "Adjustment", "Purchase", "Credit"]),
        "charge_period_start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "charge_period_end": (start + dt.timedelta(hours=1 + i % 3)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "service_name": rnd.choice([t for t in TEXTS if t.strip() and "\x01" not in t]),
        "service_type": "marketplace" if i % 7 == 0 else "cloud",
        "region_id": rnd.choice(["ap-shanghai", "=region", ""]),
        "billing_mode": rnd.choice(["pay_per_use", "prepaid_monthly", "other"]),
        "description": rnd.choice(TEXTS),
        "resource_id": rnd.choice(TEXTS),
        "resource_name": rnd.choice(TEXTS),
        "region_name": rnd.choice(TEXTS),
        "service_category": rnd.choice(TEXTS),
        "project": rnd.choice([t for t in TEXTS if t.strip() and "\x01" not in t]),
        "order_id": rnd.choice(TEXTS),
        "pricing_unit": rnd.choice(["Hours", "-GB", "个"]),
    }
    for key in ("list_cost", "effective_cost", "pricing_quantity"):
        if rnd.random() < 0.7:
            r[key] = rnd.choice(LEDGER_AMOUNTS).lstrip("-")
    return r


@pytest.fixture(autouse=True)
def _exports(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}


@pytest.fixture
def details() -> registry.ExportKind:
    kind = registry.get("expenditure_details")
    assert kind.arrow is not None
    return kind


def _ctx(user, params) -> registry.ExportContext:
    return registry.ExportContext(user=user, params=params, at=NOW)


@pytest.fixture
def ledger(org: Org) -> Org:
    rnd = random.Random(12)
    records = [_record(i, rnd) for i in range(300)]
    with clock.frozen_at(dt.datetime(2026, 4, 1, tzinfo=SHANGHAI)):
        report = usage_services.ingest_records(records, fmt="native", source="t")
    assert report.error_count == 0, report.errors
    LineItem.objects.filter(x_line_id__in=["L3", "L17", "L101"]).update(is_correction=True)
    # The account manager sees a1 from 2026-03-12 on (E3: the window cuts the period).
    with clock.frozen_at(dt.datetime(2026, 3, 11, 12, tzinfo=SHANGHAI)):
        partner_services.assign_customers(
            actor=org.users["sp-a-admin"], customers=[org.customers["a1"]], manager=org.users["sp-a-account_manager"]
        )
    return org


DETAIL_PARAMS = [
    {"start": "2026-03-01", "end": "2026-03-31"},
    {"start": "2026-03-10", "end": "2026-03-10"},
    {"start": "2026-03-01", "end": "2026-03-31", "account_id": "a1", "classification": "refund"},
]


@pytest.mark.parametrize("language", ["en", "zh-hans"])
@pytest.mark.parametrize("params", DETAIL_PARAMS)
def test_the_details_source_writes_the_files_of_the_details_rows(ledger, details, params, language):
    kind = details
    for username in ("sp-a-admin", "sp-a-account_manager", "op", "sp-b-admin"):
        ctx = _ctx(ledger.users[username], params)
        with clock.frozen_at(NOW), translation.override(language):
            rows = list(kind.rows(ctx))
            _assert_same_files(kind.columns, rows, lambda ctx=ctx: kind.arrow(ctx))
        if username == "sp-a-admin" and params is DETAIL_PARAMS[0]:
            assert len(rows) == 300
            text = _old_csv(kind.columns, rows).decode("utf-8-sig")
            for expected in ("'=SUM(A1:A9)", "'\tTab", '"comma, inside"', "-28.000000000000001", "customer-"):
                assert expected in text
            assert "张小明" not in text
        if username == "sp-a-account_manager" and params is DETAIL_PARAMS[0]:
            assert 0 < len(rows) < 300


def test_the_database_may_be_used_between_batches(ledger, details, monkeypatch):
    """The task's heartbeat writes to the database while the source is still reading."""
    monkeypatch.setattr(fast, "BATCH_ROWS", 7)
    kind = details
    ctx = _ctx(ledger.users["sp-a-admin"], DETAIL_PARAMS[0])
    seen: list[tuple[int, int]] = []
    with clock.frozen_at(NOW):
        rows = list(kind.rows(ctx))
        batches = list(kind.arrow(ctx))
        assert [b.num_rows for b in batches] == [7] * 42 + [6]
        out = io.BytesIO()
        fast.write_csv(
            out,
            kind.columns,
            kind.arrow(ctx),
            progress=lambda n: seen.append((n, LineItem.objects.count())),
            progress_every=50,
        )
    assert out.getvalue() == _old_csv(kind.columns, rows)
    assert seen == [(n, 300) for n in (56, 105, 154, 203, 252, 300)]


def test_an_empty_scope_gives_no_batches_and_no_rows(org, details):
    """An account manager without customers: both sources give nothing (no query that cannot
    be compiled)."""
    ctx = _ctx(org.users["sp-a-account_manager"], DETAIL_PARAMS[0])
    with clock.frozen_at(NOW):
        assert list(details.arrow(ctx)) == []
        assert list(details.rows(ctx)) == []
        assert _new_csv(details.columns, details.arrow(ctx)) == _old_csv(details.columns, [])


def test_the_task_writes_the_details_file_from_the_batches(ledger, details):
    admin = ledger.users["sp-a-admin"]
    for fmt in ("csv", "xlsx"):
        with clock.frozen_at(NOW):
            task, _created = services.create_export(admin, "expenditure_details", DETAIL_PARAMS[0], fmt)
            services.run_export(str(task.pk))
        task.refresh_from_db()
        assert task.status == ExportStatus.SUCCEEDED and task.row_count == 300
        ctx = registry.ExportContext(user=admin, params=task.params, at=task.created_at)
        with clock.frozen_at(NOW), translation.override(task.language):
            rows = list(details.rows(ctx))
        if fmt == "csv":
            assert task.path.read_bytes() == _old_csv(details.columns, rows)
        else:
            title = str(details.sheet_title)
            assert _sheets(task.path.read_bytes()) == _old_xlsx(details.columns, rows, sheet_title=title)
