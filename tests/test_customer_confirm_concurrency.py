"""Parallel confirmations (C5): partial confirmations of one bill at once never exceed its total,
and a batch racing single confirmations never confirms a bill twice. PostgreSQL: SQLite's
BEGIN IMMEDIATE already serialises every writer."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection

from partnercenter.core.errors import DomainError
from partnercenter.core.money import ExactSum
from partnercenter.customer_bills import selectors as sel
from partnercenter.customer_bills import services as svc
from partnercenter.customer_bills.models import Confirmation, CreditEntry, CustomerBill
from tests.conftest import T0
from tests.test_billing_concurrency import _parallel

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite: BEGIN IMMEDIATE serialises all writers"),
    pytest.mark.django_db(transaction=True),
]
D = Decimal


def make_bill(org, account: str, total: str) -> CustomerBill:
    bill = CustomerBill.objects.create(
        partner=org.partners["sp-a"],
        customer=org.customers[account],
        month=dt.date(2026, 2, 1),
        currency="CNY",
        total=D(total),
        generated_at=T0,
    )
    svc._consumption([bill], T0)
    return bill


def test_parallel_partial_confirmations_never_exceed_the_bill(org):
    bill = make_bill(org, "a1", "100")
    outcomes: list[object] = []

    def part(i: int):
        def run() -> None:
            try:
                outcomes.append(svc.confirm(actor=org.users["sp-a-finance"], bill_id=bill.pk, amount="30").pk)
            except DomainError as e:
                outcomes.append(e.code)

        return run

    assert _parallel(*(part(i) for i in range(8))) == []
    assert sorted(o for o in outcomes if isinstance(o, str)) == ["more_than_remaining"] * 5
    assert Confirmation.objects.filter(bill=bill).aggregate(t=ExactSum("amount"))["t"] == D(90)
    assert sel.remaining(bill) == D(10)
    last = CreditEntry.objects.filter(customer=bill.customer).order_by("pk").last()
    assert (last.used_after, last.available_after) == (D(10), D(-10))


def test_a_batch_racing_single_confirmations_confirms_each_bill_once(org):
    a1, a3 = make_bill(org, "a1", "50.25"), make_bill(org, "a3", "70")
    admin = org.users["sp-a-admin"]

    def batch() -> None:
        try:
            svc.batch_confirm(actor=admin, bill_ids=[a3.pk, a1.pk])
        except DomainError:
            pass

    def single(bill: CustomerBill):
        def run() -> None:
            try:
                svc.confirm(actor=admin, bill_id=bill.pk)
            except DomainError:
                pass

        return run

    assert _parallel(batch, single(a1), single(a3), batch) == []
    for bill, total in ((a1, D("50.25")), (a3, D(70))):
        assert Confirmation.objects.filter(bill=bill).aggregate(t=ExactSum("amount"))["t"] == total
        assert sel.remaining(bill) == 0
