"""Revenue sharing (O5, 商品分账): per product and month the sales are the exact sum of its
marketplace line items (tax excluded), the platform share is rounded half up once per product
and month, the partner share is the rest; the transaction details are those line items; a
partner sees only its own statements; exports hold the exact figures and anonymized names."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import translation

from partnercenter.core import clock
from partnercenter.core.masking import anonymize
from partnercenter.exports import services as exports
from partnercenter.exports.models import ExportStatus, ExportTask
from partnercenter.marketplace import selectors as sel
from tests.incentive_ledger import ingest, on, rec
from tests.marketplace_fixtures import make_market
from tests.test_export_writers import read_xlsx

API = "/api/v1/marketplace"
MARCH = dt.date(2026, 3, 1)
NOW = dt.datetime(2026, 4, 10, 4, 0, tzinfo=dt.UTC)
WAF, BI, SCAN = "SecureWAF Pro", "DataViz BI", "Security Scan"


def mk(line: str, account: str, billed: str, start: dt.datetime, service: str, **extra: str) -> dict[str, str]:
    return rec(
        line, account, billed, start, service_name=service, service_type="marketplace", order=f"O-{line}", **extra
    )


LEDGER = [
    mk("w1", "a1", "100.005", on(3), WAF),
    mk("w2", "b1", "33.333", on(4), WAF),
    mk("w3", "a3", "-10.001", on(5), WAF),  # a refund
    mk("w4", "s1", "0.004", on(6), WAF, charge_category="Adjustment"),
    mk("w5", "a1", "0.125", on(1, hour=0), WAF),  # 1 March 00:00 Shanghai: March
    mk("wt", "a1", "6.0003", on(3), WAF, charge_category="Tax"),  # tax is not shared
    mk("wf", "a1", "0.5", on(28, month=2, hour=23, minute=59, second=59), WAF),  # February
    mk("wa", "a1", "1", on(1, month=4, hour=0), WAF),  # April
    mk("b1", "b1", "5.3", on(7), BI),
    mk("b2", "a1", "3", on(8), BI),
    mk("s1", "b1", "9.99", on(9), SCAN),
    rec("c1", "a1", "1000", on(3), service_name=WAF),  # a cloud service of the same name
]
# waf: 100.005 + 33.333 − 10.001 + 0.004 + 0.125 = 123.466; × 0.2 = 24.6932 → 24.69
# bi: 8.3 × 0.15 = 1.245 → 1.25 (half up; half even would give 1.24)
WAF_LINE = ("waf", "USD", "0.2", 5, "123.466", "24.69", "98.776")
BI_LINE = ("bi", "USD", "0.15", 2, "8.3", "1.25", "7.05")


@pytest.fixture
def ledger(org):
    make_market(org)
    ingest(LEDGER, dt.datetime(2026, 4, 2, 4, 0, tzinfo=dt.UTC))
    return org


@pytest.fixture(autouse=True)
def now(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    with clock.frozen_at(NOW):
        yield NOW


def as_user(org, username: str) -> Client:
    c = Client()
    c.force_login(org.users[username])
    return c


def test_statement_sums_the_months_line_items_and_rounds_once(ledger):
    r = as_user(ledger, "sp-a-finance").get(f"{API}/statements?partner=sp-a&month=2026-03")
    assert r.status_code == 200, r.content
    body = r.json()
    lines = [
        (
            x["product"],
            x["currency"],
            x["share_rate"],
            x["line_items"],
            x["sales"],
            x["platform_share"],
            x["partner_share"],
        )
        for x in body["lines"]
    ]
    assert lines == [BI_LINE, WAF_LINE]
    assert body["totals"] == [
        {"currency": "USD", "sales": "131.766", "platform_share": "25.94", "partner_share": "105.826"}
    ]
    st = sel.statement(ledger.users["sp-a-finance"], "sp-a", MARCH)
    for line in st.lines:
        assert line.platform_share + line.partner_share == line.sales


def test_details_are_the_statements_line_items_paginated(ledger):
    c = as_user(ledger, "sp-a-finance")
    seen = []
    for offset in (0, 3, 6):
        page = c.get(f"{API}/statements/details?partner=sp-a&month=2026-03&limit=3&offset={offset}").json()
        assert page["total"] == 7
        seen += page["items"]
    assert [(i["order_id"], i["product"], i["customer"], i["billed_cost"]) for i in seen] == [
        ("O-w5", "waf", "a1", "0.125"),
        ("O-w1", "waf", "a1", "100.005"),
        ("O-w2", "waf", "b1", "33.333"),
        ("O-w3", "waf", "a3", "-10.001"),
        ("O-w4", "waf", "s1", "0.004"),
        ("O-b1", "bi", "b1", "5.3"),
        ("O-b2", "bi", "a1", "3"),
    ]
    assert sum(Decimal(i["billed_cost"]) for i in seen) == Decimal("131.766")


def test_a_partner_sees_only_its_own_statements(ledger):
    own = as_user(ledger, "sp-b-finance")
    assert own.get(f"{API}/statements?partner=sp-b&month=2026-03").json()["lines"][0]["sales"] == "9.99"
    for path in ("/statements", "/statements/details"):
        assert own.get(f"{API}{path}?partner=sp-a&month=2026-03").status_code == 404
        assert as_user(ledger, "dist-finance").get(f"{API}{path}?partner=sp-a&month=2026-03").status_code == 404
        assert as_user(ledger, "sp-a-operator").get(f"{API}{path}?partner=sp-a&month=2026-03").status_code == 403
        assert own.get(f"{API}{path}?partner=sp-b&month=2026-13").status_code == 422
    assert as_user(ledger, "op").get(f"{API}/statements?partner=sp-a&month=2026-03").status_code == 200
    page = own.get("/marketplace/revenue-sharing/?partner=sp-a&month=2026-03")
    assert page.status_code == 404
    html = own.get("/marketplace/revenue-sharing/?month=2026-03").content.decode()
    assert "9.99" in html and "123.466" not in html and 'value="sp-a"' not in html
    assert as_user(ledger, "sp-a-operator").get("/marketplace/revenue-sharing/").status_code == 403
    nothing = as_user(ledger, "ref-finance").get("/marketplace/revenue-sharing/").content.decode()
    assert "No publisher partner in your scope" in nothing


def test_revenue_page(ledger):
    c = as_user(ledger, "sp-a-finance")
    html = c.get("/marketplace/revenue-sharing/?partner=sp-a&month=2026-03").content.decode()
    assert "<h1>Revenue Sharing</h1>" in html
    for figure in ("123.466", "24.69", "98.776", "8.3", "1.25", "7.05", "131.766", "25.94", "105.826"):
        assert f">{figure}<" in html, figure
    assert "O-w5" in html and "张小明" not in html
    with translation.override("zh-hans"):
        zh = c.get("/marketplace/revenue-sharing/?partner=sp-a&month=2026-03", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert "<h1>商品分账</h1>" in zh.content.decode() and "平台分成" in zh.content.decode()


def test_details_page_is_paginated(ledger, settings):
    from partnercenter.marketplace import views

    views.DETAILS_PER_PAGE, before = 3, views.DETAILS_PER_PAGE
    try:
        c = as_user(ledger, "sp-a-finance")
        html = c.get("/marketplace/revenue-sharing/?partner=sp-a&month=2026-03&page=3").content.decode()
    finally:
        views.DETAILS_PER_PAGE = before
    assert "Page 3 of 3" in html and "O-b2" in html and "O-w1" not in html


def _run(org, kind: str, fmt: str) -> ExportTask:
    task, _created = exports.create_export(
        org.users["sp-a-finance"], kind, {"partner": "sp-a", "month": "2026-03"}, fmt
    )
    exports.run_export(str(task.pk))
    task.refresh_from_db()
    assert task.status == ExportStatus.SUCCEEDED, task.error
    return task


def test_statement_export_holds_the_exact_figures(ledger):
    header, *rows = list(csv.reader(io.StringIO(_run(ledger, "revenue_statement", "csv").path.read_text("utf-8-sig"))))
    assert header == [
        "Partner code", "Month", "Product code", "Product", "Currency", "Platform share rate", "Line items", "Sales",
        "Platform share", "Partner share",
    ]  # fmt: skip
    assert rows == [
        ["sp-a", "2026-03", "bi", BI, "USD", "0.15", "2", "8.3", "1.25", "7.05"],
        ["sp-a", "2026-03", "waf", WAF, "USD", "0.2", "5", "123.466", "24.69", "98.776"],
    ]
    header, *xrows = read_xlsx(_run(ledger, "revenue_statement", "xlsx").path.read_bytes())
    assert [t for _k, t in xrows[1]][7:] == ["123.466", "24.69", "98.776"]


def test_details_export_anonymizes_customers(ledger):
    text = _run(ledger, "revenue_details", "csv").path.read_text("utf-8-sig")
    _header, *rows = list(csv.reader(io.StringIO(text)))
    assert [(r[1], r[2], r[3], r[4], r[7]) for r in rows][:2] == [
        ("waf", "a1", anonymize("张小明", kind="customer"), "O-w5", "0.125"),
        ("waf", "a1", anonymize("张小明", kind="customer"), "O-w1", "100.005"),
    ]
    assert len(rows) == 7 and "张小明" not in text and "Acme Ltd" not in text


def test_exports_refuse_other_partners_and_bad_options(ledger):
    from partnercenter.core.errors import ValidationFailed

    before = ExportTask.objects.count()
    for params in ({"partner": "sp-b", "month": "2026-03"}, {"partner": "sp-a"}, {"partner": "sp-a", "month": "03"}):
        with pytest.raises(ValidationFailed):
            exports.create_export(ledger.users["sp-a-finance"], "revenue_statement", params, "csv")
    assert ExportTask.objects.count() == before


def test_page_export_creates_a_task(ledger):
    c = as_user(ledger, "sp-a-finance")
    r = c.post(
        "/marketplace/revenue-sharing/export/",
        {"partner": "sp-a", "month": "2026-03", "what": "details", "format": "xlsx"},
        follow=True,
    )
    assert "Export task created" in r.content.decode()
    task = ExportTask.objects.get()
    assert (task.kind, task.format, task.params) == ("revenue_details", "xlsx", {"partner": "sp-a", "month": "2026-03"})
    assert json.dumps(task.params)
