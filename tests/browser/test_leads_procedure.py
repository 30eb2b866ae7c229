"""Seed 002 线索派发, end to end in a real browser at 1366×768: the partner's admin batch-dispatches
two leads to an account manager and batch-recalls one; the account manager signs in, sees only
the other among "My leads" with its contact data masked, and updates its status; the history
shows who did what to whom. The page also fits in Simplified Chinese."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from partnercenter.leads.models import Lead
from tests.browser.test_layout_1366 import HEIGHT, WIDTH, overflow
from tests.browser.test_navigation import sign_in, sign_out
from tests.lead_fixtures import leads  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def check(page: Page, lead: Lead) -> None:
    page.locator(f'tr[data-lead="{lead.number}"] input[name="leads"]').check()


def fits(page: Page, selectors: list[str]) -> None:
    assert overflow(page, selectors) == []
    for selector in selectors:
        box = page.locator(selector).first.bounding_box()
        assert box is not None and box["y"] + box["height"] <= HEIGHT, selector


def test_batch_dispatch_recall_and_staff_status(chromium, live_server, org, leads) -> None:  # noqa: ANN001, F811
    context = chromium.new_context(
        base_url=live_server.url, locale="en-US", viewport={"width": WIDTH, "height": HEIGHT}
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    acme, cedar = leads["Acme Trading"], leads["Cedar Logistics"]
    try:
        sign_in(page, "sp-a-admin")
        page.goto("/leads/")
        expect(page.locator("h1")).to_have_text("Lead Dispatch")
        fits(page, ['[data-testid="batch-dispatch"]', '[data-testid="batch-recall"]', "#lead-assignee", "#lead-q"])
        fits(page, ["#leads td.operations button"])
        expect(page.locator('tr[data-lead] [data-testid="contact"]').first).to_have_text("王*明")
        check(page, acme)
        check(page, cedar)
        page.select_option("#lead-assignee", "sp-a-account_manager")
        page.get_by_test_id("batch-dispatch").click()
        expect(page.locator(".messages")).to_contain_text("Dispatched 2 lead(s) to sp-a-account_manager.")
        assert set(Lead.objects.filter(assignee__username="sp-a-account_manager").values_list("pk", flat=True)) == {
            acme.pk,
            cedar.pk,
        }
        check(page, cedar)
        page.get_by_test_id("batch-recall").click()
        expect(page.locator(".messages")).to_contain_text("Recalled 1 lead(s).")
        expect(page.locator(f'tr[data-lead="{acme.number}"] [data-testid="assignee"]')).to_have_text(
            "sp-a-account_manager"
        )
        expect(page.locator(f'tr[data-lead="{cedar.number}"] [data-testid="assignee"]')).to_have_text("—")
        sign_out(page)

        sign_in(page, "sp-a-account_manager")
        page.goto("/leads/")
        expect(page.get_by_role("heading", name="My leads")).to_be_visible()
        expect(page.locator("#leads tbody tr[data-lead]")).to_have_count(1)
        row = page.locator(f'tr[data-lead="{acme.number}"]')
        expect(row.get_by_test_id("phone")).to_have_text("139****5678")
        fits(page, ["#leads td.operations button", "#leads td.operations select"])
        row.locator("select").select_option("contacting")
        page.fill("#lead-note", "Called, demo next week")
        row.get_by_role("button", name="Update").click()
        expect(page.locator(".messages")).to_contain_text(f"{acme.number} is now Contacting.")
        expect(page.locator(f'tr[data-lead="{acme.number}"] [data-testid="status"]')).to_have_text("Contacting")
        page.locator(f'tr[data-lead="{acme.number}"]').get_by_role("link", name="History").click()
        history = page.get_by_test_id("lead-history")
        expect(history.locator("tbody tr")).to_have_count(3)
        expect(history.locator('tr[data-kind="dispatched"]')).to_contain_text("sp-a-account_manager")
        expect(history.locator('tr[data-kind="status_changed"]')).to_contain_text("Called, demo next week")
        acme.refresh_from_db()
        assert (acme.status, acme.assignee.username) == ("contacting", "sp-a-account_manager")
    finally:
        context.close()


def test_page_fits_in_simplified_chinese(chromium, live_server, org, leads) -> None:  # noqa: ANN001, F811
    context = chromium.new_context(
        base_url=live_server.url, locale="zh-CN", viewport={"width": WIDTH, "height": HEIGHT}
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        sign_in(page, "sp-a-admin")
        page.goto("/leads/")
        expect(page.locator("h1")).to_have_text("线索派发")
        expect(page.get_by_test_id("batch-dispatch")).to_have_text("派发")
        fits(page, ['[data-testid="batch-dispatch"]', '[data-testid="batch-recall"]', "#leads td.operations button"])
    finally:
        context.close()
