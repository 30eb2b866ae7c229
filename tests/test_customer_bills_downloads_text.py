"""The customer bill CSV written from rows already as text (the fast path of the two bill kinds)
is byte for byte the file the shared writer makes of the kinds' ordinary rows: formula-like and
non-ASCII text, cells to quote, negative, zero, trailing-zero and 15-place amounts, empty
amounts, corrections, both kinds, in Chinese too, and batches that take either way."""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import random
from decimal import Decimal

import pytest
from django.utils import translation

from partnercenter.core import clock
from partnercenter.core.money import CONTEXT, ExactSum
from partnercenter.customer_bills import downloads
from partnercenter.exports import registry, services, writers
from partnercenter.exports.models import ExportStatus
from partnercenter.exports.registry import Column
from partnercenter.usage import services as usage_services
from partnercenter.usage.models import LineItem
from tests.conftest import Org

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
NOW = dt.datetime(2026, 4, 10, 10, 0, tzinfo=SHANGHAI)
MONTH = "2026-03"

TEXTS = [
    "plain",
    "=SUM(A1:A9)",
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@import",
    "\tTab first",
    "＝全角等号",
    "＋全角",
    "－全角",
    "＠全角",
    "华东地区（上海）",
    "comma, inside",
    'quote " inside',
    "line\nbreak",
    "carriage\rreturn",
    "ends with space ",
    " starts with space",
    "'already quoted",
    "émoji 🚀 ok",
    "",
]
AMOUNTS = [
    "0",
    "7",
    "-28.000000000000001",
    "13028.441023123878751",
    "0.000000000000001",
    "-0.000000000000001",
    "1000",
    "0.100000000000000",
    "999999999999.999999999999999",
    "-5",
    "2.50",
]
CATEGORIES = ["Usage", "Tax", "Adjustment", "Purchase", "Credit"]
MODES = ["pay_per_use", "prepaid_monthly", "prepaid_yearly", "monthly_95th_bandwidth", "other"]


def _record(i: int, rnd: random.Random) -> dict[str, str]:
    start = dt.datetime(2026, 3, 1 + i % 31, (i * 7) % 24, (i * 13) % 60, i % 60, tzinfo=SHANGHAI).astimezone(dt.UTC)
    r = {
        "line_id": f"T{i}" if i % 5 else rnd.choice(TEXTS[:10]) + str(i),
        "account_id": "a1" if i % 3 else "a3",
        "billed_cost": rnd.choice(AMOUNTS),
        "currency": "USD" if i % 4 else "CNY",
        "charge_category": rnd.choice(CATEGORIES),
        "charge_period_start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "charge_period_end": (start + dt.timedelta(hours=1 + i % 3)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "service_name": rnd.choice(TEXTS[:-1]),
        "service_type": "marketplace" if i % 7 == 0 else "cloud",
        "region_id": rnd.choice(["ap-shanghai", "=region", ""]),
        "billing_mode": rnd.choice(MODES),
        "description": rnd.choice(TEXTS),
        "resource_id": rnd.choice(TEXTS),
        "resource_name": rnd.choice(TEXTS),
        "region_name": rnd.choice(TEXTS),
        "service_category": rnd.choice(TEXTS),
        "project": rnd.choice(TEXTS[:-1]),
        "order_id": rnd.choice(TEXTS),
        "pricing_unit": rnd.choice(["Hours", "-GB", "个"]),
    }
    for key in ("list_cost", "effective_cost", "pricing_quantity"):
        if rnd.random() < 0.7:
            r[key] = rnd.choice(AMOUNTS).lstrip("-")
    return r


@pytest.fixture(autouse=True)
def _exports(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}


@pytest.fixture
def varied(org: Org) -> Org:
    rnd = random.Random(9)
    records = [_record(i, rnd) for i in range(240)]
    with clock.frozen_at(dt.datetime(2026, 4, 1, tzinfo=SHANGHAI)):
        report = usage_services.ingest_records(records, fmt="native", source="t")
    assert report.error_count == 0, report.errors
    LineItem.objects.filter(x_line_id__in=["T3", "T17", "T101"]).update(is_correction=True)
    return org


def _ordinary_csv(kind: registry.ExportKind, ctx: registry.ExportContext, every: int) -> bytes:
    out = io.StringIO(newline="")
    writers.write_csv(out, kind.columns, kind.rows(ctx), progress_every=every)
    return out.getvalue().encode("utf-8-sig")


