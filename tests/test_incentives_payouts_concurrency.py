"""Payout applications at the same time (I7, I8): one incentive ends up in one open application,
an application racing the expiry either holds the incentive or finds it expired, two partners
applying at once get different numbers, and two operators deciding at once decide once.
PostgreSQL: SQLite's BEGIN IMMEDIATE already serialises every writer."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection

from partnercenter.billing.models import StatementEntry
from partnercenter.core import clock
from partnercenter.core.errors import DomainError
from partnercenter.incentives import payouts
from partnercenter.incentives.models import Application, ApplicationDecision, Enrolment, Incentive, State
from tests.incentive_fixtures import incentive, make_incentives
from tests.test_billing_concurrency import _parallel

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite: BEGIN IMMEDIATE serialises all writers"),
    pytest.mark.django_db(transaction=True),
]
NOW = dt.datetime(2026, 3, 10, 4, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def now():
    with clock.frozen_at(NOW):
        yield


def attempt(outcomes: list[object], write):  # noqa: ANN001
    def run() -> None:
        try:
            outcomes.append(write().number)
        except DomainError as e:
            outcomes.append(e.code)

    return run


def test_one_incentive_one_open_application(org):
    make_incentives(org)
    outcomes: list[object] = []
    apply = attempt(
        outcomes,
        lambda: payouts.apply(
            actor=org.users["sp-a-finance"], partner=org.partners["sp-a"], currency="USD", numbers=["INC-202512-000001"]
        ),
    )
    assert _parallel(*[apply] * 6) == []
    assert sorted(map(str, outcomes)) == ["PAY-20260310-000001"] + ["already_in_application"] * 5
    assert Application.objects.get().amount == Decimal("55")


def test_an_application_racing_the_expiry(org):
    made = make_incentives(org)
    Enrolment.objects.filter(partner=org.partners["sp-a"]).update(left_at=NOW - dt.timedelta(days=366))
    outcomes: list[object] = []
    apply = attempt(
        outcomes,
        lambda: payouts.apply(
            actor=org.users["sp-a-finance"], partner=org.partners["sp-a"], currency="USD", numbers=["INC-202512-000001"]
        ),
    )
    assert _parallel(apply, lambda: outcomes.append(payouts.expire_due(NOW))) == []
    state = Incentive.objects.get(pk=made.by_number["INC-202512-000001"].pk).state
    if Application.objects.exists():
        assert state == State.ISSUED and sorted(map(str, outcomes)) == ["0", "PAY-20260310-000001"]
    else:
        assert state == State.EXPIRED and sorted(map(str, outcomes)) == ["1", "not_applicable"]


def test_two_partners_at_once_get_different_numbers(org):
    made = make_incentives(org)
    incentive(
        made.cloud,
        "sp-b",
        org,
        period=dt.date(2025, 12, 1),
        number="INC-202512-000002",
        lines=[("b1", "CS-B", "Compute", "100", "0.03")],
        state=State.ISSUED,
    )
    outcomes: list[object] = []
    jobs = [
        attempt(
            outcomes,
            lambda code=code, number=number: payouts.apply(
                actor=org.users[f"{code}-finance"], partner=org.partners[code], currency="USD", numbers=[number]
            ),
        )
        for code, number in (("sp-a", "INC-202512-000001"), ("sp-b", "INC-202512-000002"))
    ]
    assert _parallel(*jobs) == []
    assert sorted(map(str, outcomes)) == ["PAY-20260310-000001", "PAY-20260310-000002"]


def test_two_operators_decide_once(org):
    make_incentives(org)
    app = payouts.apply(
        actor=org.users["sp-a-finance"], partner=org.partners["sp-a"], currency="USD", numbers=["INC-202512-000001"]
    )
    outcomes: list[object] = []

    def decide():
        return payouts.decide(actor=org.users["op"], number=app.number, state="approved", payout_method="balance")

    def run() -> None:
        try:
            outcomes.append(decide().state)
        except DomainError as e:
            outcomes.append(e.code)

    assert _parallel(*[run] * 4) == []
    assert sorted(map(str, outcomes)) == ["already_decided"] * 3 + ["approved"]
    assert ApplicationDecision.objects.count() == 1
    assert [(e.amount, e.balance_after) for e in StatementEntry.objects.all()] == [(Decimal("55"), Decimal("55"))]
