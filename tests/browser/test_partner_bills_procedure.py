"""Seed 001 "Querying Partner Bills" (with the 伙伴账单 / 导出伙伴账单明细 parts of seed 002), end to
end in a real browser: sign in as a partner admin, Sales › Financial Information › Partner Bills,
the Amount Due pane, Unpaid Bills, Pay from the prepaid balance, Payment records, a third-party
payment agreement (代付管理), a month's bill
with its figures, By Product (cloud, marketplace, "Others", region filter) and By Customer with
View more, the invoice PDF, Export Bills (the bills, a bill's details, the bill as PDF), View Export, Download, and the files themselves; then
the page at 1366×768 (``PARTNERCENTER_LAYOUT_SCREENSHOTS=<dir>`` saves it there).

Every figure is checked exactly against what the ledger says (added up here from the records that
were ingested), never only against what the page shows elsewhere.

SQLite: the live server shares the test's in-memory connection, so the test touches the database
only while the browser is idle (nothing in flight: the page's htmx loads are awaited first). No
request is serialised by the test; every wait has a timeout and the whole test has a deadline.
"""

from __future__ import annotations

import csv
import datetime as dt
import faulthandler
import io
import os
import signal
import sys
from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from partnercenter.billing import payment_services as payments
from partnercenter.billing import services as billing
from partnercenter.billing.models import Bill, Payment
from partnercenter.core import clock
from partnercenter.exports import services as export_services
from partnercenter.exports.models import ExportStatus, ExportTask
from tests.browser.test_expenditure_procedure import exact, xlsx_rows
from tests.browser.test_navigation import sign_in
from tests.test_billing_close import SHANGHAI, ingest, on, rec
from tests.test_billing_pdf import pdf_text

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DEADLINE_SECONDS = 90
WAIT = 10_000  # ms: every browser wait
DOWNLOAD_WAIT = 30_000  # ms: a PDF is drawn on request
WIDTH, HEIGHT = 1366, 768

MARCH, APRIL = dt.date(2026, 3, 1), dt.date(2026, 4, 1)
DUE_MARCH = dt.datetime(2026, 4, 5, 0, 0, tzinfo=SHANGHAI)
NOW = dt.datetime(2026, 5, 10, 10, 0, tzinfo=SHANGHAI)

ECS = {"service_name": "云服务器", "region_id": "cn-north-1"}
OBS = {"service_name": "Object Storage", "region_id": "cn-east-2"}
APP = {"service_name": "Security Scan", "service_type": "marketplace", "region_id": ""}

# Loaded on 2 April: March, closed on the 5th.
MARCH_RECORDS = [
    rec("M1", "a1", "100.123456789012345", on(5), **ECS),
    rec("M2", "a1", "-20.5", on(6), **ECS),  # an order cancelled: a refund
    rec("M3", "a1", "3.25", on(7), charge_category="Tax", **ECS),
    rec("M4", "a3", "50", on(8), **APP),
    rec("M5", "a3", "40.005", on(9), **OBS),
    rec("M6", "a3", "-1.25", on(13), charge_category="Credit", **OBS),  # an adjustment
    rec("M7", "a1", "7", on(31, 23, 59, 59), **ECS),  # the last second of March, Shanghai time
    rec("M8", "a2", "999", on(9)),  # a2 is sp-a's referral customer: never on the bill (B1)
    rec("M9", "b1", "-30", on(11)),  # another partner's
]
# Loaded on 10 April: a March charge that came late (a correction on April's bill) and April's.
LATE_MARCH = [rec("L1", "a3", "5", on(20), **OBS)]
APRIL_RECORDS = [
    rec("A1", "a1", "-80", on(3, month=4), **ECS),  # refunds exceed the charges: a negative bill
    rec("A2", "a3", "30", on(4, month=4), **OBS),
]
# Loaded on 9 May: the current month's estimate.
MAY_RECORDS = [rec("Y1", "a1", "6", on(3, month=5), **ECS)]

