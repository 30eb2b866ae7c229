"""The dashboard in a real browser at 1366×768, in English and 简体中文: each panel's figure is
exactly what the page it links to shows — the month's expenditure on Customer Expenditure, the
amount due on Unpaid Bills, the incentives awaiting confirmation on the filtered Summary, the
export tasks in progress on Export History, the open requests on Payment Contracts."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import Page, expect

from partnercenter.alerts.models import CustomerAlert
from partnercenter.contracts import services as contracts
from partnercenter.core import clock
from partnercenter.exports.models import ExportTask
from tests.browser.test_layout_1366 import HEIGHT, WIDTH, overflow
from tests.browser.test_navigation import sign_in
from tests.incentive_fixtures import make_incentives
from tests.test_billing_close import MARCH_RECORDS, ingest, on
from tests.test_billing_payments import make_bill

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
NOW = on(20)
WAIT = 10_000


def make_data(org) -> None:
    with clock.frozen_at(dt.datetime(2026, 2, 10, tzinfo=dt.UTC)):
        make_incentives(org)
    ingest(MARCH_RECORDS, NOW)
    make_bill(org.partners["sp-a"], "2026-02", "987.65")
    admin = org.users["sp-a-admin"]
    for status in ("queued", "running", "succeeded"):
        ExportTask.objects.create(
            created_by=admin,
            partner=admin.partner,
            kind="expenditure_summary",
            format="xlsx",
            status=status,
            file_name=f"summary-{status}.xlsx",
            storage_path="",
            created_at=NOW - dt.timedelta(minutes=1),
            heartbeat_at=NOW - dt.timedelta(seconds=5),
            request_fingerprint=status,
        )
    with clock.frozen_at(NOW):
        finance = org.users["sp-a-finance"]
        for amount in ("100", "200", "300"):
            contracts.request_contract(actor=finance, amount=amount, currency="CNY", purpose="Q1")
        contracts.start_processing(actor=org.users["op"], number="PC-202603-000002")
        contracts.reject(actor=org.users["op"], number="PC-202603-000003", reason="duplicate")
    for day, handled in ((17, None), (18, None), (19, NOW)):
        CustomerAlert.objects.create(
            partner=org.partners["sp-a"],
            customer=org.customers["a1"],
            rule="spend_spike",
            currency="USD",
            figures={
                "day": f"2026-03-{day}",
                "spend": "500",
                "previous_total": "280",
                "previous_average": "20.00",
                "factor": "3",
                "floor": "100",
            },
            condition_key=f"spike:sp-a:a1:USD:2026-03-{day}",
            raised_at=on(day + 1, 0, 5),
            handled_at=handled,
            handled_by=org.users["sp-a-admin"] if handled else None,
            note="called the customer" if handled else "",
        )


def text(page: Page, selector: str) -> str:
    return " ".join(page.locator(selector).first.inner_text().split())


def follow(page: Page, panel: str) -> None:
    page.goto("/")
    page.get_by_test_id(f"panel-{panel}").get_by_test_id("panel-link").click()
    expect(page.locator("h1")).to_be_visible()


def _check_panels(page: Page) -> None:
    page.goto("/")
    assert overflow(page, ["[data-testid=dashboard-panels] .panel"]) == []
    expect(page.get_by_test_id("expenditure-figure")).to_be_in_viewport()
    figures = {
        name: text(page, f"[data-testid={name}-figure]")
        for name in ("expenditure", "amount-due", "incentives", "alerts", "exports", "contracts")
    }
    assert figures["expenditure"] == "1,149.12 USD"
    assert figures["amount-due"] == "987.65 CNY"
    assert figures["exports"] == "2"
    assert figures["contracts"] == "2"
    assert figures["alerts"] == "2"

    follow(page, "expenditure")
    totals = "[data-testid=totals] dl[data-currency=USD] [data-total=expenditure] dd"
    expect(page.locator(totals)).to_be_visible()
    assert text(page, totals) == figures["expenditure"]

    follow(page, "amount-due")
    assert text(page, "#unpaid-bills tfoot th[data-total-currency=CNY]") + " CNY" == figures["amount-due"]

    follow(page, "incentives")
    assert "state=pending_confirmation" in page.url
    assert text(page, "[data-testid=pager] span") == figures["incentives"]

    follow(page, "alerts")
    assert text(page, "[data-testid=open-count]") == figures["alerts"]
    expect(page.get_by_test_id("alerts-table").locator("tbody tr")).to_have_count(int(figures["alerts"]))

    follow(page, "exports")
    active = page.locator("tr[data-status=queued], tr[data-status=running]")
    expect(active).to_have_count(int(figures["exports"]))

    follow(page, "contracts")
    open_ = page.locator(
        "[data-testid=contracts] td[data-state=requested], [data-testid=contracts] td[data-state=processing]"
    )
    expect(open_).to_have_count(int(figures["contracts"]))


def test_each_panel_shows_what_its_page_shows(chromium, org, live_server) -> None:  # noqa: ANN001
    make_data(org)
    context = chromium.new_context(
        base_url=live_server.url, locale="en-US", viewport={"width": WIDTH, "height": HEIGHT}
    )
    context.set_default_timeout(WAIT)
    page = context.new_page()
    try:
        with clock.frozen_at(NOW):
            sign_in(page, "sp-a-admin")
            for lang in ("en", "zh-hans"):
                page.locator(f"form.lang-switch button[value='{lang}']").click()
                expect(page.locator("html")).to_have_attribute("lang", lang)
                _check_panels(page)
            page.locator("form.lang-switch button[value='en']").click()
    finally:
        context.close()
