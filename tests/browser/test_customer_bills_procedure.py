"""Seed 004 "Customer Bill Management", end to end in a real browser, as a reseller's partner admin:
Customer Business › Customer Bills; a billing month and a customer; Bill by Instance / Bill
Details; the product, project and region filters; the table display fields for this session only
and with "Save selected" (each checked across a sign-out), ordered with the arrows and by
dragging; one customer's bill and All customer bills through the export history, and the files
themselves; Confirm Bill and Return Credit (a partial amount twice, a refused amount, the rest,
a batch of two bills); and the credit returned in the Adjustment Records. Every figure is checked
exactly (``data-exact``) against the ledger: the line items and the credit entries."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from partnercenter.core import clock
from partnercenter.customer_bills import services as svc
from partnercenter.customer_bills.downloads import COLUMNS
from partnercenter.customer_bills.models import CreditEntry, CustomerBill, TableSetting
from partnercenter.exports import services as export_services
from partnercenter.exports.models import ExportStatus, ExportTask
from partnercenter.partners import services as partner_services
from partnercenter.usage import resource_months
from partnercenter.usage.models import LineItem
from tests.browser.test_navigation import sign_in, sign_out
from tests.conftest import T0
from tests.test_customer_bills_pages import ingest, on, rec
from tests.test_customer_credit import close_march

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

D = Decimal
NOW = on(10, month=4)  # 2026-04-10 10:00 Shanghai: March's bills were issued on the 5th
MARCH_TEXT = "2026-03"
RECORDS = [
    rec("E1", "a1", "100.123456789012345", on(5)),  # ECS ins-1, project web, ap-shanghai
    rec("E2", "a1", "-20.5", on(6)),  # a refund on the same instance
    rec("T1", "a1", "3.25", on(7), charge_category="Tax"),
    rec("C1", "a1", "55.55", on(8), service_name="CDB", resource_id="cdb-1", resource_name="db-1",
        project="data", region_id="ap-guangzhou"),
    rec("X1", "a3", "40.4", on(9), resource_id="ins-3", resource_name="app-3", project="app",
        region_id="ap-guangzhou"),
    rec("X2", "a3", "9.6", on(10), service_name="CDB", resource_id="cdb-3", resource_name="db-3", project="data"),
    rec("Z1", "a4", "20.000000000000001", on(11), resource_id="ins-4", resource_name="web-4"),
    rec("R1", "a2", "999", on(12)),  # sp-a's referral customer: pays the cloud directly, never here
    rec("B1", "b1", "30", on(13)),  # sp-b's customer
    rec("A1", "a1", "11", on(1, 0, 0, 0, month=4)),  # April, the current month
]  # fmt: skip
TOTALS = {"a1": D("138.423456789012345"), "a3": D("50.0"), "a4": D("20.000000000000001")}
GRANTS = {"a1": "500", "a3": "100", "a4": "10"}
SENSITIVE = ["张小明", "Acme Ltd", "Zeta Ltd", "Alice Corp", "a1@example.com", "13800000000"]
DEFAULT_FIELDS = [
    "account_id", "customer_name", "product", "region", "resource_id", "billing_mode", "currency",
    "expenditure", "refund", "adjustment", "tax", "amount",
]  # fmt: skip

READ_TABLE = """t => {
  const keys = [...t.querySelectorAll('thead th')].map(th => th.dataset.col);
  const read = tr => Object.fromEntries([...tr.cells].map((c, i) =>
      [keys[i], c.dataset.exact !== undefined ? c.dataset.exact : c.textContent.trim()]));
  return {
    rows: [...t.querySelectorAll('tbody tr')].filter(tr => !tr.querySelector('td.empty')).map(read),
    totals: [...t.querySelectorAll('tfoot tr')].map(read),
  };
}"""


# ---- the ledger ---------------------------------------------------------------------------------


def setup_month(org) -> None:  # noqa: ANN001
    """March's line items, a fourth customer, credit granted, then the month's bills generated at
    the 5th of April (partner bills first, then customer bills: consumption entries)."""
    with clock.frozen_at(T0 - dt.timedelta(days=60)):
        org.customers["a4"] = partner_services.create_customer(
            account_id="a4", name="Zeta Ltd", email="a4@example.com", mobile="13800000000",
            partner_code="sp-a", association_type="reseller", valid_from=T0 - dt.timedelta(days=60),
        )  # fmt: skip
    ingest(RECORDS, on(2, month=4))
    admin = org.users["sp-a-admin"]
    with clock.frozen_at(on(3, month=4)):
        for account, amount in GRANTS.items():
            svc.grant_credit(
                actor=admin, partner=admin.partner, customer=org.customers[account], currency="USD", amount=amount
            )
    close_march()
    resource_months.clear_cache()
    bills = {b.customer.account_id: b.total for b in CustomerBill.objects.select_related("customer")}
    assert bills == {**TOTALS, "b1": D(30)}


def ledger(month: dt.date, **filters: Any) -> dict[tuple[str, str], D]:
    """Σ billed cost per (customer, resource) of sp-a's reseller line items: what the page shows."""
    out: dict[tuple[str, str], D] = defaultdict(D)
    start, end = clock.start_of_day(month), clock.start_of_day((month + dt.timedelta(days=32)).replace(day=1))
    qs = LineItem.objects.filter(
        partner__code="sp-a", association_type="reseller", charge_period_start__gte=start,
        charge_period_start__lt=end, **filters,
    )  # fmt: skip
    for li in qs.select_related("customer"):
        out[(li.customer.account_id, li.resource_id)] += li.billed_cost
    return dict(out)


