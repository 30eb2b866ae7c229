"""Export tasks of customer expenditure as a user and an integrator meet them: labels in the
user's language, readable sheet names, search options in the history, empty results refused,
and search options checked completely (422 naming the field) before anything is queued."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from xml.etree import ElementTree as ET

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from partnercenter.core import clock
from partnercenter.core.errors import ValidationFailed
from partnercenter.exports import registry, services, writers
from partnercenter.exports.models import ExportStatus, ExportTask
from partnercenter.exports.registry import Column, ExportKind
from partnercenter.usage.models import LineItem
from tests.test_api import bearer, call
from tests.test_console import signed_in, text
from tests.test_expenditure_console import KNOWN, NOW, _assign, ingest
from tests.test_export_writers import read_xlsx

NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
SUMMARY, DETAILS = "expenditure_summary", "expenditure_details"
PERIOD = {"start": "2026-03-01", "end": "2026-03-18"}


@pytest.fixture
def known(org, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    with clock.frozen_at(NOW - dt.timedelta(hours=1)):
        ingest(KNOWN)
    _assign(org, "a1", dt.datetime(2026, 2, 1, tzinfo=clock.billing_tz()))
    with clock.frozen_at(NOW):
        yield org


def export(org, kind: str, params: dict, fmt: str = "xlsx", user: str = "sp-a-admin", lang: str = "en") -> ExportTask:
    with translation.override(lang):
        task, _ = services.create_export(org.users[user], kind, params, fmt)
    services.run_export(str(task.pk))
    task.refresh_from_db()
    return task


def sheet_names(data: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        root = ET.fromstring(zf.read("xl/workbook.xml"))
    return [s.get("name") for s in root.iterfind("m:sheets/m:sheet", NS)]


def texts(row) -> list[str]:
    return [value for _type, value in row]


# ---- labels, language, sheet name -----------------------------------------------------------


def test_summary_in_chinese_writes_labels_headers_and_a_readable_sheet_name(known):
    task = export(known, SUMMARY, {**PERIOD, "sort": "account"}, lang="zh-hans")
    assert task.status == ExportStatus.SUCCEEDED and task.language == "zh-hans"
    data = task.path.read_bytes()
    assert sheet_names(data) == ["消费汇总"]
    rows = read_xlsx(data)
    assert texts(rows[0]) == [
        "账号ID",
        "客户",
        "邮箱",
        "移动电话",
        "关联类型",
        "客户经理",
        "币种",
        "消费",
        "退款",
        "调账",
        "税费",
        "净额",
    ]
    by_account = {(r[0][1], r[6][1]): texts(r) for r in rows[1:]}
    assert by_account[("a1", "USD")][4] == "代售"
    assert by_account[("a2", "USD")][4] == "推荐（顾问销售）"
    assert by_account[("a1", "USD")][9:12] == ["0", "1.5", "13001.941023123878749"]  # adjustment, tax, net


def test_customer_bills_in_english_write_labels_not_codes(known):
    task = export(known, DETAILS, {**PERIOD, "account_id": "a3"}, fmt="csv")
    assert task.status == ExportStatus.SUCCEEDED and task.language == "en"
    rows = list(csv.DictReader(io.StringIO(task.path.read_text("utf-8-sig"), newline="")))
    by_cost = {r["Billed cost"]: r for r in rows}
    purchase = by_cost["0.000000000000001"]
    assert (purchase["Association type"], purchase["Service type"], purchase["Billing mode"]) == (
        "Reseller",
        "Marketplace",
        "Monthly (prepaid)",
    )
    assert (purchase["Charge category"], purchase["Classification"], purchase["Correction"]) == (
        "Purchase",
        "Expenditure",
        "",
    )
    credit = by_cost["-2"]
    assert (credit["Charge category"], credit["Classification"], credit["Billing mode"]) == (
        "Credit",
        "Adjustment",
        "Pay-per-use",
    )


def test_customer_bills_xlsx_sheet_is_named_customer_bills(known):
    task = export(known, DETAILS, {**PERIOD, "account_id": "a1"})
    assert sheet_names(task.path.read_bytes()) == ["Customer bills"]
    task = export(known, DETAILS, {**PERIOD, "account_id": "a2"}, lang="zh-hans")
    data = task.path.read_bytes()
    assert sheet_names(data) == ["客户账单"]
    header = texts(read_xlsx(data)[0])
    assert header[5] == "关联类型" and header[13] == "计费模式"
    assert {texts(r)[13] for r in read_xlsx(data)[1:]} == {"按需计费"}


@pytest.mark.parametrize(
    ("title", "number", "expected"),
    [
        ("Customer bills (expenditure details)", 1, "Customer bills (expenditure det"),
        ("Customer bills (expenditure details)", 2, "Customer bills (expenditure (2)"),
        ("a/b\\c:d*e?f[g]h", 1, "a b c d e f g h"),
        ("'quoted'", 1, "quoted"),
        ("History", 1, "History 1"),
        ("", 1, "Sheet"),
        ("消费汇总", 3, "消费汇总 (3)"),
    ],
)
def test_sheet_names_are_valid_excel_names(title, number, expected):
    name = writers.sheet_name(title, number)
    assert name == expected
    assert len(name) <= 31


# ---- search options in the history ---------------------------------------------------------


def test_history_and_api_show_each_tasks_search_options(known, client):
    manager = known.users["sp-a-account_manager"]
    params = {"name": "a", "start": "2026-03-02", "end": "2026-03-15", "association_type": "reseller"}
    with translation.override("en"):
        summary, _ = services.create_export(known.users["sp-a-admin"], SUMMARY, params, "xlsx")
        bills, _ = services.create_export(
            known.users["sp-a-admin"], DETAILS, {**PERIOD, "billing_mode": "pay_per_use", "account_id": "a1"}, "csv"
        )
    expected = "Spent on: 2026-03-02 – 2026-03-15 · Customer name: a · Association type: Reseller"
    html = text(signed_in(client, known, "sp-a-admin").get("/exports/"))
    assert f'title="{expected}"' in html
    assert 'title="Account ID: a1 · Spent on: 2026-03-01 – 2026-03-18 · Billing mode: Pay-per-use"' in html
    client.cookies["django_language"] = "zh-hans"
    html = text(client.get("/exports/"))
    assert 'title="消费日期: 2026-03-02 – 2026-03-15 · 客户名称: a · 关联类型: 代售"' in html
    r = call(Client(), "get", f"/exports/{summary.pk}", bearer(Client(), "sp-a-admin"))
    assert r.json()["search_options"] == expected
    assert manager  # the account manager filter is described by name
    ExportTask.objects.all().delete()
    with translation.override("en"):
        task, _ = services.create_export(
            known.users["sp-a-admin"], SUMMARY, {**PERIOD, "manager_id": manager.pk}, "csv"
        )
    assert registry.describe_params(task.kind, task.params) == (
        "Spent on: 2026-03-01 – 2026-03-18 · Account manager: sp-a-account_manager"
    )
    assert bills.params["billing_mode"] == "pay_per_use"


def test_a_missing_period_is_recorded_as_this_month(known):
    with translation.override("en"):
        task, _ = services.create_export(known.users["sp-a-admin"], SUMMARY, {}, "csv")
    assert (task.params["start"], task.params["end"]) == ("2026-03-01", "2026-03-20")
    assert registry.describe_params(task.kind, task.params) == "Spent on: 2026-03-01 – 2026-03-20"


# ---- empty results --------------------------------------------------------------------------


def test_options_that_match_nothing_are_refused_at_creation(known, client):
    admin = known.users["sp-a-admin"]
    with pytest.raises(ValidationFailed) as e:
        services.create_export(admin, DETAILS, {**PERIOD, "account_id": "b1"}, "csv")  # another partner's
    assert e.value.code == "nothing_to_export"
    assert e.value.message == "Nothing to export for these search options."
    with pytest.raises(ValidationFailed):
        services.create_export(admin, SUMMARY, {**PERIOD, "name": "nobody"}, "xlsx")
    assert not ExportTask.objects.exists()
    r = call(
        client,
        "post",
        "/exports",
        bearer(client, "sp-a-admin"),
        {"kind": SUMMARY, "format": "csv", "params": {"start": "2026-01-01", "end": "2026-01-31"}},
    )
    assert r.status_code == 422 and r.json()["code"] == "nothing_to_export"
    page = signed_in(Client(), known, "sp-a-admin")
    page.cookies["django_language"] = "zh-hans"
    r = page.post("/expenditure/export/", {"kind": "details", "format": "csv", "account_id": "b1", **PERIOD})
    assert r.status_code == 302
    assert "没有符合这些搜索条件的数据可导出。" in text(page.get(r["Location"]))
    assert not ExportTask.objects.exists()


def test_data_gone_by_run_time_fails_the_task_with_a_clear_message_and_no_file(known, client):
    with translation.override("en"):
        task, _ = services.create_export(known.users["sp-a-admin"], DETAILS, {**PERIOD, "account_id": "a2"}, "xlsx")
    LineItem.objects.filter(customer__account_id="a2").delete()
    services.run_export(str(task.pk))
    task.refresh_from_db()
    assert task.status == ExportStatus.FAILED
    assert task.error == services.EMPTY_AT_RUN
    assert task.row_count == 0 and task.file_size is None
    assert not task.path.exists() and not task.part_path.exists()
    html = text(signed_in(client, known, "sp-a-admin").get("/exports/"))
    assert "Nothing to export: no data matched these search options when the export ran" in html


def test_any_kind_that_yields_no_rows_makes_no_file(org, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    kind = registry.register(
        ExportKind(
            code="test_nothing",
            label="Nothing",
            menu="exports",
            columns=[Column("a", "A")],
            rows=lambda ctx: iter(()),
            filename_stem="nothing",
        )
    )
    try:
        with clock.frozen_at(NOW):
            task, _ = services.create_export(org.users["sp-a-admin"], kind.code, {}, "csv")
            services.run_export(str(task.pk))
    finally:
        registry.unregister(kind.code)
    task.refresh_from_db()
    assert task.status == ExportStatus.FAILED and task.error == services.EMPTY_AT_RUN
    assert list(task.path.parent.iterdir()) == []


# ---- parameters checked at creation (422, naming the field) ---------------------------------

BAD = [
    (SUMMARY, {"start": "not-a-date"}, "params.start", "must be a date (YYYY-MM-DD)"),
    (SUMMARY, {"start": 20260301}, "params.start", "must be a date (YYYY-MM-DD)"),
    (SUMMARY, {"end": "2026-02-30"}, "params.end", "must be a date (YYYY-MM-DD)"),
    (SUMMARY, {"start": "20260301"}, "params.start", "must be a date (YYYY-MM-DD)"),
    (SUMMARY, {"start": "2026-03-10", "end": "2026-03-01"}, "params.start", "must not be after end"),
    (SUMMARY, {"association_type": "partner"}, "params.association_type", "must be one of: reseller, referral"),
    (SUMMARY, {"sort": "password"}, "params.sort", None),
    (SUMMARY, {"name": ["a", "b"]}, "params.name", "must be text"),
    (SUMMARY, {"name": "x" * 201}, "params.name", "must be at most 200 characters"),
    (SUMMARY, {"manager_id": "abc"}, "params.manager_id", "must be a whole number"),
    (SUMMARY, {"manager_id": True}, "params.manager_id", "must be a whole number"),
    (SUMMARY, {"customer": "a1"}, "params.customer", "is not a search option of this export"),
    (DETAILS, {"billing_mode": "free"}, "params.billing_mode", None),
    (DETAILS, {"classification": "bonus"}, "params.classification", None),
    (DETAILS, {"service_type": 1}, "params.service_type", "must be text"),
]


@pytest.mark.parametrize(("kind", "params", "where", "why"), BAD)
def test_api_rejects_bad_search_options_at_creation(known, client, kind, params, where, why):
    r = call(
        client, "post", "/exports", bearer(client, "sp-a-admin"), {"kind": kind, "format": "csv", "params": params}
    )
    assert r.status_code == 422, r.content
    body = r.json()
    assert body["code"] == "invalid_params"
    assert [d["where"] for d in body["details"]] == [where]
    if why is not None:
        assert body["details"][0]["why"] == why
    assert where.removeprefix("params.") in body["message"]
    assert not ExportTask.objects.exists()


def test_api_rejects_another_partners_account_manager(known, client):
    other = known.users["sp-b-account_manager"]
    r = call(
        client,
        "post",
        "/exports",
        bearer(client, "sp-a-admin"),
        {"kind": SUMMARY, "format": "csv", "params": {"manager_id": other.pk}},
    )
    assert r.status_code == 422
    assert r.json()["details"] == [{"where": "params.manager_id", "why": "is not a value you may choose"}]
    assert not ExportTask.objects.exists()


def test_api_names_every_bad_field_and_the_kind_and_format(known, client):
    auth = bearer(client, "sp-a-admin")
    r = call(
        client,
        "post",
        "/exports",
        auth,
        {"kind": SUMMARY, "format": "csv", "params": {"start": "x", "association_type": "y", "zzz": 1}},
    )
    assert r.status_code == 422
    assert sorted(d["where"] for d in r.json()["details"]) == ["params.association_type", "params.start", "params.zzz"]
    r = call(client, "post", "/exports", auth, {"kind": SUMMARY, "format": "pdf", "params": PERIOD})
    assert r.status_code == 422 and r.json()["code"] == "invalid_format"
    assert r.json()["details"] == [{"where": "format", "why": "must be one of: csv, xlsx"}]
    r = call(client, "post", "/exports", auth, {"kind": "payroll", "format": "csv"})
    assert r.status_code == 422 and r.json()["code"] == "unknown_export_kind"
    assert r.json()["details"][0]["where"] == "kind"
    r = call(client, "post", "/exports", auth, {"kind": SUMMARY, "format": "csv", "params": "start=x"})
    assert r.status_code == 422 and r.json()["details"][0]["where"] == "body.params"
    assert not ExportTask.objects.exists()


def test_the_console_export_form_gets_the_same_checks(known):
    page = signed_in(Client(), known, "sp-a-admin")
    r = page.post(reverse("exports:create"), {"kind": SUMMARY, "format": "csv", "association_type": "partner"})
    assert r.status_code == 302
    assert "association_type must be one of: reseller, referral" in text(page.get("/exports/"))
    page.cookies["django_language"] = "zh-hans"
    page.post(reverse("exports:create"), {"kind": SUMMARY, "format": "csv", "start": "2026-13-01"})
    assert "搜索条件无效：start 必须是日期（YYYY-MM-DD）。" in text(page.get("/exports/"))
    assert not ExportTask.objects.exists()


def test_valid_options_are_stored_normalised(known):
    with translation.override("en"):
        task, _ = services.create_export(
            known.users["sp-a-admin"],
            SUMMARY,
            {"name": " 张 ", "manager_id": str(known.users["sp-a-account_manager"].pk), **PERIOD},
            "csv",
        )
    assert task.params == {
        "name": "张",
        "start": "2026-03-01",
        "end": "2026-03-18",
        "manager_id": known.users["sp-a-account_manager"].pk,
        "association_type": "",
        "sort": "-expenditure",
    }


def test_the_task_records_the_language_of_the_request_that_created_it(known, client):
    auth = bearer(client, "sp-a-admin")
    r = call(
        client,
        "post",
        "/exports",
        auth,
        {"kind": SUMMARY, "format": "xlsx", "params": PERIOD},
        HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9",
    )
    assert r.status_code == 202, r.content
    assert r.json()["search_options"] == "消费日期: 2026-03-01 – 2026-03-18"
    task = ExportTask.objects.get(pk=r.json()["id"])
    assert task.language == "zh-hans"
    services.run_export(str(task.pk))
    assert sheet_names(task.path.read_bytes()) == ["消费汇总"]
    with translation.override("en-us"):
        assert services.request_language() == "en"
    with translation.override(None):  # a command line: no language active
        assert services.request_language() == "en"
