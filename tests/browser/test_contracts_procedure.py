"""Payment contracts (请款合同, O6) in a real browser at 1366×768: a partner's finance user
requests a contract, the platform operator starts processing and issues it with its terms, the
partner sees it issued with its history and downloads the PDF; in English and 简体中文."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import Page, expect

from partnercenter.contracts.models import PaymentContract
from partnercenter.core import clock
from tests.browser.test_layout_1366 import HEIGHT, WIDTH, overflow
from tests.browser.test_navigation import sign_in, sign_out
from tests.test_billing_pdf import pdf_text

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
NOW = dt.datetime(2026, 3, 10, 4, 0, tzinfo=dt.UTC)
WAIT = 10_000


def _request(page: Page) -> str:
    page.goto("/payment-contracts/")
    expect(page.locator("h1")).to_have_text("Payment Contracts")
    page.fill("#pc-amount", "12345.60")
    page.fill("#pc-purpose", "2026 年一季度服务费")
    page.get_by_test_id("request-submit").click()
    expect(page.get_by_test_id("contract").get_by_test_id("state")).to_have_attribute("data-state", "requested")
    number = PaymentContract.objects.get().number
    assert number == "PC-202603-000001"
    expect(page.get_by_test_id("amount")).to_have_text("12,345.60 CNY")
    return number


def _issue(page: Page, number: str) -> None:
    page.goto("/payment-contracts/")
    row = page.locator(f"tr[data-number='{number}']")
    expect(row.get_by_test_id("state")).to_have_text("Requested")
    row.get_by_role("link", name=number).click()
    page.get_by_test_id("start-processing").click()
    expect(page.get_by_test_id("contract").get_by_test_id("state")).to_have_text("Processing")
    page.fill("#pc-terms", "Payable within 30 days of issue.")
    assert overflow(page, ["[data-testid=issue]", "[data-testid=reject]", "[data-testid=amount]"]) == []
    page.get_by_test_id("issue").click()
    expect(page.get_by_test_id("contract").get_by_test_id("state")).to_have_text("Issued")


def test_a_partner_requests_the_operator_issues_the_partner_downloads(chromium, org, live_server) -> None:  # noqa: ANN001
    org.partners["sp-a"].name = "蓝天云科技有限公司"
    org.partners["sp-a"].save(update_fields=["name"])
    context = chromium.new_context(
        base_url=live_server.url, locale="en-US", viewport={"width": WIDTH, "height": HEIGHT}
    )
    context.set_default_timeout(WAIT)
    page = context.new_page()
    try:
        with clock.frozen_at(NOW):
            sign_in(page, "sp-a-finance")
            number = _request(page)
            sign_out(page)
            sign_in(page, "op")
            _issue(page, number)
            sign_out(page)
            sign_in(page, "sp-a-finance")
            page.goto(f"/payment-contracts/{number}/")
            history = page.get_by_test_id("history").locator("tbody tr")
            expect(history).to_have_count(3)
            expect(history.nth(2)).to_contain_text("Payable within 30 days of issue.")
            expect(page.get_by_test_id("download-pdf")).to_be_in_viewport()
            with page.expect_download() as download:
                page.get_by_test_id("download-pdf").click()
            text = pdf_text(download.value.path().read_bytes())
            for expected in (
                number,
                "蓝天云科技有限公司",
                "12,345.60 CNY",
                "2026 年一季度服务费",
                "Payable within 30 days",
            ):
                assert expected in text
            for lang in ("en", "zh-hans"):
                page.locator(f"form.lang-switch button[value='{lang}']").click()
                expect(page.locator("html")).to_have_attribute("lang", lang)
                page.goto("/payment-contracts/")
                expect(page.locator("h1")).to_have_text("Payment Contracts" if lang == "en" else "请款合同")
                assert overflow(page, ["[data-testid=request-submit]", "[data-testid=contracts] td.num"]) == []
            page.locator("form.lang-switch button[value='en']").click()
    finally:
        context.close()