# ---- the page -----------------------------------------------------------------------------------


def swap(page: Page, action: Any) -> None:
    """Do ``action`` and wait until htmx replaced the bills pane and settled it (htmx 2 wires the
    new content's triggers in its settle step: a change made before then would go unnoticed)."""
    page.evaluate("document.querySelector('[data-testid=bills-pane]').dataset.stale = '1'")
    action()
    expect(page.locator("[data-testid=bills-pane]:not([data-stale])")).to_have_count(1)
    expect(page.locator(".htmx-request, .htmx-swapping, .htmx-settling")).to_have_count(0)


def table(page: Page) -> dict[str, list[dict[str, str]]]:
    return page.locator("[data-testid=bill-table]").evaluate(READ_TABLE)


def headers(page: Page) -> list[str]:
    return page.locator("[data-testid=bill-table] thead th").evaluate_all("ths => ths.map(th => th.dataset.col)")


def by_resource(rows: list[dict[str, str]]) -> dict[tuple[str, str], D]:
    return {(r["account_id"], r["resource_id"]): D(r["amount"]) for r in rows}


def open_fields(page: Page) -> Any:
    page.locator("[data-testid=field-settings] > summary").click()
    form = page.get_by_test_id("field-form")
    expect(form).to_be_visible()
    return form


def listed(page: Page) -> list[str]:
    return page.locator("[data-testid=field-list] li").evaluate_all("lis => lis.map(li => li.dataset.key)")


def download(page: Page, row: Any) -> bytes:
    with page.expect_download(timeout=10_000) as info:
        row.get_by_test_id("download").click()
    return Path(info.value.path()).read_bytes()


def sign_in_again(page: Page) -> None:
    sign_out(page)
    sign_in(page, "sp-a-admin")
    page.goto(f"/customer-bills/?month={MARCH_TEXT}")


# ---- the walk -----------------------------------------------------------------------------------


