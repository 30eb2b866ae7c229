"""The confirmation and adjustment-record pages fit 1366×768 in English and 简体中文 (a long
partner name, wide amounts), and a partner admin confirms a partial amount twice, then the rest,
batch-confirms two bills, and sees the credit returned in the adjustment records."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from partnercenter.customer_bills import services as svc
from partnercenter.customer_bills.models import CustomerBill
from tests.browser.test_layout_1366 import HEIGHT, LONG_PARTNER, WIDTH, overflow, sign_in
from tests.browser.test_navigation import sign_out
from tests.conftest import T0

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAGES = {
    "confirm": (
        "/customer-bills/confirm/?month=2026-02",
        ["#bills-to-confirm td.num", "#bills-to-confirm td.operations .button", "[data-testid=batch-confirm]"],
    ),
    "adjustments": ("/customer-bills/adjustments/", ["#adjustment-records td.num", "[data-testid=credit-submit]"]),
}


def make_bills(org) -> list[CustomerBill]:
    partner = org.partners["sp-a"]
    partner.name = LONG_PARTNER
    partner.save(update_fields=["name"])
    bills = []
    for account, total in (("a1", "987654321098.12"), ("a3", "300")):
        bill = CustomerBill.objects.create(
            partner=partner, customer=org.customers[account], month=dt.date(2026, 2, 1), currency="CNY",
            total=Decimal(total), generated_at=T0,
        )  # fmt: skip
        svc._consumption([bill], T0)
        bills.append(bill)
    return bills


def test_confirm_pages_fit_and_the_seed_procedure_works(chromium, org, live_server) -> None:
    a1, a3 = make_bills(org)
    context = chromium.new_context(
        base_url=live_server.url, locale="en-US", viewport={"width": WIDTH, "height": HEIGHT}
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    problems: list[str] = []
    try:
        sign_in(page, "sp-a-admin")
        for lang in ("en", "zh-hans"):
            page.locator(f"form.lang-switch button[value='{lang}']").click()
            for name, (url, selectors) in PAGES.items():
                page.goto(url)
                expect(page.locator("h1")).to_be_visible()
                problems += [f"{lang} · {name}: {p}" for p in overflow(page, selectors)]
            page.goto(f"/customer-bills/confirm/?month=2026-02&bill={a3.pk}")
            problems += [f"{lang} · form: {p}" for p in overflow(page, ["[data-testid=confirm-submit]"])]
        page.locator("form.lang-switch button[value='en']").click()
        for amount in ("100", "50.50"):
            page.goto(f"/customer-bills/confirm/?month=2026-02&bill={a3.pk}")
            page.check("input[name=mode][value=partial]")
            page.fill("#confirm-amount", amount)
            page.get_by_test_id("confirm-submit").dblclick()
            expect(page.locator(".messages")).to_contain_text("Confirmed")
        expect(page.locator(f"tr[data-bill='{a3.pk}'] [data-testid=remaining]")).to_have_text("149.50")
        page.goto(f"/customer-bills/confirm/?month=2026-02&bill={a3.pk}")
        page.get_by_test_id("confirm-submit").click()
        expect(page.locator(f"tr[data-bill='{a3.pk}'] [data-testid=remaining]")).to_have_text("0.00")
        page.check(f"input[name=bills][value='{a1.pk}']")
        page.get_by_test_id("batch-confirm").click()
        expect(page.locator(".messages")).to_contain_text("Confirmed 1 bill(s) in full")
        page.goto("/customer-bills/adjustments/?kind=confirmation")
        expect(page.locator("#adjustment-records tr[data-kind=confirmation]")).to_have_count(4)
        sign_out(page)
    finally:
        context.close()
    assert problems == [], "\n".join(problems)
