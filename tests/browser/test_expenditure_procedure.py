"""Seed 000 "Querying Expenditure Summary", end to end in a real browser: sign in as a partner
admin, Sales › Customers › Customer Expenditure, the Expenditure Summary tab, search options,
totals, the eye toggle, expenditure and refund bills, Export › Export expenditure summary /
Export customer bills, Export › View Export, Download, and the files themselves."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import xml.etree.ElementTree as ET
import zipfile
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from partnercenter.accounts.models import AuditEntry
from partnercenter.core import clock
from partnercenter.exports import services as export_services
from partnercenter.exports.models import ExportStatus, ExportTask
from partnercenter.usage.models import LineItem
from tests.browser.test_navigation import sign_in
from tests.test_expenditure_console import KNOWN, NOW, ingest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SENSITIVE = ["张小明", "Alice Corp", "Acme Ltd", "a1@example.com", "a2@example.com", "a3@example.com", "13800000000"]
NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}


def exact(locator) -> Decimal:  # noqa: ANN001
    value = locator.get_attribute("data-exact")
    assert value is not None
    return Decimal(value)


def expected_from_line_items(start: dt.date, end: dt.date, association: str = "") -> dict[str, dict[str, Decimal]]:
    """Per currency: expenditure, refund (positive), net — added up from the line items in Python."""
    out: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    qs = LineItem.objects.filter(partner__code="sp-a", charge_day__gte=start, charge_day__lte=end)
    if association:
        qs = qs.filter(association_type=association)
    for li in qs:
        t = out[li.billing_currency]
        if li.classification == "refund":
            t["refund"] -= li.billed_cost
        else:
            t[li.classification] += li.billed_cost
        t["net"] += li.billed_cost
    return out


def xlsx_rows(data: bytes) -> list[list[str]]:
    """Every row of every sheet: numbers from <v>, inline strings from <is><t>."""
    rows: list[list[str]] = []
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for name in sorted(n for n in zf.namelist() if n.startswith("xl/worksheets/sheet")):
            root = ET.fromstring(zf.read(name))
            for row in root.iterfind(".//m:sheetData/m:row", NS):
                cells = []
                for c in row.iterfind("m:c", NS):
                    v = c.find("m:v", NS)
                    t = c.find("m:is/m:t", NS)
                    cells.append(v.text if v is not None else (t.text if t is not None else "") or "")
                rows.append(cells)
    return rows


def xlsx_texts(data: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return "".join(zf.read(n).decode("utf-8", "replace") for n in zf.namelist())


def assert_anonymized(blob: str, raw: bytes) -> None:
    for value in SENSITIVE:
        assert value not in blob, value
        assert value.encode() not in raw, value
    assert "张*明" not in blob  # not even the on-screen mask: exports carry pseudonyms


def download(page: Page, row) -> bytes:  # noqa: ANN001
    with page.expect_download() as info:
        row.get_by_test_id("download").click()
    path = info.value.path()
    return Path(path).read_bytes()


def open_export_menu(page: Page, option: str) -> None:
    page.locator("[data-testid=export-menu] > summary").click()
    page.locator(f"details.export-option[data-export={option}] > summary").click()


def test_seed_000_procedure_end_to_end(page: Page, org, transactional_db, live_server, settings, tmp_path) -> None:
    settings.VAR_DIR = tmp_path
    with clock.frozen_at(NOW):
        ingest(KNOWN)
        start, end = dt.date(2026, 3, 1), dt.date(2026, 3, 18)
        want = expected_from_line_items(start, end, "reseller")

        # -- sign in, Sales › Customers › Customer Expenditure, Expenditure Summary ------------
        sign_in(page, "sp-a-admin")
        nav = page.locator("nav.sidenav")
        expect(nav.locator(".nav-group-title", has_text="Sales › Customers")).to_be_visible()
        nav.get_by_role("link", name="Customer Expenditure", exact=True).click()
        expect(page.locator("h1")).to_have_text("Customer Expenditure")
        expect(page.get_by_test_id("notice")).to_contain_text("is not the partner bill")
        expect(page.get_by_test_id("freshness")).to_contain_text("Asia/Shanghai")
        page.get_by_role("link", name="Expenditure Summary", exact=True).click()
        expect(page.locator("nav.tabs a.active")).to_have_text("Expenditure Summary")

        # -- search options: a date range and an association type (htmx, no reload) ----------
        page.evaluate("window.__not_reloaded = true")
        page.fill("#id_start", start.isoformat())
        page.fill("#id_end", end.isoformat())
        page.select_option("#id_association_type", "reseller")
        rows = page.locator("#summary-table tbody tr[data-account]")
        expect(rows).to_have_count(2)
        expect(page.get_by_test_id("period")).to_have_text("Spent on 2026-03-01 to 2026-03-18")
        assert page.evaluate("window.__not_reloaded") is True
        assert "association_type=reseller" in page.url and "start=2026-03-01" in page.url
        assert sorted(rows.evaluate_all("rs => rs.map(r => r.dataset.account)")) == ["a1", "a3"]

        # -- the totals of expenditure and refund, exactly --------------------------------------
        card = page.locator(".total-card[data-currency=USD]")
        assert (
            exact(card.locator("[data-total=expenditure] dd"))
            == want["USD"]["expenditure"]
            == Decimal("13028.441023123878751")
        )
        assert exact(card.locator("[data-total=refund] dd")) == want["USD"]["refund"] == Decimal("28.000000000000001")
        assert exact(card.locator("[data-total=net] dd")) == want["USD"]["net"]
        expect(card.locator("[data-total=expenditure] dd")).to_have_text("13,028.44 USD")
        expect(page.locator(".total-card")).to_have_count(1)
        shown_totals = {k: exact(card.locator(f"[data-total={k}] dd")) for k in ("expenditure", "refund", "net")}

        # -- the eye toggle on Customer -----------------------------------------------------------
        a1 = page.locator("#summary-table tr[data-account=a1]")
        expect(a1.locator("[data-col=name]")).to_have_text("张*明")
        assert not AuditEntry.objects.filter(action="sensitive.reveal").exists()
        page.get_by_test_id("eye-name").click()
        expect(a1.locator("[data-col=name]")).to_have_text("张小明")
        expect(a1.locator("[data-col=email]")).to_have_text("a1***@example.com")
        entry = AuditEntry.objects.get(action="sensitive.reveal")
        assert entry.actor == org.users["sp-a-admin"] and entry.detail == {"columns": ["name"]}
        page.get_by_test_id("eye-name").click()
        expect(a1.locator("[data-col=name]")).to_have_text("张*明")
        expect(rows).to_have_count(2)  # the search options survived the toggles
        summary_url = page.url
        row_expenditure = exact(a1.locator("td[data-col=expenditure]"))
        row_refund = exact(a1.locator("td[data-col=refund]"))

        # -- expenditure bills and refund bills of one customer ---------------------------------
        a1.get_by_test_id("expenditure-bills").click()
        expect(page.locator("nav.tabs a.active")).to_have_text("Expenditure Details")
        lines = page.locator("#details-table tbody tr[data-line]")
        expect(lines).to_have_count(1)
        assert sum((exact(c) for c in lines.locator("td[data-col=billed_cost]").all()), Decimal(0)) == row_expenditure
        expect(lines.first).to_have_attribute("data-classification", "expenditure")
        page.goto(summary_url)
        page.locator("#summary-table tr[data-account=a1]").get_by_test_id("refund-bills").click()
        expect(lines).to_have_count(1)
        expect(lines.first).to_have_attribute("data-classification", "refund")
        assert -exact(lines.first.locator("td[data-col=billed_cost]")) == row_refund
        expect(page.locator("#id_classification")).to_have_value("refund")

        # -- Export > Export expenditure summary (XLSX) -------------------------------------------
        page.goto(summary_url)
        open_export_menu(page, "summary")
        form = page.get_by_test_id("export-summary-form")
        form.locator("select[name=format]").select_option("xlsx")
        form.get_by_role("button", name="OK").click()
        expect(page.locator(".messages .success")).to_have_text("Export task created")
        expect(rows).to_have_count(2)  # back on the page with the same search options

        # -- Export > Export customer bills: set the search options and click OK (CSV) ------------
        open_export_menu(page, "details")
        form = page.get_by_test_id("export-details-form")
        expect(form.locator("input[name=start]")).to_have_value("2026-03-01")
        expect(form.locator("input[name=end]")).to_have_value("2026-03-18")
        form.locator("select[name=format]").select_option("csv")
        form.get_by_role("button", name="OK").click()
        expect(page.locator(".messages .success")).to_have_text("Export task created")

        tasks = {t.kind: t for t in ExportTask.objects.all()}
        assert set(tasks) == {"expenditure_summary", "expenditure_details"}
        assert tasks["expenditure_summary"].params["association_type"] == "reseller"
        assert (tasks["expenditure_summary"].format, tasks["expenditure_details"].format) == ("xlsx", "csv")
        # The worker's job, run here: each queued task to the end.
        for task in ExportTask.objects.filter(status=ExportStatus.QUEUED):
            export_services.run_export(str(task.pk))
        assert set(ExportTask.objects.values_list("status", flat=True)) == {ExportStatus.SUCCEEDED}

        # -- Export > View Export, Download -------------------------------------------------------
        page.locator("[data-testid=export-menu] > summary").click()
        page.get_by_role("link", name="View export").click()
        expect(page.locator("h1")).to_have_text("Export History")
        summary_row = page.locator("tr[data-kind=expenditure_summary]")
        bills_row = page.locator("tr[data-kind=expenditure_details]")
        expect(summary_row).to_have_attribute("data-status", "succeeded")
        expect(bills_row).to_have_attribute("data-status", "succeeded")
        xlsx = download(page, summary_row)
        bills = download(page, bills_row)

    # -- the files: anonymized, and the same totals as the page --------------------------------
    assert xlsx[:2] == b"PK"
    assert_anonymized(xlsx_texts(xlsx), xlsx)
    table = xlsx_rows(xlsx)
    header, body = table[0], table[1:]
    col = {name: header.index(name) for name in ("Account ID", "Customer", "Currency", "Expenditure", "Refund", "Net")}
    assert sorted(r[col["Account ID"]] for r in body) == ["a1", "a3"]
    assert all(re.fullmatch(r"customer-[0-9a-f]{12}", r[col["Customer"]]) for r in body)
    for key in ("expenditure", "refund", "net"):
        column = col[key.capitalize()]
        assert sum((Decimal(r[column]) for r in body), Decimal(0)) == shown_totals[key], key

    text = bills.decode("utf-8-sig")
    assert_anonymized(text, bills)
    records = list(csv.DictReader(io.StringIO(text)))
    assert {r["Account ID"] for r in records} == {"a1", "a2", "a3"}
    assert all(re.fullmatch(r"customer-[0-9a-f]{12}", r["Customer"]) for r in records)
    every = expected_from_line_items(start, end)
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for r in records:
        sums[r["Currency"]] += Decimal(r["Billed cost"])
    assert dict(sums) == {cur: t["net"] for cur, t in every.items()}
    # …which is what the Expenditure Details tab shows for the same search options.
    with clock.frozen_at(NOW):
        page.goto(f"/expenditure/details/?start={start}&end={end}")
        for cur, total in sums.items():
            assert exact(page.locator(f".total-card[data-currency={cur}] [data-total=net] dd")) == total