def walk_month_customer_tabs_filters(page: Page) -> None:
    sign_in(page, "sp-a-admin")
    page.locator("nav.sidenav").get_by_role("link", name="Customer Bills", exact=True).click()
    expect(page.locator("h1")).to_have_text("Customer Bills")
    expect(page.get_by_test_id("notice")).to_contain_text("excluding your own usage")
    # The newest month first: April, the current month, up to the previous day (C1).
    expect(page.get_by_test_id("month")).to_have_value("2026-04")
    expect(page.get_by_test_id("status")).to_have_attribute("data-complete", "false")
    expect(page.get_by_test_id("status")).to_contain_text("Current data up to 2026-04-09 (the previous day)")
    assert by_resource(table(page)["rows"]) == {("a1", "ins-1"): D(11)}

    # -- a billing month -------------------------------------------------------------------------
    page.evaluate("window.__not_reloaded = true")
    swap(page, lambda: page.get_by_test_id("month").select_option(MARCH_TEXT))
    expect(page.get_by_test_id("status")).to_have_attribute("data-complete", "true")
    expect(page.get_by_test_id("status")).to_have_text("Complete bill of 2026-03 (issued on 2026-04-05).")
    march = ledger(dt.date(2026, 3, 1))
    found = table(page)
    assert by_resource(found["rows"]) == march and len(march) == 5
    expect(page.get_by_test_id("count")).to_have_text("5 instances")
    (total,) = found["totals"]
    assert D(total["amount"]) == sum(march.values()) == sum(TOTALS.values())
    ins1 = next(r for r in found["rows"] if r["resource_id"] == "ins-1")
    assert (D(ins1["expenditure"]), D(ins1["refund"]), D(ins1["tax"]), D(ins1["amount"])) == (
        D("100.123456789012345"), D("20.5"), D("3.25"), D("82.873456789012345"),
    )  # fmt: skip
    assert ins1["customer_name"] == "张*明"  # masked on screen
    expect(page.get_by_test_id("download-customer-disabled")).to_be_disabled()

    # -- a customer: the picker offers it (masked), Enter queries ----------------------------------
    customer = page.get_by_test_id("customer")
    customer.fill("a1")
    expect(page.locator("#customer-options option[value=a1]")).to_have_text("a1 · 张*明")
    swap(page, lambda: customer.press("Enter"))
    a1 = ledger(dt.date(2026, 3, 1), customer__account_id="a1")
    assert by_resource(table(page)["rows"]) == a1 and sum(a1.values()) == TOTALS["a1"]
    assert D(table(page)["totals"][0]["amount"]) == TOTALS["a1"]
    expect(page.get_by_test_id("download-customer")).to_be_visible()

    # -- Bill Details: the line items of a1's March ------------------------------------------------
    swap(page, lambda: page.locator("nav.tabs a[data-tab=details]").click())
    expect(page.locator("nav.tabs a.active")).to_have_text("Bill Details")
    details = table(page)
    assert sorted(D(r["billed_cost"]) for r in details["rows"]) == sorted(
        LineItem.objects.filter(customer__account_id="a1", x_line_id__in=["E1", "E2", "T1", "C1"]).values_list(
            "billed_cost", flat=True
        )
    )
    assert sum(D(r["billed_cost"]) for r in details["rows"]) == D(details["totals"][0]["billed_cost"]) == TOTALS["a1"]
    assert {r["account_id"] for r in details["rows"]} == {"a1"}
    swap(page, lambda: page.locator("nav.tabs a[data-tab=instance]").click())
    expect(page.locator("nav.tabs a.active")).to_have_text("Bill by Instance")
    assert "customer=a1" in page.url and "month=2026-03" in page.url

    # -- filters, all customers: product, then project, then region --------------------------------
    swap(page, lambda: (customer.fill(""), customer.press("Enter")))
    swap(page, lambda: page.get_by_test_id("product").select_option("CDB"))
    assert by_resource(table(page)["rows"]) == ledger(dt.date(2026, 3, 1), service_name="CDB") == {
        ("a1", "cdb-1"): D("55.55"), ("a3", "cdb-3"): D("9.6"),
    }  # fmt: skip
    swap(page, lambda: page.get_by_test_id("project").select_option("data"))
    assert len(table(page)["rows"]) == 2
    swap(page, lambda: page.get_by_test_id("region").select_option("ap-guangzhou"))
    found = table(page)
    assert by_resource(found["rows"]) == {("a1", "cdb-1"): D("55.55")}
    assert D(found["totals"][0]["amount"]) == D("55.55")
    assert "product=CDB" in page.url and "project=data" in page.url and "region=ap-guangzhou" in page.url
    for name in ("product", "project", "region"):
        swap(page, lambda name=name: page.get_by_test_id(name).select_option(""))
    assert len(table(page)["rows"]) == 5
    assert page.evaluate("window.__not_reloaded") is True  # every step above was htmx


