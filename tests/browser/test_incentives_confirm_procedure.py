"""Seed 003 "Confirming Incentive Earnings" and "Viewing Incentive Earning Details" in a browser,
in English and 简体中文, at 1366×768: Sales › Incentives › Incentive Management › Confirm
Incentives › Summary; search Pending confirmation; Confirm Bill; the dialog's figures; OK; the
message and Issuing for every incentive of the period; an incentive's status, policy and
calculation with exact figures."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import Page, expect

from partnercenter.core import clock
from partnercenter.incentives.models import Incentive, State
from tests.browser.test_layout_1366 import HEIGHT, WIDTH, overflow, sign_in
from tests.browser.test_navigation import sign_out
from tests.incentive_fixtures import make_incentives

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
NOW = dt.datetime(2026, 2, 10, 4, 0, tzinfo=dt.UTC)  # inside January's confirmation window


def cells(page: Page, selector: str) -> list[list[str]]:
    rows = page.locator(selector)
    return [[c.strip() for c in rows.nth(i).locator("td").all_inner_texts()] for i in range(rows.count())]


def summary_status(page: Page) -> dict[str, str]:
    rows = page.locator("#incentive-summary tbody tr[data-number]")
    return {
        rows.nth(i).get_attribute("data-number"): rows.nth(i).get_by_test_id("status").inner_text().strip()
        for i in range(rows.count())
    }


def open_summary(page: Page, pending_label: str, search_label: str) -> None:
    page.locator("nav.sidenav a[data-menu=incentive_management]").click()
    expect(page.locator("nav.tabs a[data-tab=summary]")).to_have_attribute("aria-current", "page")
    page.locator("#f-state").select_option(label=pending_label)
    page.get_by_role("button", name=search_label).click()
    expect(page.locator("#f-state")).to_have_value("pending_confirmation")


def fits(page: Page) -> list[str]:
    return overflow(page, ["#incentive-summary td.num", "[data-testid=confirm-bill]"])


def confirm_first(page: Page) -> list[list[str]]:
    page.get_by_test_id("confirm-bill").first.click()
    dialog = page.get_by_test_id("confirm-dialog")
    expect(dialog).to_be_visible()
    assert "/confirm/" not in page.url  # htmx opened it over the Summary
    expect(dialog.get_by_test_id("confirm-ok")).to_be_in_viewport()
    return cells(page, "[data-testid=confirm-items] tbody tr")


def test_seed_003_confirm_and_view_incentive_earnings(chromium, org, live_server) -> None:
    context = chromium.new_context(
        base_url=live_server.url, locale="en-US", viewport={"width": WIDTH, "height": HEIGHT}
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    with clock.frozen_at(NOW):
        make_incentives(org)
        try:
            english(page)
            sign_out(page)
            chinese(page)
        finally:
            context.close()


def english(page: Page) -> None:
    sign_in(page, "sp-a-finance")
    open_summary(page, "Pending confirmation", "Query")
    expect(page.locator(".breadcrumb")).to_contain_text(
        "Sales › Incentives › Incentive Management › Confirm Incentives"
    )
    assert summary_status(page) == {
        "INC-202601-000001": "Pending confirmation",
        "INC-202601-000002": "Pending confirmation",
    }
    assert fits(page) == []
    assert confirm_first(page) == [
        ["2026-01", "Cloud Growth Incentive", "Reseller", "27.00 USD"],
        ["2026-01", "Marketplace Boost", "Reseller", "5.01 USD"],
    ]
    page.get_by_test_id("confirm-ok").click()
    expect(page.locator(".messages")).to_have_text("Incentive reconciliation succeeded")
    status = summary_status(page)
    assert (status["INC-202601-000001"], status["INC-202601-000002"]) == ("Issuing", "Issuing")
    assert [Incentive.objects.get(number=n).state for n in ("INC-202601-000001", "INC-202601-000002")] == [
        State.ISSUING,
        State.ISSUING,
    ]
    # Viewing Incentive Earning Details: click an incentive ID.
    page.get_by_role("link", name="INC-202601-000001").click()
    expect(page.get_by_test_id("incentive-number")).to_have_text("Incentive INC-202601-000001")
    expect(page.get_by_test_id("status-panel").get_by_test_id("status")).to_have_text("Issuing")
    expect(page.get_by_test_id("status-panel").get_by_test_id("amount")).to_have_text("27.00 USD")
    expect(page.get_by_test_id("program")).to_have_text("Cloud Growth Incentive")
    expect(page.get_by_test_id("description")).to_have_text(
        "Cloud Growth Incentive: a share of eligible reseller expenditure."
    )
    assert cells(page, "[data-testid=rates] tbody tr") == [
        ["Every product type", "0.00 USD", "3 %"],
        ["Every product type", "1,000.00 USD", "5 %"],
    ]
    assert cells(page, "[data-testid=calculation] tbody tr") == [
        ["a1 · 张*明", "CS2601000001", "Compute", "800.125", "3 %", "24.00"],
        ["a3 · A****d", "CS2601000002", "Storage", "99.995", "3 %", "3.00"],
    ]
    expect(page.get_by_test_id("calculation").get_by_test_id("total")).to_have_text("27.00 USD")
    expect(page.get_by_test_id("calculation").get_by_test_id("total")).to_be_in_viewport()
    history = cells(page, "[data-testid=history] tbody tr")
    assert [row[1:] for row in history] == [
        ["—", "Pending confirmation", "System", ""],
        ["Pending confirmation", "Issuing", "sp-a-finance", "Confirmed by the partner"],
    ]
    assert overflow(page, ["[data-testid=calculation] td.num"]) == []


def chinese(page: Page) -> None:
    sign_in(page, "sp-b-finance")
    page.locator("form.lang-switch button[value='zh-hans']").click()
    open_summary(page, "待确认", "查询")
    expect(page.locator(".breadcrumb")).to_contain_text("销售 › 激励 › 激励管理 › 确认激励")
    assert summary_status(page) == {"INC-202601-000003": "待确认"}
    assert fits(page) == []
    assert confirm_first(page) == [["2026-01", "Cloud Growth Incentive", "代售", "9.00 USD"]]
    page.get_by_test_id("confirm-ok").click()
    expect(page.locator(".messages")).to_have_text("激励对账成功")
    assert summary_status(page) == {"INC-202601-000003": "发放中"}
    page.get_by_role("link", name="INC-202601-000003").click()
    expect(page.get_by_test_id("status-panel").get_by_test_id("status")).to_have_text("发放中")
    assert cells(page, "[data-testid=calculation] tbody tr") == [
        ["b1 · B****o", "CS2601000004", "Compute", "300", "3 %", "9.00"]
    ]
    expect(page.get_by_test_id("calculation").get_by_test_id("total")).to_have_text("9.00 USD")
    assert overflow(page, ["[data-testid=calculation] td.num", "[data-testid=rates] td.num"]) == []
    page.locator("form.lang-switch button[value='en']").click()
