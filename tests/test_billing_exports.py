"""Export kinds of partner bills (B8): bills over at most 12 months, one bill's details
(anonymized), one bill as PDF; the Export Bills page. Figures in the files equal the bills'."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from decimal import Decimal

import pytest
from django.urls import reverse

from partnercenter.core import clock
from partnercenter.core.errors import Forbidden, ValidationFailed
from partnercenter.core.masking import anonymize
from partnercenter.exports import services
from partnercenter.exports.models import ExportStatus, ExportTask
from tests.billing_fixtures import FIGURES, LINES, Bills, make_bills
from tests.conftest import Org
from tests.test_api import bearer, call
from tests.test_billing_pdf import pdf_text

NOW = dt.datetime(2026, 3, 10, 4, 0, tzinfo=dt.UTC)


@pytest.fixture
def bills(org) -> Bills:
    return make_bills(org)


@pytest.fixture(autouse=True)
def _exports(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    with clock.frozen_at(NOW):
        yield


def export(org: Org, kind: str, params, fmt: str = "csv", username: str = "bluesky-finance") -> ExportTask:
    task, _created = services.create_export(org.users[username], kind, params, fmt)
    services.run_export(str(task.pk))
    task.refresh_from_db()
    assert task.status == ExportStatus.SUCCEEDED, task.error
    return task


def csv_rows(task: ExportTask) -> list[list[str]]:
    return list(csv.reader(io.StringIO(task.path.read_bytes().decode("utf-8-sig"))))


def problem(exc: ValidationFailed) -> list[tuple[str, str]]:
    return [(d["where"], d["why"]) for d in exc.details]


# ---- partner bills over a range ---------------------------------------------------------------


def test_the_bills_of_a_range_with_their_exact_figures(org, bills: Bills):
    task = export(org, "partner_bills", {"start": "2026-01", "end": "2026-02"})
    header, *rows = csv_rows(task)
    assert header == [
        "Partner code", "Partner", "Billed month", "Currency", "Expenditures", "Refunds", "Adjustments", "Tax",
        "Bill amount", "Invoice number", "Line items",
    ]  # fmt: skip
    assert [r[:4] for r in rows] == [
        ["bluesky", "蓝天云科技", "2026-01", "CNY"],
        ["bluesky", "蓝天云科技", "2026-02", "CNY"],
    ]
    jan, feb = rows
    assert [Decimal(v) for v in feb[4:9]] == [
        FIGURES[k] for k in ("expenditure", "refund", "adjustment", "tax", "amount")
    ]
    assert feb[9:] == ["PC-2026-000042", "8"]
    assert [Decimal(v) for v in jan[4:9]] == [0, Decimal("5.5"), 0, 0, Decimal("-5.5")]
    assert jan[9] == ""  # a negative bill has no invoice
    # sp-a's bill of the same month is not this user's.
    assert task.row_count == 2 and "PC-2026-000043" not in task.path.read_text(encoding="utf-8-sig")
    assert task.params == {"start": "2026-01", "end": "2026-02"}


def test_the_range_defaults_to_the_last_12_billed_months(org, bills: Bills):
    task, _ = services.create_export(org.users["bluesky-finance"], "partner_bills", {}, "csv")
    assert task.params == {"start": "2025-03", "end": "2026-02"}


def test_twelve_months_are_allowed_thirteen_are_not(org, bills: Bills):
    user = org.users["bluesky-finance"]
    task, _ = services.create_export(user, "partner_bills", {"start": "2025-03", "end": "2026-02"}, "csv")
    assert task.params == {"start": "2025-03", "end": "2026-02"}
    before = ExportTask.objects.count()
    with pytest.raises(ValidationFailed) as caught:
        services.create_export(user, "partner_bills", {"start": "2025-02", "end": "2026-02"}, "csv")
    assert caught.value.message == "Bills can be exported for at most 12 months at a time."
    assert problem(caught.value) == [("params.end", "must be at most 11 months after the first month")]
    assert ExportTask.objects.count() == before


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"start": "2026-02", "end": "2026-01"}, [("params.start", "must not be after end")]),
        ({"start": "2026-13", "end": "2026-02"}, [("params.start", "must be a month (YYYY-MM)")]),
        ({"start": "2026-01-01", "end": "2026-02"}, [("params.start", "must be a month (YYYY-MM)")]),
        ({"start": "2026-01", "end": "2026-02", "partner": "sp-a"}, [("params.partner", "is not a search option of this export")]),
    ],
)  # fmt: skip
def test_bad_ranges_are_refused_and_store_nothing(org, bills: Bills, params, expected):
    with pytest.raises(ValidationFailed) as caught:
        services.create_export(org.users["bluesky-finance"], "partner_bills", params, "csv")
    assert caught.value.code == "invalid_params"
    assert problem(caught.value) == expected
    assert not ExportTask.objects.exists()


def test_a_range_without_bills_is_nothing_to_export(org, bills: Bills):
    with pytest.raises(ValidationFailed) as caught:
        services.create_export(
            org.users["bluesky-finance"], "partner_bills", {"start": "2025-01", "end": "2025-06"}, "csv"
        )
    assert caught.value.code == "nothing_to_export"


def test_the_api_answers_422_beyond_12_months(client, org, bills: Bills):
    auth = bearer(client, "bluesky-finance")
    body = {"kind": "partner_bills", "format": "xlsx", "params": {"start": "2025-01", "end": "2026-02"}}
    r = call(client, "post", "/exports", auth, body)
    assert r.status_code == 422
    assert r.json()["message"] == "Bills can be exported for at most 12 months at a time."
    assert r.json()["details"] == [{"where": "params.end", "why": "must be at most 11 months after the first month"}]
    body["params"] = {"start": "2025-03", "end": "2026-02"}
    assert call(client, "post", "/exports", auth, body).status_code == 202


def test_bill_exports_need_the_partner_bills_menu(org, bills: Bills):
    for kind, params, fmt in [
        ("partner_bills", {"start": "2026-01", "end": "2026-02"}, "csv"),
        ("partner_bill_details", {"bill": bills.feb.pk}, "csv"),
        ("partner_bill_pdf", {"bill": bills.feb.pk}, "pdf"),
    ]:
        with pytest.raises(Forbidden):
            services.create_export(org.users["bluesky-operator"], kind, params, fmt)


def test_headers_and_sheet_speak_chinese(org, bills: Bills):
    from django.utils import translation

    with translation.override("zh-hans"):
        task = export(org, "partner_bills", {"start": "2026-02", "end": "2026-02"}, "xlsx")
    with zipfile.ZipFile(task.path) as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
        workbook = z.read("xl/workbook.xml").decode()
    assert "账单月份" in sheet and "账单金额" in sheet and 'name="伙伴账单"' in workbook
    assert "<v>1298.5089</v>" in sheet and "<v>1234.565</v>" in sheet


# ---- one bill's details -----------------------------------------------------------------------


def test_the_bill_details_are_its_lines_anonymized_and_add_up_to_the_bill(org, bills: Bills):
    task = export(org, "partner_bill_details", {"bill": bills.feb.pk})
    header, *rows = csv_rows(task)
    assert header == [
        "Billed month", "Currency", "Account ID", "Customer", "Product", "Service type", "Region", "Classification",
        "Amount", "Line items", "Corrected month",
    ]  # fmt: skip
    assert len(rows) == len(LINES) == task.row_count
    assert sum(Decimal(r[8]) for r in rows) == FIGURES["amount"] == bills.feb.amount
    assert sum(int(r[9]) for r in rows) == 8
    masked = anonymize("张小明", kind="customer")
    assert ["2026-02", "CNY", "lt1", masked, "云服务器", "Cloud service", "cn-north-1", "Expenditure"] in [
        r[:8] for r in rows
    ]
    correction = [r for r in rows if r[10]]
    assert [(r[2], r[4], r[5], r[7], Decimal(r[8]), r[10]) for r in correction] == [
        ("lt2", "Security Scan", "Marketplace", "Adjustment", Decimal("-0.125"), "2026-01")
    ]
    data = task.path.read_bytes()
    assert "张小明".encode() not in data and b"Bright Future" not in data


def test_the_bill_details_as_xlsx(org, bills: Bills):
    task = export(org, "partner_bill_details", {"bill": bills.feb.pk}, "xlsx")
    with zipfile.ZipFile(task.path) as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
    assert "云服务器" in sheet and "<v>74.0739</v>" in sheet and "张小明" not in sheet
    assert anonymize("Bright Future Ltd", kind="customer") in sheet


@pytest.mark.parametrize("kind", ["partner_bill_details", "partner_bill_pdf"])
def test_another_partners_bill_cannot_be_exported(org, bills: Bills, kind):
    fmt = "pdf" if kind == "partner_bill_pdf" else "csv"
    for username, bill in [("bluesky-finance", bills.other), ("sp-a-finance", bills.feb), ("sp-b-admin", bills.feb)]:
        with pytest.raises(ValidationFailed) as caught:
            services.create_export(org.users[username], kind, {"bill": bill.pk}, fmt)
        assert problem(caught.value) == [("params.bill", "is not a bill you may export")]
    with pytest.raises(ValidationFailed) as caught:
        services.create_export(org.users["bluesky-finance"], kind, {}, fmt)
    assert problem(caught.value) == [("params.bill", "is required")]
    assert not ExportTask.objects.exists()


def test_the_history_describes_the_bill(org, bills: Bills):
    from partnercenter.exports.registry import describe_params

    assert describe_params("partner_bill_details", {"bill": bills.feb.pk}) == "Bill: bluesky 2026-02 CNY"
    assert (
        describe_params("partner_bills", {"start": "2026-01", "end": "2026-02"}) == "Billed months: 2026-01 – 2026-02"
    )


# ---- one bill as PDF --------------------------------------------------------------------------


def test_the_bill_exports_as_pdf(org, bills: Bills):
    task = export(org, "partner_bill_pdf", {"bill": bills.feb.pk}, "pdf")
    assert task.file_name == "partner-bill-20260310-120000.pdf" and task.row_count == 1
    text = pdf_text(task.path.read_bytes())
    assert "蓝天云科技" in text and "云服务器" in text and "Object Storage" in text and "1,298.51" in text
    assert "张小明" not in text


def test_formats_follow_the_kind(org, bills: Bills):
    user = org.users["bluesky-finance"]
    with pytest.raises(ValidationFailed) as caught:
        services.create_export(user, "partner_bill_pdf", {"bill": bills.feb.pk}, "xlsx")
    assert caught.value.code == "invalid_format" and "use one of: pdf" in caught.value.message
    with pytest.raises(ValidationFailed) as caught:
        services.create_export(user, "partner_bills", {"start": "2026-01", "end": "2026-02"}, "pdf")
    assert caught.value.code == "invalid_format" and "use one of: csv, xlsx" in caught.value.message


def test_the_pdf_download_is_a_pdf(client, org, bills: Bills):
    task = export(org, "partner_bill_pdf", {"bill": bills.feb.pk}, "pdf")
    client.force_login(org.users["bluesky-finance"], backend="django.contrib.auth.backends.ModelBackend")
    r = client.get(reverse("exports:download", args=[task.pk]))
    assert r.status_code == 200 and r["Content-Type"] == "application/pdf"
    assert b"".join(r.streaming_content).startswith(b"%PDF-")


# ---- the Export Bills page --------------------------------------------------------------------


def test_the_export_page_creates_a_task_and_links_the_history(
    client, org, bills: Bills, django_capture_on_commit_callbacks
):
    client.force_login(org.users["bluesky-finance"], backend="django.contrib.auth.backends.ModelBackend")
    page = client.get(reverse("billing:export"))
    html = page.content.decode()
    assert page.status_code == 200
    assert 'value="2025-03"' in html and 'value="2026-02"' in html
    assert reverse("exports:index") in html
    assert html.count(f'<option value="{bills.feb.pk}"') == 2 and f'value="{bills.other.pk}"' not in html
    with django_capture_on_commit_callbacks(execute=False):
        r = client.post(
            reverse("exports:create"),
            {
                "kind": "partner_bills",
                "format": "xlsx",
                "start": "2026-01",
                "end": "2026-02",
                "next": "/partner-bills/export/",
            },
        )
    assert r.status_code == 302 and r["Location"] == "/partner-bills/export/"
    assert "Export task created" in client.get(r["Location"]).content.decode()
    assert ExportTask.objects.get().params == {"start": "2026-01", "end": "2026-02"}
    r = client.post(
        reverse("exports:create"),
        {
            "kind": "partner_bills",
            "format": "xlsx",
            "start": "2025-01",
            "end": "2026-02",
            "next": "/partner-bills/export/",
        },
    )
    assert "Bills can be exported for at most 12 months at a time." in client.get(r["Location"]).content.decode()
    assert ExportTask.objects.count() == 1


def test_the_export_page_needs_the_menu_and_speaks_chinese(client, org, bills: Bills):
    client.force_login(org.users["bluesky-operator"], backend="django.contrib.auth.backends.ModelBackend")
    assert client.get(reverse("billing:export")).status_code == 403
    client.force_login(org.users["bluesky-finance"], backend="django.contrib.auth.backends.ModelBackend")
    client.cookies["django_language"] = "zh-hans"
    html = client.get(reverse("billing:export")).content.decode()
    assert "导出账单" in html and "起始月份" in html
    assert re.search(r"<option value=\"\d+\"[^>]*>2026-02 · CNY · bluesky</option>", html)