def walk_display_fields(page: Page, org) -> None:  # noqa: ANN001
    """C3 on Bill by Instance: this session only, then saved; each checked across a sign-out."""
    assert headers(page) == DEFAULT_FIELDS
    form = open_fields(page)
    form.get_by_role("button", name="Move Amount up").click()
    form.get_by_role("button", name="Move Amount up").click()
    form.locator("li[data-key=tax] input[type=checkbox]").uncheck()
    form.locator("li[data-key=billing_mode] input[type=checkbox]").uncheck()
    expect(form.get_by_test_id("save-selected")).not_to_be_checked()
    swap(page, lambda: form.get_by_test_id("fields-ok").click())
    session_fields = [
        "account_id", "customer_name", "product", "region", "resource_id", "currency", "expenditure", "refund",
        "amount", "adjustment",
    ]  # fmt: skip
    assert headers(page) == session_fields
    assert by_resource(table(page)["rows"]) == ledger(dt.date(2026, 3, 1))  # the cells follow their headers
    page.reload()
    assert headers(page) == session_fields  # for the whole session…
    assert not TableSetting.objects.exists()
    sign_in_again(page)
    assert headers(page) == DEFAULT_FIELDS  # …and the defaults at the next sign-in

    # -- with "Save selected": project after product (arrows), the name first (dragged) ----------
    form = open_fields(page)
    form.locator("li[data-key=project] input[type=checkbox]").check()
    for _ in range(listed(page).index("project") - listed(page).index("product") - 1):
        form.get_by_role("button", name="Move Project up").click()
    # Drag the customer name above the account ID (both in view: the panel scrolls).
    page.locator(".field-panel").evaluate("panel => { panel.scrollTop = 0; }")
    page.locator("[data-testid=field-list] li[data-key=customer_name]").drag_to(
        page.locator("[data-testid=field-list] li[data-key=account_id]"), target_position={"x": 40, "y": 3}
    )
    saved = ["customer_name", "account_id", "product", "project", "region", "resource_id", "billing_mode",
             "currency", "expenditure", "refund", "adjustment", "tax", "amount"]  # fmt: skip
    assert listed(page)[: len(saved)] == saved
    form.get_by_test_id("save-selected").check()
    swap(page, lambda: form.get_by_test_id("fields-ok").click())
    assert headers(page) == saved
    assert TableSetting.objects.get(user=org.users["sp-a-admin"], table="bill_by_instance").fields == saved
    sign_in_again(page)
    assert headers(page) == saved  # kept across sessions, in its order
    open_fields(page)
    expect(page.get_by_test_id("save-selected")).to_be_checked()
    page.locator("[data-testid=field-settings] > summary").click()
    rows = table(page)["rows"]
    assert {(r["account_id"], r["resource_id"]): r["project"] for r in rows}[("a3", "ins-3")] == "app"
    assert by_resource(rows) == ledger(dt.date(2026, 3, 1))


def walk_downloads(page: Page) -> tuple[bytes, bytes]:
    """C4: the selected customer's bill, then All customer bills; the tasks run as the worker does;
    the export history shows them finishing (it polls) and downloads the files."""
    swap(page, lambda: page.get_by_test_id("product").select_option("ECS"))  # filters do not matter
    customer = page.get_by_test_id("customer")
    customer.fill("a1")
    swap(page, lambda: customer.press("Enter"))
    page.get_by_test_id("download-customer").get_by_role("button", name="Download").click()
    expect(page.locator(".messages .success")).to_have_text("Export task created")
    expect(page.get_by_test_id("customer")).to_have_value("a1")
    page.get_by_test_id("download-all").get_by_role("button", name="All customer bills").click()
    expect(page.locator(".messages .success")).to_have_text("Export task created")
    tasks = {t.kind: t for t in ExportTask.objects.all()}
    assert set(tasks) == {"customer_bill", "customer_bills_all"}
    assert tasks["customer_bill"].params == {"customer": "a1", "month": MARCH_TEXT}
    assert tasks["customer_bills_all"].params == {"month": MARCH_TEXT}

    page.get_by_test_id("export-history").click()
    expect(page.locator("h1")).to_have_text("Export History")
    one, every = page.locator("tr[data-kind=customer_bill]"), page.locator("tr[data-kind=customer_bills_all]")
    expect(one).to_have_attribute("data-status", "queued")
    for task in ExportTask.objects.filter(status=ExportStatus.QUEUED):  # the worker's job, run here
        export_services.run_export(str(task.pk))
    expect(one).to_have_attribute("data-status", "succeeded", timeout=15_000)  # the page polls every 3 s
    expect(every).to_have_attribute("data-status", "succeeded", timeout=15_000)
    return download(page, one), download(page, every)