TOP_UP = Decimal("150.00")
PRINCIPAL = "华东代付有限公司 East China Payments Ltd."
PAID = Decimal("100.00")


@pytest.fixture(autouse=True)
def _deadline() -> Iterator[None]:
    """The test can never hang: past the deadline every thread's stack is written to stderr and
    the test fails."""

    def expire(signum, frame) -> None:  # noqa: ANN001
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        raise TimeoutError(f"the partner bills procedure took longer than {DEADLINE_SECONDS} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(DEADLINE_SECONDS)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


# ---- what the ledger says, added up here -----------------------------------------------------


def _classification(r: dict[str, str]) -> str:
    if r["charge_category"] == "Tax":
        return "tax"
    if r["charge_category"] == "Usage":
        return "expenditure" if Decimal(r["billed_cost"]) >= 0 else "refund"
    return "adjustment"


SP_A_RESELLERS = {"a1", "a3"}


def ledger(records: list[dict[str, str]], **match: str) -> dict[str, Decimal]:
    """Per classification, the sum of sp-a's reseller records matching ``match``; "amount" is the net."""
    out: dict[str, Decimal] = defaultdict(Decimal)
    for r in records:
        if r["account_id"] not in SP_A_RESELLERS or any(r.get(k) != v for k, v in match.items()):
            continue
        out[_classification(r)] += Decimal(r["billed_cost"])
        out["amount"] += Decimal(r["billed_cost"])
    return out


MARCH_LEDGER = ledger(MARCH_RECORDS)
APRIL_LEDGER = ledger(APRIL_RECORDS)
CORRECTION = ledger(LATE_MARCH)["amount"]


def set_up(org) -> None:  # noqa: ANN001
    """Two closed months for sp-a: March positive (an invoice), April negative; a prepaid balance."""
    ingest(MARCH_RECORDS, on(2, month=4))
    billing.catch_up(DUE_MARCH)
    ingest(LATE_MARCH + APRIL_RECORDS, on(10, month=4))
    ingest(MAY_RECORDS, on(9, month=5))
    with clock.frozen_at(on(6, month=5)):  # the top-up comes first, then the close of April
        payments.top_up(actor=org.users["op"], partner=org.partners["sp-a"], currency="USD", amount=str(TOP_UP))
    billing.catch_up(NOW)


# ---- browser helpers ---------------------------------------------------------------------------


def settled_bills_page(page: Page) -> None:
    """The Partner Bills page and both of its htmx loads (Amount Due pane, chart) have arrived."""
    expect(page.get_by_test_id("amount-due")).to_be_visible(timeout=WAIT)
    expect(page.get_by_test_id("bill-chart")).to_be_visible(timeout=WAIT)
    expect(page.get_by_test_id("figures")).to_be_visible(timeout=WAIT)


def figure(page: Page, name: str) -> Decimal:
    return exact(page.locator(f"[data-testid=figures] [data-figure={name}] dd"))


def area(page: Page, name: str) -> dict[str, Decimal]:
    """One area of By Product: row label -> exact amount, and "total"."""
    table = page.locator(f".product-areas [data-area={name}]")
    rows = {
        r.get_attribute("data-row") or "": exact(r.locator("td.num[data-exact]"))
        for r in table.locator("tbody tr[data-row]").all()
    }
    rows["total"] = exact(table.locator("tfoot th[data-exact]"))
    return rows


def download(page: Page, link: Locator) -> tuple[str, bytes]:
    with page.expect_download(timeout=DOWNLOAD_WAIT) as info:
        link.click()
    d = info.value
    path = d.path()  # waits for the download to finish
    return d.suggested_filename, Path(path).read_bytes()


def inside_viewport(page: Page, locator: Locator) -> None:
    expect(locator).to_be_visible(timeout=WAIT)
    box = locator.bounding_box()
    assert box is not None
    assert box["x"] >= 0 and box["y"] >= 0, box
    assert box["x"] + box["width"] <= WIDTH and box["y"] + box["height"] <= HEIGHT, box


# ---- the procedure -----------------------------------------------------------------------------


def test_seed_001_partner_bills_procedure_end_to_end(page: Page, org, live_server, settings, tmp_path) -> None:
    settings.VAR_DIR = tmp_path
    set_up(org)
    march_bill = Bill.objects.get(partner__code="sp-a", month=MARCH, currency="USD")
    april_bill = Bill.objects.get(partner__code="sp-a", month=APRIL, currency="USD")
    march_amount = MARCH_LEDGER["amount"]
    april_amount = APRIL_LEDGER["amount"] + CORRECTION
    assert march_amount == Decimal("178.628456789012345") and april_amount == Decimal("-45")
    due = max(march_amount, 0) + max(april_amount, 0)
    balance = TOP_UP - april_amount  # April's negative amount was returned to the balance (B5)

    # Nothing the test does not ask for reaches the server (the shared SQLite connection).
    page.route("**/favicon.ico", lambda route: route.fulfill(status=204))
    with clock.frozen_at(NOW):
        # -- sign in, Sales › Financial Information › Partner Bills ------------------------------
        sign_in(page, "sp-a-admin")
        nav = page.locator("nav.sidenav")
        expect(nav.locator(".nav-group-title", has_text="Sales › Financial Information")).to_be_visible()
        nav.get_by_role("link", name="Partner Bills", exact=True).click()
        expect(page.locator("h1")).to_have_text("Partner Bills")
        expect(page.get_by_test_id("notice")).to_contain_text("5th day of the following month")
        settled_bills_page(page)
        assert page.url.endswith("/partner-bills/")

        # -- Amount Due: the unpaid amounts of every bill, exactly ------------------------------
        pane = page.get_by_test_id("amount-due")
        due_card = pane.locator(".value[data-currency=USD]")
        assert exact(due_card) == due == march_amount
        expect(due_card).to_have_text("178.63")
        assert exact(pane.get_by_test_id("balance")) == balance
        # The latest bill (April) is shown first: negative, nothing due for it, no invoice (B5).
        assert figure(page, "amount") == april_amount and figure(page, "amount_due") == 0
        expect(page.get_by_test_id("negative-note")).to_be_visible()
        expect(page.get_by_test_id("invoice")).to_have_count(0)
        assert area(page, "others") == {
            "Refunds": APRIL_LEDGER["refund"],
            "Correction of 2026-03": CORRECTION,
            "total": APRIL_LEDGER["refund"] + CORRECTION,
        }
        estimate = page.get_by_test_id("estimate")
        assert exact(estimate.locator("strong")) == Decimal("6")
        expect(estimate).to_contain_text("2026-05")

        # -- Unpaid Bills ------------------------------------------------------------------------
        pane.get_by_role("link", name="Unpaid Bills").click()
        expect(page.locator("h1")).to_have_text("Unpaid Bills")
        unpaid = page.locator("#unpaid-bills tbody tr[data-bill]")
        expect(unpaid).to_have_count(1)
        expect(unpaid.first).to_have_attribute("data-bill", str(march_bill.pk))
        assert exact(unpaid.first.locator("[data-col=due]")) == march_amount
        assert exact(page.locator("#unpaid-bills tfoot [data-total-currency=USD]")) == due

        # -- Pay from the prepaid balance --------------------------------------------------------
        unpaid.first.get_by_role("link", name="Pay").click()
        expect(page.locator("h1")).to_have_text("Pay from the prepaid balance")
        expect(page.locator("#pay-bill")).to_have_value(str(march_bill.pk))
        assert exact(page.locator("[data-testid=due] [data-currency=USD]")) == due
        assert exact(page.locator("[data-testid=balance] [data-currency=USD]")) == balance
        page.fill("#pay-amount", "100.00")
        page.get_by_test_id("pay-submit").click()

        # -- Payment records: the payment and the balance after it ------------------------------
        expect(page.locator("h1")).to_have_text("Payment records")
        expect(page.locator(".messages .success")).to_have_text("Paid 100.00 USD from the prepaid balance.")
        records = page.locator("#payment-records tbody tr[data-kind]")
        expect(records).to_have_count(3)
        newest, returned, top_up = records.nth(0), records.nth(1), records.nth(2)
        expect(newest).to_have_attribute("data-kind", "payment")
        assert exact(newest.locator("[data-col=amount]")) == -PAID
        assert exact(newest.locator("[data-col=balance_after]")) == balance - PAID
        expect(newest).to_contain_text("2026-03")  # the bill it settled
        # The close of April (run on 10 May here) returned the negative bill's amount.
        expect(returned).to_have_attribute("data-kind", "refund")
        expect(returned).to_contain_text("Negative amount of the bill of 2026-04 returned")
        assert exact(returned.locator("[data-col=amount]")) == -april_amount
        assert exact(returned.locator("[data-col=balance_after]")) == balance
        expect(top_up).to_have_attribute("data-kind", "top_up")
        assert exact(top_up.locator("[data-col=amount]")) == TOP_UP
        assert exact(page.locator("strong[data-currency=USD]")) == balance - PAID

        # -- 代付管理: a third-party payment agreement, pending until the platform decides --------
        page.locator("nav.tabs").get_by_role("link", name="Third-party payment").click()
        expect(page.locator("h1")).to_have_text("Third-party payment agreements")
        expect(page.locator("#agreements tbody tr[data-status]")).to_have_count(0)
        page.fill("#principal", PRINCIPAL)
        page.select_option("#principal-type", "company")
        page.get_by_role("button", name="Create agreement").click()
        expect(page.locator(".messages .success")).to_have_text(
            "Agreement created; it is pending approval by the platform."
        )
        agreement = page.locator("#agreements tbody tr[data-status]")
        expect(agreement).to_have_count(1)
        expect(agreement).to_have_attribute("data-status", "pending")
        expect(agreement.locator("td").nth(0)).to_have_text(PRINCIPAL)
        expect(agreement.locator("td").nth(1)).to_have_text("Company")
        expect(agreement.locator("td").nth(2)).to_have_text("Pending approval")

        # -- back on Bills: what is left to pay ---------------------------------------------------
        page.locator("nav.tabs").get_by_role("link", name="Bills", exact=True).click()
        settled_bills_page(page)
        assert exact(page.get_by_test_id("amount-due").locator(".value[data-currency=USD]")) == due - PAID

        # -- Monthly Bills: select March ----------------------------------------------------------
        page.evaluate("window.__not_reloaded = true")
        page.get_by_test_id("month").select_option("2026-03")
        expect(page.get_by_test_id("figures")).to_have_attribute("data-bill", str(march_bill.pk), timeout=WAIT)
        assert page.evaluate("window.__not_reloaded") is True
        assert "month=2026-03" in page.url
        for name in ("expenditure", "adjustment", "tax"):
            assert figure(page, name) == MARCH_LEDGER[name], name
        assert figure(page, "refund") == -MARCH_LEDGER["refund"] == Decimal("20.5")  # shown positive
        assert figure(page, "amount") == march_amount
        assert figure(page, "amount_due") == march_amount - PAID
        invoice = page.get_by_test_id("invoice")
        expect(invoice).to_have_text("PC-0000000001")

        # -- By Product: cloud, marketplace, and refunds/adjustments/tax under "Others" ---------
        cloud = {
            "云服务器": ledger(MARCH_RECORDS, **ECS)["expenditure"],
            "Object Storage": ledger(MARCH_RECORDS, **OBS)["expenditure"],
        }
        assert area(page, "cloud") == {**cloud, "total": sum(cloud.values())}
        assert area(page, "marketplace") == {"Security Scan": Decimal("50"), "total": Decimal("50")}
        others = {
            "Refunds": MARCH_LEDGER["refund"],
            "Adjustments": MARCH_LEDGER["adjustment"],
            "Tax": MARCH_LEDGER["tax"],
        }
        assert area(page, "others") == {**others, "total": sum(others.values())}
        assert sum(area(page, a)["total"] for a in ("cloud", "marketplace", "others")) == march_amount
        # …filtered by region.
        page.get_by_test_id("region").select_option("cn-north-1")
        expect(page.locator("[data-area=marketplace] tbody tr[data-row]")).to_have_count(0, timeout=WAIT)
        north = ledger(MARCH_RECORDS, region_id="cn-north-1")
        assert area(page, "cloud") == {"云服务器": north["expenditure"], "total": north["expenditure"]}
        assert area(page, "others") == {
            "Refunds": north["refund"],
            "Tax": north["tax"],
            "total": north["refund"] + north["tax"],
        }

        # -- the invoice: a PDF with its number, Chinese and English names -----------------------
        name, pdf = download(page, invoice)
        assert name == "invoice-PC-0000000001.pdf"
        text = pdf_text(pdf)
        for wanted in ("PC-0000000001", "云服务器", "Object Storage", "Security Scan", "178.63", "2026-03"):
            assert wanted in text, wanted

        # -- By Customer, and View More for one customer ------------------------------------------
        page.locator("nav.tabs a[data-tab=customer]").click()
        customers = page.locator("#customer-table tbody tr[data-account]")
        expect(customers).to_have_count(2, timeout=WAIT)
        totals = {a: ledger(MARCH_RECORDS, account_id=a)["amount"] for a in ("a1", "a3")}
        assert customers.evaluate_all("rs => rs.map(r => r.dataset.account)") == ["a1", "a3"]  # largest first
        for account, total in totals.items():
            assert exact(page.locator(f"#customer-table tr[data-account={account}] [data-col=total]")) == total
        assert sum(totals.values()) == march_amount
        a1 = page.locator("#customer-table tr[data-account=a1]")
        expect(a1).to_contain_text("张*明")
        a1.get_by_test_id("customer-details").click()
        expect(page.locator("nav.tabs a.active")).to_have_text("Expenditure Details")
        assert "account_id=a1" in page.url and "start=2026-03-01" in page.url and "end=2026-03-31" in page.url
        lines = page.locator("#details-table tbody tr[data-line]")
        expect(lines).to_have_count(4, timeout=WAIT)  # M1, M2, M3, M7
        assert sum((exact(c) for c in lines.locator("td[data-col=billed_cost]").all()), Decimal(0)) == totals["a1"]
        assert exact(page.locator(".total-card[data-currency=USD] [data-total=net] dd")) == totals["a1"]

        # -- Export Bills: a range of months, and one bill's details ------------------------------
        page.goto("/partner-bills/")
        settled_bills_page(page)
        page.get_by_test_id("export").click()
        expect(page.locator("h1")).to_have_text("Export Bills")
        bills_form = page.get_by_test_id("export-bills")
        expect(bills_form.locator("#export-start")).to_have_value("2025-05")
        expect(bills_form.locator("#export-end")).to_have_value("2026-04")
        bills_form.get_by_role("button", name="OK").click()
        expect(page.locator(".messages .success")).to_have_text("Export task created")
        details_form = page.get_by_test_id("export-bill-details")
        details_form.locator("#details-bill").select_option(str(march_bill.pk))
        details_form.locator("#details-format").select_option("csv")
        details_form.get_by_role("button", name="OK").click()
        expect(page.locator(".messages .success")).to_have_text("Export task created")
        pdf_form = page.get_by_test_id("export-bill-pdf")
        pdf_form.locator("#pdf-bill").select_option(str(march_bill.pk))
        pdf_form.get_by_role("button", name="OK").click()
        expect(page.locator(".messages .success")).to_have_text("Export task created")

        # The worker's job, run here while the browser waits on a page that polls nothing.
        tasks = {t.kind: t for t in ExportTask.objects.all()}
        assert set(tasks) == {"partner_bills", "partner_bill_details", "partner_bill_pdf"}
        assert tasks["partner_bills"].params == {"start": "2025-05", "end": "2026-04"}
        assert [tasks[k].format for k in ("partner_bills", "partner_bill_details", "partner_bill_pdf")] == [
            "xlsx",
            "csv",
            "pdf",
        ]
        for task in ExportTask.objects.filter(status=ExportStatus.QUEUED):
            export_services.run_export(str(task.pk))
        assert set(ExportTask.objects.values_list("status", flat=True)) == {ExportStatus.SUCCEEDED}

        # -- View Export, Download -------------------------------------------------------------
        page.get_by_test_id("export-history-link").click()
        expect(page.locator("h1")).to_have_text("Export History")
        bills_row = page.locator("tr[data-kind=partner_bills]")
        details_row = page.locator("tr[data-kind=partner_bill_details]")
        pdf_row = page.locator("tr[data-kind=partner_bill_pdf]")
        for row in (bills_row, details_row, pdf_row):
            expect(row).to_have_attribute("data-status", "succeeded")
        _, xlsx = download(page, bills_row.get_by_test_id("download"))
        _, details = download(page, details_row.get_by_test_id("download"))
        _, bill_pdf = download(page, pdf_row.get_by_test_id("download"))

        # -- 1366×768: the amounts and the pay action are on the first screen ---------------------
        page.set_viewport_size({"width": WIDTH, "height": HEIGHT})
        page.goto("/partner-bills/?month=2026-03")
        settled_bills_page(page)
        inside_viewport(page, page.get_by_test_id("amount-due").locator(".value[data-currency=USD]"))
        inside_viewport(page, page.get_by_test_id("amount-due").get_by_role("link", name="Pay", exact=True))
        inside_viewport(page, page.get_by_test_id("pay"))
        for name in ("expenditure", "refund", "amount", "amount_due"):
            inside_viewport(page, page.locator(f"[data-testid=figures] [data-figure={name}] dd"))
        assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH
        if shots := os.environ.get("PARTNERCENTER_LAYOUT_SCREENSHOTS", ""):
            Path(shots).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(shots) / "partner-bills-en.png"))

    # -- the files: exactly the bills' figures ----------------------------------------------------
    assert Payment.objects.get().amount == PAID
    table = xlsx_rows(xlsx)
    header, body = table[0], table[1:]
    col = {h: i for i, h in enumerate(header)}
    assert [(r[col["Partner code"]], r[col["Billed month"]], r[col["Currency"]]) for r in body] == [
        ("sp-a", "2026-03", "USD"),
        ("sp-a", "2026-04", "USD"),
    ]
    march_row, april_row = body
    assert [Decimal(march_row[col[h]]) for h in ("Expenditures", "Refunds", "Adjustments", "Tax", "Bill amount")] == [
        MARCH_LEDGER["expenditure"],
        -MARCH_LEDGER["refund"],
        MARCH_LEDGER["adjustment"],
        MARCH_LEDGER["tax"],
        march_amount,
    ]
    assert march_row[col["Invoice number"]] == "PC-0000000001" and march_row[col["Line items"]] == "7"
    assert Decimal(april_row[col["Bill amount"]]) == april_amount and april_row[col["Invoice number"]] == ""
    assert Decimal(april_row[col["Adjustments"]]) == CORRECTION  # the late March charge

    text = details.decode("utf-8-sig")
    assert "张小明" not in text and "Acme Ltd" not in text  # customers are anonymized (X2)
    records = list(csv.DictReader(io.StringIO(text)))
    assert {r["Account ID"] for r in records} == SP_A_RESELLERS
    assert sum((Decimal(r["Amount"]) for r in records), Decimal(0)) == march_amount
    assert sum(int(r["Line items"]) for r in records) == march_bill.line_item_count == 7
    assert april_bill.amount == april_amount

    text = pdf_text(bill_pdf)  # the bill itself: figures rounded once, customers anonymized
    for wanted in ("2026-03", "197.13", "20.50", "-1.25", "3.25", "178.63", "云服务器", "Object Storage"):
        assert wanted in text, wanted
    assert "张小明" not in text and "Acme Ltd" not in text
