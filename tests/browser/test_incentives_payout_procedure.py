"""Payout applications (I7) end to end in a real browser: a partner opens Payout applications,
sees the negative incentive checked and disabled, tries a selection whose negative incentives
exceed it and reads the refusal, selects enough and applies; the application is under review.
An operator approves it into the prepaid balance; the partner's Payment records show the top-up
of exactly the amount. Then the page at 1366×768."""

from __future__ import annotations

import datetime as dt
import faulthandler
import os
import signal
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from partnercenter.billing import payment_selectors as billing_sel
from partnercenter.core import clock
from partnercenter.incentives.models import Application
from tests.browser.test_navigation import sign_in, sign_out
from tests.incentive_fixtures import make_incentives
from tests.test_incentives_payouts import issued  # noqa: F401 - the fixture is used by name

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DEADLINE_SECONDS = 90
WAIT = 10_000
WIDTH, HEIGHT = 1366, 768
NOW = dt.datetime(2026, 3, 10, 4, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _deadline() -> Iterator[None]:
    def expire(signum, frame) -> None:  # noqa: ANN001
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        raise TimeoutError(f"the payout procedure took longer than {DEADLINE_SECONDS} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(DEADLINE_SECONDS)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def inside_viewport(locator: Locator) -> None:
    expect(locator).to_be_visible(timeout=WAIT)
    box = locator.bounding_box()
    assert box is not None
    assert box["x"] >= 0 and box["y"] >= 0, box
    assert box["x"] + box["width"] <= WIDTH and box["y"] + box["height"] <= HEIGHT, box


def screenshot(page: Page, name: str) -> None:
    if shots := os.environ.get("PARTNERCENTER_LAYOUT_SCREENSHOTS", ""):
        Path(shots).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(shots) / name))


def open_payouts(page: Page) -> Locator:
    """Incentive Management › Payout applications: the negative is checked and disabled."""
    page.goto("/incentives/payouts/")
    page.locator("nav.tabs").get_by_role("link", name="Payout applications").click()
    expect(page.locator("nav.tabs a.active")).to_have_text("Payout applications")
    form = page.get_by_test_id("payout-USD")
    negative = form.locator("input[value='INC-202601-000004']")
    expect(negative).to_be_checked()
    expect(negative).to_be_disabled()
    expect(form.get_by_test_id("total-USD")).to_have_text("-5.00")
    for what in (negative, form.get_by_test_id("total-USD"), form.get_by_test_id("apply-USD")):
        inside_viewport(what)
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH
    screenshot(page, "incentive-payouts-en.png")
    return form


def refused_then_applied(page: Page, form: Locator) -> None:
    # Too little: the negatives exceed the selection, refused with nothing written.
    form.locator("input[value='INC-202512-000007']").check()
    expect(form.get_by_test_id("total-USD")).to_have_text("-1.66")
    form.get_by_test_id("apply-USD").click()
    expect(page.get_by_test_id("payout-error")).to_contain_text(
        "The negative incentives (5.00 USD) exceed the selected incentive earnings (3.34 USD)"
    )
    assert Application.objects.count() == 0
    # Enough: the December earning as well.
    form = page.get_by_test_id("payout-USD")
    expect(form.locator("input[value='INC-202512-000007']")).to_be_checked()
    expect(form.locator("input[value='INC-202601-000004']")).to_be_disabled()
    form.locator("input[value='INC-202512-000001']").check()
    expect(form.get_by_test_id("total-USD")).to_have_text("58.34")
    form.get_by_test_id("apply-USD").click()
    expect(page.locator(".messages")).to_contain_text("PAY-20260310-000001")
    expect(page.get_by_test_id("state-PAY-20260310-000001")).to_have_text("Under review")
    screenshot(page, "incentive-payouts-applied-en.png")
    expect(page.get_by_test_id("nothing-applicable")).to_be_visible()
    app = Application.objects.get()
    assert (app.positive_total, app.negative_total, app.amount) == (Decimal("63.34"), Decimal("-5"), Decimal("58.34"))


def operator_approves_into_the_balance(page: Page) -> None:
    page.goto("/incentives/payouts/")
    decide = page.get_by_test_id("decide-PAY-20260310-000001")
    inside_viewport(decide.get_by_role("button", name="Approve"))
    screenshot(page, "incentive-payouts-review-en.png")
    decide.locator("select[name=payout_method]").select_option("balance")
    decide.get_by_role("button", name="Approve").click()
    expect(page.locator(".messages")).to_contain_text("PAY-20260310-000001: Approved")
    expect(page.get_by_test_id("review")).to_contain_text("No application is waiting for review.")


def partner_sees_the_top_up(page: Page) -> None:
    page.goto("/partner-bills/payments/")
    expect(page.locator("strong[data-currency=USD]")).to_have_text("58.34 USD")
    row = page.locator("#payment-records tbody tr").first
    expect(row).to_contain_text("Incentive payout PAY-20260310-000001")
    expect(row.locator("[data-col=amount]")).to_have_text("58.34")
    expect(row.locator("[data-col=balance_after]")).to_have_text("58.34")
    page.goto("/incentives/payouts/")
    expect(page.get_by_test_id("state-PAY-20260310-000001")).to_have_text("Approved")
    inside_viewport(page.get_by_test_id("state-PAY-20260310-000001"))
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH


def test_payout_application_procedure(page: Page, org, live_server) -> None:
    made = make_incentives(org)
    issued(made, org, "INC-202512-000007", "33.35")  # 3.34 USD, less than the 5.00 negative
    page.route("**/favicon.ico", lambda route: route.fulfill(status=204))
    page.set_viewport_size({"width": WIDTH, "height": HEIGHT})  # the whole procedure at 1366×768
    with clock.frozen_at(NOW):
        sign_in(page, "sp-a-finance")
        refused_then_applied(page, open_payouts(page))
        sign_out(page)
        sign_in(page, "op")
        operator_approves_into_the_balance(page)
        sign_out(page)
        assert billing_sel.balance(org.partners["sp-a"], "USD") == Decimal("58.34")
        sign_in(page, "sp-a-finance")
        partner_sees_the_top_up(page)