def check_file(data: bytes, accounts: set[str]) -> None:
    """All fields, every line item of the month (whatever the screen showed), exact, anonymized."""
    text = data.decode("utf-8-sig")
    for value in SENSITIVE:
        assert value not in text, value
    records = list(csv.DictReader(io.StringIO(text)))
    assert list(records[0]) == [str(c.header) for c in COLUMNS]
    assert {r["Account ID"] for r in records} == accounts
    march = LineItem.objects.filter(
        partner__code="sp-a", association_type="reseller", customer__account_id__in=accounts,
        charge_period_start__lt=clock.start_of_day(dt.date(2026, 4, 1)),
    )  # fmt: skip
    assert sorted(r["Line ID"] for r in records) == sorted(march.values_list("x_line_id", flat=True))
    sums: dict[str, D] = defaultdict(D)
    for r in records:
        sums[r["Account ID"]] += D(r["Billed cost"])
        assert re.fullmatch(r"customer-[0-9a-f]{12}", r["Customer"]), r["Customer"]
    assert dict(sums) == {a: TOTALS[a] for a in accounts}
    assert {r["Product"] for r in records} == {"ECS", "CDB"}  # the screen was filtered to ECS


def confirm_one(page: Page, bill: CustomerBill, amount: str | None) -> None:
    row = page.locator(f"tr[data-bill='{bill.pk}']")
    row.get_by_role("link", name="Confirm").click()
    expect(page.get_by_test_id("confirm-form")).to_be_visible()
    if amount is not None:
        page.check("input[name=mode][value=partial]")
        page.fill("#confirm-amount", amount)
    page.get_by_test_id("confirm-submit").click()


def exact(page: Page, bill: CustomerBill, what: str) -> D:
    return D(page.locator(f"tr[data-bill='{bill.pk}'] [data-testid={what}]").get_attribute("data-exact") or "x")


def walk_confirmation(page: Page) -> None:
    """C5: from the Customer Bills page (month and customer carried) to the confirmation page."""
    page.goto(f"/customer-bills/?month={MARCH_TEXT}&customer=a1")
    page.get_by_test_id("confirm-bills").click()
    expect(page.locator("h1")).to_have_text("Confirm Bill and Return Credit")
    expect(page.locator("#confirm-month")).to_have_value(MARCH_TEXT)
    expect(page.locator("#confirm-customer")).to_have_value("a1")
    a1, a3, a4 = (CustomerBill.objects.get(customer__account_id=a, month=dt.date(2026, 3, 1)) for a in TOTALS)
    expect(page.locator("#bills-to-confirm tr[data-bill]")).to_have_count(1)
    assert exact(page, a1, "total") == exact(page, a1, "remaining") == TOTALS["a1"]

    for amount, left in (("30.25", "108.173456789012345"), ("70", "38.173456789012345")):
        confirm_one(page, a1, amount)
        expect(page.locator(".messages .success")).to_contain_text(f"Confirmed {D(amount):.2f} USD")
        assert exact(page, a1, "remaining") == D(left)
        assert exact(page, a1, "confirmed") == TOTALS["a1"] - D(left)
    confirm_one(page, a1, "38.18")  # more than remains: refused, nothing changes
    expect(page.get_by_test_id("confirm-error")).to_contain_text("more than the amount to be confirmed (38.17 USD)")
    assert exact(page, a1, "remaining") == D("38.173456789012345")
    page.goto(f"/customer-bills/confirm/?month={MARCH_TEXT}&customer=a1")
    page.locator(f"tr[data-bill='{a1.pk}']").get_by_role("link", name="Confirm").click()
    expect(page.get_by_test_id("form-remaining")).to_have_attribute("data-exact", "38.173456789012345")
    page.get_by_test_id("confirm-submit").click()  # the total amount to be confirmed
    expect(page.locator(".messages .success")).to_contain_text("Confirmed 38.17 USD")
    assert exact(page, a1, "remaining") == 0 and exact(page, a1, "confirmed") == TOTALS["a1"]
    expect(page.locator(f"tr[data-bill='{a1.pk}'] input[name=bills]")).to_have_count(0)

    # -- batch: all customers of the month, two bills selected ---------------------------------
    page.fill("#confirm-customer", "")
    page.locator("#confirm-query button[type=submit]").click()
    expect(page.locator("#bills-to-confirm tr[data-bill]")).to_have_count(3)
    page.check(f"input[name=bills][value='{a3.pk}']")
    page.check(f"input[name=bills][value='{a4.pk}']")
    page.get_by_test_id("batch-confirm").click()
    expect(page.locator(".messages .success")).to_contain_text("Confirmed 2 bill(s) in full")
    for bill in (a3, a4):
        assert exact(page, bill, "remaining") == 0
        assert exact(page, bill, "confirmed") == TOTALS[bill.customer.account_id]
    expect(page.get_by_test_id("batch-confirm")).to_have_count(0)  # nothing left to confirm


