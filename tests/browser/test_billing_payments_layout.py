"""The payment pages of Partner Bills fit 1366×768 in English and 简体中文 (a long partner name,
wide amounts), and a finance user pays from the balance and sees the payment record."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from partnercenter.billing import payment_services as svc
from partnercenter.core import clock
from tests.browser.test_layout_1366 import HEIGHT, LONG_PARTNER, WIDTH, overflow, sign_in
from tests.browser.test_navigation import sign_out
from tests.conftest import T0
from tests.test_billing_payments import make_bill

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAGES = {
    "unpaid": ("/partner-bills/unpaid/", ["#unpaid-bills td.num", "#unpaid-bills td.operations .button"]),
    "payments": ("/partner-bills/payments/", ["#payment-records td.num"]),
    "pay": ("/partner-bills/pay/", ["[data-testid=pay-submit]"]),
    "agreements": ("/partner-bills/agreements/", ["#agreements td"]),
}


def make_data(org) -> None:
    partner = org.partners["sp-a"]
    partner.name = LONG_PARTNER
    partner.save(update_fields=["name"])
    with clock.frozen_at(T0):
        for month in range(1, 4):
            make_bill(partner, f"2026-{month:02d}", "987654321098.12")
        svc.top_up(actor=org.users["op"], partner=partner, currency="CNY", amount="999999999999.99")
        svc.create_agreement(
            actor=org.users["sp-a-admin"], partner=partner, principal=LONG_PARTNER + " 代付", principal_type="company"
        )


def test_payment_pages_fit_and_a_payment_shows_in_the_records(chromium, org, live_server) -> None:
    make_data(org)
    context = chromium.new_context(
        base_url=live_server.url, locale="en-US", viewport={"width": WIDTH, "height": HEIGHT}
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    problems: list[str] = []
    try:
        sign_in(page, "sp-a-finance")
        page.goto("/partner-bills/pay/")
        page.fill("#pay-amount", "1000.50")
        page.get_by_test_id("pay-submit").dblclick()
        expect(page.locator("#payment-records")).to_contain_text("-1,000.50")
        for lang in ("en", "zh-hans"):
            page.locator(f"form.lang-switch button[value='{lang}']").click()
            for name, (url, selectors) in PAGES.items():
                page.goto(url)
                expect(page.locator("h1")).to_be_visible()
                problems += [f"{lang} · {name}: {p}" for p in overflow(page, selectors)]
        page.locator("form.lang-switch button[value='en']").click()
        sign_out(page)
    finally:
        context.close()
    assert problems == [], "\n".join(problems)
    from partnercenter.billing.models import Payment

    assert Payment.objects.count() == 1
