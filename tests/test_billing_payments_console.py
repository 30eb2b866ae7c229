"""Console pages of the amount due and payments: /partner-bills/amount-due/, unpaid/, payments/,
pay/, agreements/ — content, isolation, double submit, Chinese."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.test import Client

from partnercenter.billing import payment_selectors as sel
from partnercenter.billing import payment_services as svc
from partnercenter.billing.models import Payment, PaymentAgreement
from partnercenter.core import clock
from tests.conftest import T0
from tests.test_billing_console import figure
from tests.test_billing_payments import make_bill, snapshot
from tests.test_usage_api import bearer

BASE = "/partner-bills/"
PAGES = ("amount-due/", "unpaid/", "payments/", "pay/", "agreements/")
D = Decimal


@pytest.fixture
def now():
    with clock.frozen_at(T0):
        yield T0


@pytest.fixture
def bills(org, now):
    sp_a = org.partners["sp-a"]
    made = [make_bill(sp_a, "2026-01", "1234.50"), make_bill(sp_a, "2026-02", "-20"), make_bill(sp_a, "2026-03", "80")]
    svc.top_up(actor=org.users["op"], partner=sp_a, currency="CNY", amount="2000")
    return made


def as_user(org, username: str, language: str = "en") -> Client:
    c = Client(headers={"accept-language": language})
    c.force_login(org.users[username])
    return c


def text(r) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", r.content.decode()))


def test_amount_due_pane_shows_the_total_and_the_links(org, bills):
    r = as_user(org, "sp-a-finance").get(BASE + "amount-due/")
    assert r.status_code == 200
    html = r.content.decode()
    assert 'data-currency="CNY">1,314.50<' in html
    for href in ('href="/partner-bills/pay/"', 'href="/partner-bills/unpaid/"', 'href="/partner-bills/payments/"'):
        assert href in html
    assert "<html" not in html  # a fragment for the Bills page


def test_unpaid_bills_and_payment_records(org, bills):
    c = as_user(org, "sp-a-admin")
    page = text(c.get(BASE + "unpaid/"))
    assert "2026-01 CNY 1,234.50 0.00 1,234.50 Unpaid" in page
    assert "2026-02" not in page  # a negative bill owes nothing
    assert "Total amount due (CNY) 1,314.50" in page
    page = text(c.get(BASE + "payments/"))
    assert "Top-up CNY 2,000.00 2,000.00" in page


def test_paying_from_the_form_and_a_double_submit_pays_once(org, bills):
    c = as_user(org, "sp-a-finance")
    form = c.get(f"{BASE}pay/?bill={bills[2].pk}").content.decode()
    key = re.search(r'name="form_key" value="([0-9a-f]+)"', form).group(1)
    assert f'<option value="{bills[2].pk}" selected>' in form
    assert "2,000.00 CNY" in form  # the balance is shown
    data = {"form_key": key, "currency": "CNY", "amount": "50", "bill": ""}
    first = c.post(BASE + "pay/", data)
    second = c.post(BASE + "pay/", data)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == "/partner-bills/payments/"
    assert Payment.objects.count() == 1
    assert sel.balance(org.partners["sp-a"], "CNY") == D("1950")
    page = text(c.get(BASE + "payments/"))
    assert "Paid 50.00 CNY from the prepaid balance." in page
    assert "Bill payment CNY -50.00 1,950.00 Bills: 2026-01 CNY" in page
    r = c.post(BASE + "pay/", {"form_key": "other", "pay_all": "1", "bill": str(bills[2].pk)})
    assert r.status_code == 302
    assert sel.amount_due(org.partners["sp-a"]) == {"CNY": D("1184.50")}


def test_the_bill_shows_what_is_left_to_pay_after_a_payment(org, bills, client):
    """B4/B5: the Monthly Bills pane's "Amount due of this bill" and the API's amount_due are the
    bill's amount less what payments applied to it, not the amount as billed."""
    svc.pay_from_balance(actor=org.users["sp-a-admin"], partner=org.partners["sp-a"], currency="CNY", amount="34.5")
    svc.pay_from_balance(
        actor=org.users["sp-a-admin"], partner=org.partners["sp-a"], currency="CNY", amount="30", bill_id=bills[2].pk
    )
    c = as_user(org, "sp-a-finance")
    due = {}
    for bill in bills:
        html = c.get(BASE, {"month": f"{bill.month:%Y-%m}"}).content.decode()
        due[f"{bill.month:%Y-%m}"] = figure(html, "amount_due")
    assert due == {"2026-01": "1200", "2026-02": "0", "2026-03": "50"}
    auth = bearer(client, "sp-a-finance")
    listed = client.get("/api/v1/bills", **auth).json()["items"]
    assert {b["month"]: b["amount_due"] for b in listed} == due
    one = client.get(f"/api/v1/bills/{bills[0].pk}", **auth).json()
    assert (one["amount"], one["amount_due"]) == ("1234.5", "1200")


