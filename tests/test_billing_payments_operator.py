"""The operator's side of payments: the admin (top-up, bank transfer, agreement decisions) and the
``partnercenter billing`` command."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from partnercenter.billing import payment_selectors as sel
from partnercenter.billing import payment_services as svc
from partnercenter.billing.models import Payment, PaymentAgreementDecision, StatementEntry
from partnercenter.core import clock
from tests.conftest import T0
from tests.test_billing_payments import make_bill, snapshot

D = Decimal


@pytest.fixture
def now():
    with clock.frozen_at(T0):
        yield T0


def operator(org) -> Client:
    c = Client()
    c.force_login(org.users["op"])
    return c


def test_admin_top_up_and_a_refused_one(org, now):
    sp_a = org.partners["sp-a"]
    c = operator(org)
    data = {"partner": sp_a.pk, "currency": "CNY", "amount": "300.00", "remark": "wire"}
    r = c.post("/admin/billing/statemententry/add/", data)
    assert r.status_code == 302, r.content.decode()[-2000:]
    assert sel.balance(sp_a, "CNY") == D("300")
    before = snapshot()
    r = c.post("/admin/billing/statemententry/add/", {**data, "amount": "1.001"})
    assert r.status_code == 200
    assert "has more decimal places than CNY allows (2)" in r.content.decode()
    assert snapshot() == before


def test_admin_records_a_bank_transfer(org, now):
    sp_a = org.partners["sp-a"]
    bill = make_bill(sp_a, "2026-01", "100")
    data = {
        "partner": sp_a.pk,
        "currency": "CNY",
        "amount": "100",
        "payer_name": "SP-A",
        "received_on": "2026-03-09",
        "reference": "R-1",
        "bill_id": "",
    }
    r = operator(org).post("/admin/billing/payment/add/", data)
    assert r.status_code == 302
    assert sel.bill_state(bill) == sel.BillState.PAID
    r = operator(org).post("/admin/billing/payment/add/", {**data, "reference": "R-2", "payer_name": "Other"})
    assert "no approved third-party payment agreement" in r.content.decode()
    assert Payment.objects.count() == 1


def test_admin_approves_an_agreement(org, now):
    a = svc.create_agreement(
        actor=org.users["sp-a-admin"], partner=org.partners["sp-a"], principal="P", principal_type="company"
    )
    r = operator(org).post("/admin/billing/paymentagreement/", {"action": "approve", "_selected_action": [a.pk]})
    assert r.status_code == 302
    assert list(PaymentAgreementDecision.objects.values_list("status", flat=True)) == ["approved"]
    assert operator(org).get("/admin/billing/paymentagreement/").status_code == 200


def test_cli_top_up_transfer_statement_and_decide(org, now):
    sp_a = org.partners["sp-a"]
    make_bill(sp_a, "2026-01", "100")
    out = StringIO()
    call_command("billing", "top-up", "sp-a", "50.00", "--currency", "CNY", "--by", "op", stdout=out)
    with clock.frozen_at(T0 + dt.timedelta(minutes=1)):
        transfer = ["transfer", "sp-a", "120", "--currency", "CNY", "--payer", "SP-A", "--date", "2026-03-09"]
        call_command("billing", *transfer, "--reference", "T-9", "--by", "op", stdout=out)
    assert out.getvalue().splitlines() == [
        "Top-up 50 CNY; balance 50 CNY.",
        "Transfer T-9: 100 CNY applied to bills; 20 to the prepaid balance.",
    ]
    assert StatementEntry.objects.filter(partner=sp_a).count() == 2
    out = StringIO()
    call_command("billing", "statement", "sp-a", stdout=out)
    assert [line.split("\t")[1:5] for line in out.getvalue().splitlines()] == [
        ["top_up", "CNY", "20", "70"],
        ["bank_transfer", "CNY", "120", ""],
        ["top_up", "CNY", "50", "50"],
    ]
    with pytest.raises(CommandError, match="must be greater than zero"):
        call_command("billing", "top-up", "sp-a", "0", "--currency", "CNY", "--by", "op")
    with pytest.raises(CommandError, match="not an active platform operator"):
        call_command("billing", "top-up", "sp-a", "1", "--currency", "CNY", "--by", "sp-a-admin")
    a = svc.create_agreement(actor=org.users["sp-a-admin"], partner=sp_a, principal="P", principal_type="company")
    out = StringIO()
    call_command("billing", "decide", str(a.pk), "rejected", "--by", "op", stdout=out)
    assert out.getvalue() == f"Agreement {a.pk}: rejected.\n"
