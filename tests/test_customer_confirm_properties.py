"""Invariants of confirmations and credit (C5, C7) under any sequence of operations: the sum of a
bill's confirmations never exceeds the bill; available credit always equals limit − used from the
ledger, and each entry's stored figures are the running sums; a batch equals confirming each bill
in full."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from partnercenter.core import clock
from partnercenter.core.errors import DomainError
from partnercenter.core.money import ZERO, ExactSum
from partnercenter.customer_bills import selectors as sel
from partnercenter.customer_bills import services as svc
from partnercenter.customer_bills.models import Confirmation, CreditEntry, CustomerBill
from tests.conftest import T0

D = Decimal
DB_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
ACCOUNTS = ("a1", "a3")

totals = st.integers(-5_000, 50_000).map(lambda c: D(c).scaleb(-2))
positive = st.integers(1, 60_000).map(lambda c: D(c).scaleb(-2))
which = st.integers(0, 3)
operation = st.one_of(
    st.tuples(st.just("grant"), positive, st.integers(0, 1)),
    st.tuples(st.just("reclaim"), positive, st.integers(0, 1)),
    st.tuples(st.just("confirm"), st.one_of(st.none(), positive), which),
    st.tuples(st.just("batch"), st.none(), st.lists(which, min_size=1, max_size=4)),
)


class Rollback(Exception):
    pass


def make_bills(org, amounts: list[Decimal]) -> list[CustomerBill]:
    """Generated bills as the catch-up writes them: the bill, then its consumption entry."""
    bills = []
    for i, amount in enumerate(amounts):
        bill = CustomerBill.objects.create(
            partner=org.partners["sp-a"],
            customer=org.customers[ACCOUNTS[i % 2]],
            month=dt.date(2025, 1 + i // 2, 1),
            currency="CNY",
            total=amount,
            generated_at=T0,
        )
        svc._consumption([bill], T0)
        bills.append(bill)
    return bills


def apply(org, bills: list[CustomerBill], op: tuple) -> None:
    kind, amount, pick = op
    admin = org.users["sp-a-admin"]
    try:
        if kind in ("grant", "reclaim"):
            write = svc.grant_credit if kind == "grant" else svc.reclaim_credit
            write(
                actor=admin,
                partner=admin.partner,
                customer=org.customers[ACCOUNTS[pick]],
                currency="CNY",
                amount=amount,
            )
        elif kind == "confirm" and pick < len(bills):
            svc.confirm(actor=admin, bill_id=bills[pick].pk, amount=amount)
        elif kind == "batch":
            svc.batch_confirm(actor=admin, bill_ids=[bills[i].pk for i in pick if i < len(bills)])
    except DomainError:
        pass  # refusals are part of any sequence; they change nothing


def check_invariants(org, bills: list[CustomerBill]) -> None:
    for b in bills:
        confirmed = Confirmation.objects.filter(bill=b).aggregate(t=ExactSum("amount"))["t"]
        assert ZERO <= confirmed <= max(b.total, ZERO)
        assert sel.remaining(b) == max(b.total, ZERO) - confirmed
    partner = org.partners["sp-a"]
    for account in ACCOUNTS:
        customer = org.customers[account]
        limit = used = ZERO
        for e in CreditEntry.objects.filter(partner=partner, customer=customer, currency="CNY").order_by("pk"):
            assert e.available_before == limit - used
            limit += {"grant": e.amount, "reclaim": -e.amount}.get(e.kind, ZERO)
            used += {"consumption": e.amount, "confirmation": -e.amount}.get(e.kind, ZERO)
            assert (e.limit_after, e.used_after, e.available_after) == (limit, used, limit - used)
            assert e.amount > 0 and limit >= 0
        figures = sel.credit_account(partner.pk, customer.pk, "CNY")
        assert (figures.limit, figures.used, figures.available) == (limit, used, limit - used)


@DB_SETTINGS
@given(amounts=st.lists(totals, min_size=1, max_size=4), ops=st.lists(operation, max_size=12))
def test_no_sequence_of_operations_breaks_the_credit_invariants(org, amounts, ops):
    try:
        with transaction.atomic(), clock.frozen_at(T0):
            bills = make_bills(org, amounts)
            for op in ops:
                apply(org, bills, op)
                check_invariants(org, bills)
            raise Rollback
    except Rollback:
        pass


def _outcome(org, bills: list[CustomerBill]) -> tuple:
    confirmed = [
        (c.bill_id, c.amount, c.is_full) for c in Confirmation.objects.filter(bill__in=bills).order_by("bill_id", "pk")
    ]
    figures = [sel.credit_account(org.partners["sp-a"].pk, org.customers[a].pk, "CNY") for a in ACCOUNTS]
    return confirmed, [(f.limit, f.used, f.available) for f in figures]


@DB_SETTINGS
@given(
    amounts=st.lists(st.integers(1, 50_000).map(lambda c: D(c).scaleb(-2)), min_size=1, max_size=4),
    partial=st.lists(st.one_of(st.none(), positive), min_size=4, max_size=4),
    chosen=st.sets(which, min_size=1),
)
def test_a_batch_equals_confirming_each_bill_in_full(org, amounts, partial, chosen):
    admin = org.users["sp-a-admin"]
    try:
        with transaction.atomic(), clock.frozen_at(T0):
            bills = make_bills(org, amounts)
            for b, amount in zip(bills, partial, strict=False):
                if amount is not None and amount < b.total:
                    svc.confirm(actor=admin, bill_id=b.pk, amount=amount)
            picked = [bills[i] for i in sorted(chosen) if i < len(bills)]
            if not picked:
                raise Rollback
            results = []
            for mode in ("batch", "each"):
                try:
                    with transaction.atomic():
                        if mode == "batch":
                            svc.batch_confirm(actor=admin, bill_ids=[b.pk for b in picked])
                        else:
                            for b in picked:
                                svc.confirm(actor=admin, bill_id=b.pk)
                        results.append(_outcome(org, bills))
                        raise Rollback
                except Rollback:
                    pass
            assert results[0] == results[1]
            assert all(sel.remaining(b) > 0 for b in picked)
            raise Rollback
    except Rollback:
        pass
