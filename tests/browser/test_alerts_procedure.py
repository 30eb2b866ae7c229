"""Customer alerts (O3) in a real browser at 1366×768, as a reseller's partner admin: Sales ›
Customers › Customer Alerts; the open alerts raised by the catch-up, filtered by rule; View shows
an unpaid bill's figures exactly; Handle with a note (htmx dialog, CSRF); the alert leaves the Open
tab and appears in History with its note; in Simplified Chinese too."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import Page, expect

from partnercenter.alerts import services as svc
from partnercenter.alerts.models import CustomerAlert
from partnercenter.core import clock
from tests.browser.test_navigation import sign_in
from tests.test_billing_close import DUE, ingest, on
from tests.test_customer_confirm import RECORDS
from tests.test_customer_credit import close_march

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RAISED = DUE + dt.timedelta(days=16)  # 2026-04-21 00:00 Shanghai
NOW = RAISED + dt.timedelta(hours=9)
WIDTH, HEIGHT = 1366, 768

FITS = """() => {
  const vw = document.documentElement.clientWidth;
  const cells = [...document.querySelectorAll('#customer-alerts td.operations, #customer-alerts td[data-testid=summary]')];
  return {vw, page: document.documentElement.scrollWidth,
          right: Math.max(0, ...cells.map(c => c.getBoundingClientRect().right))};
}"""


def setup_alerts(org) -> None:  # noqa: ANN001
    ingest(RECORDS, on(2, month=4))
    close_march(DUE)
    ingest([{**RECORDS[0], "line_id": "SPIKE", "billed_cost": "500",
             "charge_period_start": "2026-04-19T04:00:00Z", "charge_period_end": "2026-04-19T04:00:01Z"}],
           on(20, month=4))  # fmt: skip
    assert svc.raise_due(RAISED) == 6  # 5 unpaid bills and a1's spike on the 19th


def fits(page: Page) -> None:
    box = page.evaluate(FITS)
    assert box["page"] <= WIDTH and box["right"] <= box["vw"], box


def test_view_handle_and_find_in_history(page: Page, org, live_server) -> None:  # noqa: ANN001
    setup_alerts(org)
    a1 = CustomerAlert.objects.get(customer__account_id="a1", rule="unpaid_bill")
    with clock.frozen_at(NOW):
        page.set_viewport_size({"width": WIDTH, "height": HEIGHT})
        sign_in(page, "sp-a-admin")
        page.locator("nav.sidenav").get_by_role("link", name="Customer Alerts", exact=True).click()
        expect(page.locator("h1")).to_have_text("Customer Alerts")
        expect(page.get_by_test_id("open-count")).to_have_text("3")
        expect(page.locator("#customer-alerts tbody tr[data-alert]")).to_have_count(3)
        fits(page)

        page.select_option("#alert-rule", "unpaid_bill")
        page.get_by_role("button", name="Query").click()
        rows = page.locator("#customer-alerts tbody tr[data-alert]")
        expect(rows).to_have_count(2)
        row = page.locator(f"#customer-alerts tr[data-alert='{a1.pk}']")
        expect(row.get_by_test_id("summary")).to_have_text("100.50 USD of the 2026-03 bill to be confirmed")

        row.get_by_test_id("view").click()
        view = page.get_by_test_id("alert-view")
        expect(view.locator("[data-figure=remaining]")).to_have_attribute("data-exact", "100.5")
        expect(view.locator("[data-figure=remaining]")).to_have_text("100.50 USD")
        expect(view.locator("[data-figure=total]")).to_have_text("100.50 USD")
        expect(view.locator("[data-figure=generated_at]")).to_have_text("2026-04-05 00:00")
        expect(view.get_by_test_id("raised-at")).to_have_text("2026-04-21 00:00")
        expect(view.get_by_test_id("view-handle")).to_be_in_viewport()

        view.get_by_test_id("view-handle").click()
        dialog = page.get_by_test_id("handle-dialog")
        expect(dialog.get_by_test_id("handle-note")).to_be_visible()
        expect(dialog.get_by_test_id("handle-ok")).to_be_in_viewport()
        dialog.get_by_test_id("handle-note").fill("Customer pays by transfer on Friday")
        dialog.get_by_test_id("handle-ok").click()

        expect(page.locator("ul.messages")).to_contain_text("The alert was handled; it is listed under History.")
        expect(page.get_by_test_id("open-count")).to_have_text("2")
        expect(page.locator(f"#customer-alerts tr[data-alert='{a1.pk}']")).to_have_count(0)
        expect(rows).to_have_count(1)  # the rule filter is kept

        page.get_by_test_id("tab-history").click()
        handled = page.locator(f"#customer-alerts tr[data-alert='{a1.pk}']")
        expect(handled.get_by_test_id("note")).to_have_text("Customer pays by transfer on Friday")
        expect(handled.get_by_test_id("handled-at")).to_have_text("2026-04-21 09:00")
        expect(handled).to_contain_text("sp-a-admin")
        fits(page)

        handled.get_by_test_id("view").click()
        expect(page.get_by_test_id("view-note")).to_have_text("Customer pays by transfer on Friday")
        expect(page.get_by_test_id("view-handle")).to_have_count(0)

        page.locator("form.lang-switch button[lang=zh-hans]").click()
        expect(page.locator("h1")).to_have_text("客户预警")
        expect(page.get_by_test_id("tab-history")).to_have_text("历史记录")
        fits(page)

    a1.refresh_from_db()
    assert (a1.note, a1.handled_by.username, a1.handled_at) == (
        "Customer pays by transfer on Friday",
        "sp-a-admin",
        NOW,
    )