def walk_adjustment_records(page: Page) -> None:
    """The credit returned: Sales › Customers › Customer Management › Adjustment Records."""
    page.locator("nav.sidenav").get_by_role("link", name="Customer Management", exact=True).click()
    page.get_by_test_id("adjustment-records-link").click()
    expect(page.locator("h1")).to_have_text("Adjustment Records")
    page.select_option("#adj-kind", "confirmation")
    page.locator("#adjustment-search button[type=submit]").click()
    rows = page.locator("#adjustment-records tbody tr[data-kind=confirmation]")
    expect(rows).to_have_count(5)
    shown = rows.evaluate_all(
        """trs => trs.map(tr => [tr.dataset.customer,
             ...['amount', 'available_before', 'available_after'].map(c => tr.querySelector(`[data-col=${c}]`).dataset.exact)])"""
    )
    entries = CreditEntry.objects.filter(kind="confirmation").order_by("-created_at", "-pk").select_related("customer")
    assert [[a, D(x), D(b), D(c)] for a, x, b, c in shown] == [
        [e.customer.account_id, e.amount, e.available_before, e.available_after] for e in entries
    ]
    assert sorted((a, D(x), D(b), D(c)) for a, x, b, c in shown) == [
        ("a1", D("30.25"), D("361.576543210987655"), D("391.826543210987655")),
        ("a1", D("38.173456789012345"), D("461.826543210987655"), D("500")),
        ("a1", D("70"), D("391.826543210987655"), D("461.826543210987655")),
        ("a3", D("50.0"), D("50.0"), D("100")),
        ("a4", D("20.000000000000001"), D("-10.000000000000001"), D("10")),
    ]
    # The whole account of a1: granted 500, consumed the bill, every confirmation returned.
    page.goto("/customer-bills/adjustments/?customer=a1")
    kinds = page.locator("#adjustment-records tbody tr").evaluate_all("trs => trs.map(tr => tr.dataset.kind)")
    assert kinds == ["confirmation", "confirmation", "confirmation", "consumption", "grant"]
    last = page.locator("#adjustment-records tbody tr").first.locator("[data-col=available_after]")
    expect(last).to_have_attribute("data-exact", "500")
    expect(last).to_have_text("500.00")
    for account, grant in GRANTS.items():  # the ledger agrees: available = limit − used = the grant
        last_entry = CreditEntry.objects.filter(customer__account_id=account).order_by("-pk").first()
        assert last_entry is not None and last_entry.available_after == D(grant)


def test_seed_004_customer_bill_management(page: Page, org, live_server, settings, tmp_path) -> None:  # noqa: ANN001
    settings.VAR_DIR = tmp_path
    setup_month(org)
    try:
        with clock.frozen_at(NOW):
            walk_month_customer_tabs_filters(page)
            walk_display_fields(page, org)
            one, every = walk_downloads(page)
            check_file(one, {"a1"})
            check_file(every, {"a1", "a3", "a4"})
            walk_confirmation(page)
            walk_adjustment_records(page)
    finally:
        resource_months.clear_cache()