def test_a_refused_payment_shows_why_and_changes_nothing(org, bills):
    c = as_user(org, "sp-a-finance")
    before = snapshot()
    r = c.post(BASE + "pay/", {"form_key": "k", "currency": "CNY", "amount": "1.005"})
    assert r.status_code == 400
    assert "amount: has more decimal places than CNY allows (2)." in text(r)
    r = c.post(BASE + "pay/", {"form_key": "k2", "currency": "CNY", "amount": "2000.01"})
    assert "The amount is more than the amount due (1314.50 CNY); nothing was paid." in text(r)
    other = make_bill(org.partners["sp-b"], "2026-01", "5")
    before = snapshot()
    assert c.post(BASE + "pay/", {"form_key": "k3", "amount": "1", "bill": str(other.pk)}).status_code == 404
    assert snapshot() == before


def test_another_partner_is_404_and_users_without_the_menu_403(org, bills):
    c = as_user(org, "sp-b-admin")
    for page in PAGES:
        assert c.get(BASE + page + "?partner=sp-a").status_code == 404, page
    for username in ("sp-a-operator", "sp-a-account_manager"):
        for page in PAGES:
            assert as_user(org, username).get(BASE + page).status_code == 403, (username, page)
    # An account manager granted the menu still does not see bills.
    manager = org.users["sp-a-account_manager"]
    manager.menus = [*manager.menus, "partner_bills"]
    manager.save()
    assert as_user(org, "sp-a-account_manager").get(BASE + "unpaid/").status_code == 403
    assert "Total amount due" not in text(as_user(org, "sp-b-admin").get(BASE + "unpaid/"))


def test_an_operator_chooses_the_partner(org, bills):
    c = as_user(org, "op")
    assert 'name="partner"' in c.get(BASE + "unpaid/").content.decode()
    assert "1,314.50" in text(c.get(BASE + "unpaid/?partner=sp-a"))
    pane = c.get(BASE + "amount-due/", headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in pane and 'name="partner"' not in pane  # the pane holds a hint, never a page
    assert "Choose the partner whose bills and payments you want to see." in pane


def test_agreements_page_create_and_list(org, bills):
    admin = as_user(org, "sp-a-admin")
    r = admin.post(BASE + "agreements/", {"principal": "Wang Fang", "principal_type": "individual"})
    assert r.status_code == 302
    page = text(admin.get(BASE + "agreements/"))
    assert "Wang Fang Individual Pending approval" in page
    r = admin.post(BASE + "agreements/", {"principal": "wang fang", "principal_type": "individual"})
    assert r.status_code == 409
    assert PaymentAgreement.objects.count() == 1
    finance = as_user(org, "sp-a-finance")
    assert 'id="agreement-form"' not in finance.get(BASE + "agreements/").content.decode()
    assert finance.post(BASE + "agreements/", {"principal": "X", "principal_type": "company"}).status_code == 403
    assert "Wang Fang" not in text(as_user(org, "sp-b-admin").get(BASE + "agreements/"))


def test_pages_in_chinese(org, bills):
    c = as_user(org, "sp-a-admin", "zh-hans")
    assert "应付金额" in text(c.get(BASE + "amount-due/"))
    assert "未付账单" in text(c.get(BASE + "unpaid/"))
    assert "充值" in text(c.get(BASE + "payments/"))
    assert "从预付余额支付" in text(c.get(BASE + "pay/"))
    assert "第三方代付协议" in text(c.get(BASE + "agreements/"))
