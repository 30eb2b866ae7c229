"""Money invariants of payments (B4, B9) under any sequence of operations, and under concurrency."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from partnercenter.billing import payment_selectors as sel
from partnercenter.billing import payment_services as svc
from partnercenter.billing.models import Bill, Payment, PaymentAllocation, StatementEntry
from partnercenter.core import clock
from partnercenter.core.errors import DomainError
from partnercenter.core.money import ExactSum
from tests.conftest import T0
from tests.test_billing_payments import make_bill

D = Decimal
DB_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

cents = st.integers(-50_000, 200_000).map(lambda c: D(c).scaleb(-2))
positive = st.integers(1, 300_000).map(lambda c: D(c).scaleb(-2))
operation = st.one_of(
    st.tuples(st.just("top_up"), positive, st.none()),
    st.tuples(st.just("pay"), st.one_of(st.none(), positive), st.one_of(st.none(), st.integers(0, 5))),
    st.tuples(st.just("transfer"), positive, st.one_of(st.none(), st.integers(0, 5))),
)


class Rollback(Exception):
    pass


def apply(org, bills: list[Bill], op: tuple, n: int) -> None:
    kind, amount, which = op
    partner = org.partners["sp-a"]
    bill_id = bills[which].pk if which is not None and which < len(bills) else None
    try:
        if kind == "top_up":
            svc.top_up(actor=org.users["op"], partner=partner, currency="CNY", amount=amount)
        elif kind == "pay":
            svc.pay_from_balance(
                actor=org.users["sp-a-finance"], partner=partner, currency="CNY", amount=amount, bill_id=bill_id
            )
        else:
            svc.record_transfer(
                actor=org.users["op"],
                partner=partner,
                currency="CNY",
                amount=amount,
                payer_name="SP-A",
                received_on="2026-03-01",
                reference=f"R{n}",
                bill_id=bill_id,
            )
    except DomainError:
        pass  # refused requests are part of any sequence; they must change nothing


def check_invariants(partner, bills: list[Bill]) -> None:
    allocated = PaymentAllocation.objects.filter(bill__partner=partner).aggregate(t=ExactSum("amount"))["t"]
    positive_total = sum((max(b.amount, D(0)) for b in bills), D(0))
    assert sel.amount_due(partner).get("CNY", D(0)) == positive_total - allocated
    for d in sel.bill_dues(partner):
        assert 0 <= d.due <= d.payable
    running = D(0)
    for e in StatementEntry.objects.filter(partner=partner).order_by("pk"):
        running += e.amount
        assert e.balance_after == running
        assert running >= 0
    assert sel.balance(partner, "CNY") == running
    for p in Payment.objects.filter(partner=partner):
        assert p.allocations.aggregate(t=ExactSum("amount"))["t"] == p.amount


@DB_SETTINGS
@given(amounts=st.lists(cents, min_size=0, max_size=5), ops=st.lists(operation, max_size=12))
def test_no_sequence_of_payments_breaks_the_money_invariants(org, amounts, ops):
    partner = org.partners["sp-a"]
    try:
        with transaction.atomic(), clock.frozen_at(T0):
            bills = [make_bill(partner, f"2025-{i + 1:02d}", str(a)) for i, a in enumerate(amounts)]
            for n, op in enumerate(ops):
                apply(org, bills, op, n)
                check_invariants(partner, bills)
            raise Rollback
    except Rollback:
        pass


# ---- concurrency ------------------------------------------------------------------------------


def _race(n: int, work) -> list[object]:
    barrier = threading.Barrier(n)
    results: list[object] = []

    def run(i: int) -> None:
        from django.db import connection as conn

        try:
            barrier.wait()
            with clock.frozen_at(T0):
                results.append(work(i))
        except Exception as exc:  # shown by the assertions of the caller
            results.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@pytest.mark.django_db(transaction=True)
def test_simultaneous_payments_never_overdraw_nor_pay_a_bill_twice(org):
    if connection.vendor != "postgresql":
        pytest.skip("needs concurrent connections (PostgreSQL); SQLite's BEGIN IMMEDIATE serialises writers")
    partner = org.partners["sp-a"]
    with clock.frozen_at(T0):
        bills = [make_bill(partner, "2026-01", "100"), make_bill(partner, "2026-02", "100")]
        svc.top_up(actor=org.users["op"], partner=partner, currency="CNY", amount="150")

    def pay_all_of_january(i: int) -> object:
        return svc.pay_from_balance(
            actor=org.users["sp-a-admin"], partner=partner, currency="CNY", amount="60", bill_id=bills[0].pk
        ).pk

    results = _race(6, pay_all_of_january)
    paid = [r for r in results if isinstance(r, int)]
    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(paid) == 1 and len(refused) == 5, results
    assert {r.code for r in refused} == {"more_than_due"}
    results = _race(
        6,
        lambda i: svc.pay_from_balance(actor=org.users["sp-a-admin"], partner=partner, currency="CNY", amount="50").pk,
    )
    assert len([r for r in results if isinstance(r, int)]) == 1, results  # 90 left: one 50 fits
    assert sel.balance(partner, "CNY") == D("40")
    check_invariants(partner, bills)


@pytest.mark.django_db(transaction=True)
def test_a_double_click_with_one_key_pays_once(org):
    if connection.vendor != "postgresql":
        pytest.skip("needs concurrent connections (PostgreSQL); SQLite's BEGIN IMMEDIATE serialises writers")
    partner = org.partners["sp-a"]
    with clock.frozen_at(T0):
        bills = [make_bill(partner, "2026-01", "100")]
        svc.top_up(actor=org.users["op"], partner=partner, currency="CNY", amount="500")
    results = _race(
        4,
        lambda i: (
            svc.pay_from_balance(
                actor=org.users["sp-a-admin"], partner=partner, currency="CNY", amount="30", idempotency_key="form-1"
            ).pk
        ),
    )
    assert len(set(results)) == 1 and isinstance(results[0], int), results
    assert Payment.objects.count() == 1
    assert sel.balance(partner, "CNY") == D("470")
    check_invariants(partner, bills)


def test_on_sqlite_payments_take_the_write_lock_at_begin(org, settings):
    """SQLite has no row locks: every transaction is opened with BEGIN IMMEDIATE, which takes the
    database's write lock first, so the balance read inside a payment cannot change until it commits."""
    if connection.vendor != "sqlite":
        pytest.skip("SQLite only")
    assert connection.settings_dict["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
