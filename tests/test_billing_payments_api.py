"""The payments API (/api/v1/billing/…): amount due, statement, pay, transfers, top-ups, agreements."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.test import Client

from partnercenter.billing import payment_selectors as sel
from partnercenter.billing.models import Payment, StatementEntry
from partnercenter.core import clock
from tests.conftest import T0
from tests.test_billing_payments import make_bill, snapshot

API = "/api/v1/billing"
D = Decimal


@pytest.fixture
def now():
    with clock.frozen_at(T0):
        yield T0


@pytest.fixture
def bills(org):
    sp_a = org.partners["sp-a"]
    return [make_bill(sp_a, "2026-01", "100.00"), make_bill(sp_a, "2026-02", "-20"), make_bill(sp_a, "2026-03", "80")]


def as_user(org, username: str) -> Client:
    c = Client()
    c.force_login(org.users[username])
    return c


def post(c: Client, path: str, body: dict, **headers):
    return c.post(f"{API}{path}", json.dumps(body), content_type="application/json", headers=headers)


def test_amount_due_unpaid_bills_and_statement(org, now, bills):
    op = as_user(org, "op")
    r = post(op, "/top-ups", {"partner": "sp-a", "currency": "CNY", "amount": "150.00", "remark": "deposit"})
    assert r.status_code == 200, r.content
    assert r.json()["balance_after"] == "150"
    finance = as_user(org, "sp-a-finance")
    assert finance.get(f"{API}/amount-due").json() == {
        "partner": "sp-a",
        "amount_due": [{"currency": "CNY", "amount": "180"}],
        "balance": [{"currency": "CNY", "amount": "150"}],
    }
    r = post(finance, "/payments", {"currency": "CNY", "amount": "120"}, **{"Idempotency-Key": "k-1"})
    assert r.status_code == 200, r.content
    body = r.json()
    assert (body["amount"], body["balance_after"], body["method"]) == ("120", "30", "balance")
    assert [(a["month"], a["amount"]) for a in body["allocations"]] == [("2026-01", "100"), ("2026-03", "20")]
    again = post(finance, "/payments", {"currency": "CNY", "amount": "120"}, **{"Idempotency-Key": "k-1"})
    assert again.json()["id"] == body["id"]
    assert Payment.objects.count() == 1
    other = post(finance, "/payments", {"currency": "CNY", "amount": "1"}, **{"Idempotency-Key": "k-1"})
    assert other.status_code == 409 and other.json()["code"] == "idempotency_key_reused"
    unpaid = finance.get(f"{API}/unpaid-bills").json()
    assert [(b["month"], b["paid"], b["due"], b["state"]) for b in unpaid] == [("2026-03", "20", "60", "partly_paid")]
    page = finance.get(f"{API}/statement").json()
    assert page["total"] == 2
    assert [(i["kind"], i["amount"], i["balance_after"]) for i in page["items"]] == [
        ("payment", "-120", "30"),
        ("top_up", "150", "150"),
    ]


def test_bad_requests_change_nothing(org, now, bills):
    finance = as_user(org, "sp-a-finance")
    before = snapshot()
    r = post(finance, "/payments", {"currency": "CNY", "amount": 12.5})
    assert r.status_code == 422  # a JSON number is refused: amounts never pass through a float
    r = post(finance, "/payments", {"currency": "CNY", "amount": "0"})
    assert r.status_code == 422
    assert r.json()["details"] == [{"where": "amount", "why": "must be greater than zero"}]
    r = post(finance, "/payments", {"currency": "CNY", "amount": "1.234"})
    assert r.json()["details"] == [{"where": "amount", "why": "has more decimal places than CNY allows (2)"}]
    other_bill = make_bill(org.partners["sp-b"], "2026-01", "10")
    before = snapshot()
    r = post(finance, "/payments", {"amount": "1", "bill_id": other_bill.pk})
    assert r.status_code == 404
    r = post(finance, "/payments", {"currency": "CNY", "amount": "1"})
    assert r.status_code == 422 and r.json()["code"] == "insufficient_balance"
    assert snapshot() == before


def test_another_partners_data_is_not_found_and_operators_name_the_partner(org, now, bills):
    finance = as_user(org, "sp-a-finance")
    for path in ("/amount-due", "/unpaid-bills", "/statement", "/agreements"):
        assert finance.get(f"{API}{path}?partner=sp-b").status_code == 404
        assert as_user(org, "op").get(f"{API}{path}").json()["code"] == "partner_required"
    assert as_user(org, "op").get(f"{API}/amount-due?partner=sp-a").json()["amount_due"] == [
        {"currency": "CNY", "amount": "180"}
    ]
    assert as_user(org, "sp-a-account_manager").get(f"{API}/amount-due").status_code == 403


def test_transfers_and_top_ups_are_for_platform_operators(org, now, bills):
    body = {
        "partner": "sp-a",
        "currency": "CNY",
        "amount": "200",
        "payer_name": "SP-A",
        "received_on": "2026-03-09",
        "reference": "B-77",
    }
    for username in ("sp-a-admin", "sp-a-finance"):
        assert post(as_user(org, username), "/transfers", body).status_code == 403
        assert post(as_user(org, username), "/top-ups", {**body, "remark": ""}).status_code == 403
    r = post(as_user(org, "op"), "/transfers", body)
    assert r.status_code == 200, r.content
    assert (r.json()["amount"], r.json()["to_balance"], r.json()["balance_after"]) == ("180", "20", "20")
    assert post(as_user(org, "op"), "/transfers", body).json()["code"] == "transfer_already_recorded"
    r = post(as_user(org, "op"), "/transfers", {**body, "payer_name": "Someone Else", "reference": "B-78"})
    assert r.status_code == 422 and r.json()["code"] == "no_payment_agreement"
    assert sel.balance(org.partners["sp-a"], "CNY") == D("20")


def test_agreements_create_list_and_decide(org, now):
    admin = as_user(org, "sp-a-admin")
    r = post(admin, "/agreements", {"principal": "王芳", "principal_type": "individual"})
    assert r.status_code == 201, r.content
    agreement = r.json()
    assert (agreement["status"], agreement["partner"]) == ("pending", "sp-a")
    assert (
        post(as_user(org, "sp-a-finance"), "/agreements", {"principal": "X", "principal_type": "company"}).status_code
        == 403
    )
    assert post(admin, "/agreements/{}/decisions".format(agreement["id"]), {"status": "approved"}).status_code == 403
    r = post(as_user(org, "op"), "/agreements/{}/decisions".format(agreement["id"]), {"status": "approved"})
    assert r.status_code == 201 and r.json()["status"] == "approved"
    assert [a["status"] for a in as_user(org, "sp-a-finance").get(f"{API}/agreements").json()] == ["approved"]
    assert as_user(org, "sp-b-admin").get(f"{API}/agreements").json() == []
    assert StatementEntry.objects.count() == 0