def _text_csv(kind: registry.ExportKind, ctx: registry.ExportContext, every: int) -> bytes:
    assert kind.csv_text is not None
    out = io.StringIO(newline="")
    rows = kind.csv_text.rows(ctx)
    writers.write_csv_text(out, kind.columns, rows, free_text=kind.csv_text.free_text, progress_every=every)
    return out.getvalue().encode("utf-8-sig")


@pytest.mark.parametrize("language", ["en", "zh-hans"])
@pytest.mark.parametrize(
    ("code", "params"),
    [("customer_bills_all", {"month": MONTH}), ("customer_bill", {"customer": "a1", "month": MONTH})],
)
def test_the_text_rows_write_the_same_file_as_the_ordinary_rows(varied, code, params, language):
    kind = registry.find(code)
    assert kind is not None
    ctx = registry.ExportContext(user=varied.users["sp-a-admin"], params=params, at=NOW)
    with clock.frozen_at(NOW), translation.override(language):
        want = _ordinary_csv(kind, ctx, 50_000)
        # Batches of 7 rows: some need no quoting or neutralising, others do.
        for every in (50_000, 7, 1):
            assert _text_csv(kind, ctx, every) == want
    rows = list(csv.reader(io.StringIO(want.decode("utf-8-sig"))))
    count = 240 if code == "customer_bills_all" else 160
    assert len(rows) == 1 + count
    # The sample holds what the fast path must get right.
    body = want.decode("utf-8-sig")
    for expected in ("'=SUM(A1:A9)", "'+cmd", "'-2+3", "'@import", "'\tTab", "'＝全角等号", '"comma, inside"'):
        assert expected in body
    billed = {r[24] for r in rows[1:]}
    assert {"-28.000000000000001", "0.000000000000001", "1000", "0.1", "999999999999.999999999999999"} <= billed
    assert "0.100000000000000" not in billed and "2.50" not in billed and "2.5" in billed


def test_the_task_writes_the_text_rows_and_the_same_bytes(varied):
    admin = varied.users["sp-a-admin"]
    with clock.frozen_at(NOW):
        task, _created = services.create_export(admin, "customer_bills_all", {"month": MONTH}, "csv")
        services.run_export(str(task.pk))
    task.refresh_from_db()
    assert task.status == ExportStatus.SUCCEEDED and task.row_count == 240
    ctx = registry.ExportContext(user=admin, params=task.params, at=task.created_at)
    with clock.frozen_at(NOW):
        assert task.path.read_bytes() == _ordinary_csv(downloads.ALL_CUSTOMER_BILLS, ctx, 50_000)
    with decimal.localcontext(CONTEXT):  # 29 digits: beyond the default context
        total = sum(Decimal(r[24]) for r in list(csv.reader(io.StringIO(task.path.read_text("utf-8-sig"))))[1:])
    stored = LineItem.objects.filter(partner__code="sp-a", association_type="reseller", charge_day__lt="2026-04-01")
    assert total == stored.aggregate(total=ExactSum("billed_cost"))["total"]


def test_the_text_writer_equals_the_shared_writer_on_any_cells():
    """Text, ``None`` and ``int`` cells, free text or not, in batches of every size."""
    rnd = random.Random(4)
    columns = [Column(f"c{i}", f"C{i}") for i in range(6)]
    free = frozenset({"c1", "c3", "c5"})
    cells = [*TEXTS, None, 7, -3, "-1.5", ",", '"', "\r\n", "\n"]
    for _round in range(40):
        rows = [[rnd.choice(cells) for _c in columns] for _r in range(rnd.randrange(1, 30))]
        # Cells outside the free text hold what the shared writer would make of them.
        plain = [
            [writers.neutralise(str(v)) if k not in (1, 3, 5) and v is not None else v for k, v in enumerate(r)]
            for r in rows
        ]  # noqa: E501
        every = rnd.choice([1, 2, 5, 50])
        want = io.StringIO(newline="")
        writers.write_csv(want, columns, [list(r) for r in plain], progress_every=every)
        got = io.StringIO(newline="")
        assert writers.write_csv_text(
            got, columns, [list(r) for r in plain], free_text=free, progress_every=every
        ) == len(rows)
        assert got.getvalue() == want.getvalue()


def test_one_column_rows_keep_the_quoted_empty_cell():
    columns = [Column("c", "C")]
    want = io.StringIO(newline="")
    writers.write_csv(want, columns, [[""], ["x"], ["=1"]])
    got = io.StringIO(newline="")
    writers.write_csv_text(got, columns, [[""], ["x"], ["=1"]], free_text={"c"})
    assert got.getvalue() == want.getvalue() == 'C\r\n""\r\nx\r\n\'=1\r\n'
