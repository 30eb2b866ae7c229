"""The reconciliation workflow (I2, I3, I9): confirming a period together, the deadline to the
second, automatic confirmation, freezing while a bill of the period is unpaid, approval, and
idempotency."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection

from partnercenter.accounts.models import AuditEntry
from partnercenter.billing import payment_services
from partnercenter.billing.models import Bill
from partnercenter.core import clock
from partnercenter.core.errors import DomainError
from partnercenter.incentives import workflow
from partnercenter.incentives.models import Incentive, State, Transition
from tests.incentive_fixtures import DEADLINE, JAN, make_incentives

pytestmark = pytest.mark.django_db
ONE = dt.timedelta(seconds=1)
BEFORE = DEADLINE - ONE


def states(*numbers: str) -> list[str]:
    return [Incentive.objects.get(number=n).state for n in numbers]


def unpaid_bill(org, code: str = "sp-a", month: dt.date = JAN, amount: str = "12.34") -> Bill:
    value = Decimal(amount)
    return Bill.objects.create(
        partner=org.partners[code],
        month=month,
        currency="USD",
        generated_at=dt.datetime(2026, 2, 4, 16, 0, tzinfo=dt.UTC),
        expenditure=value,
        refund=Decimal(0),
        adjustment=Decimal(0),
        tax=Decimal(0),
        amount=value,
    )


def pay(org, code: str = "sp-a", amount: str = "12.34") -> None:
    partner = org.partners[code]
    payment_services.top_up(actor=org.users["op"], partner=partner, currency="USD", amount=amount)
    payment_services.pay_from_balance(actor=org.users[f"{code}-finance"], partner=partner, currency="USD")


def test_confirming_one_confirms_every_pending_incentive_of_the_period(org):
    make_incentives(org)
    with clock.frozen_at(BEFORE):
        done = workflow.confirm_period(actor=org.users["sp-a-finance"], number="INC-202601-000002")
    assert [i.number for i in done.incentives] == ["INC-202601-000001", "INC-202601-000002"]
    assert done.period_start == JAN and done.repeated is False
    assert states("INC-202601-000001", "INC-202601-000002") == [State.ISSUING, State.ISSUING]
    # sp-b's incentive of the same period and sp-a's issued clawback are untouched.
    assert states("INC-202601-000003", "INC-202601-000004") == [State.PENDING, State.ISSUED]
    rows = Transition.objects.filter(to_state=State.ISSUING, incentive__partner=org.partners["sp-a"], at=BEFORE)
    assert sorted((t.incentive.number, t.from_state, t.actor.username, t.reason) for t in rows) == [
        ("INC-202601-000001", State.PENDING, "sp-a-finance", "Confirmed by the partner"),
        ("INC-202601-000002", State.PENDING, "sp-a-finance", "Confirmed by the partner"),
    ]


def test_confirming_again_is_refused_and_changes_nothing(org):
    make_incentives(org)
    with clock.frozen_at(BEFORE):
        workflow.confirm_period(actor=org.users["sp-a-finance"], number="INC-202601-000001")
        count = Transition.objects.count()
        with pytest.raises(DomainError) as e:
            workflow.confirm_period(actor=org.users["sp-a-admin"], number="INC-202601-000002")
    assert (e.value.status, e.value.code) == (409, "not_pending")
    assert e.value.message == "Incentive INC-202601-000002 is Issuing, not pending confirmation; nothing was confirmed."
    assert Transition.objects.count() == count


def test_deadline_one_second_before_and_after(org):
    make_incentives(org)
    with clock.frozen_at(BEFORE):
        assert workflow.auto_confirm_due(clock.now()) == 0
    assert states("INC-202601-000001", "INC-202601-000003") == [State.PENDING, State.PENDING]
    # From the deadline instant on the worker confirms; a partner who comes first still succeeds.
    with clock.frozen_at(DEADLINE):
        done = workflow.confirm_period(actor=org.users["sp-a-finance"], number="INC-202601-000001")
    assert {t.reason for t in Transition.objects.filter(incentive__in=done.incentives, to_state=State.ISSUING)} == {
        "Confirmed by the partner after the deadline, before the automatic confirmation"
    }
    with clock.frozen_at(DEADLINE + ONE):
        assert workflow.auto_confirm_due(clock.now()) == 1
    t = Transition.objects.get(incentive__number="INC-202601-000003", to_state=State.ISSUING)
    assert (t.actor, t.reason, t.at) == (None, "Confirmed automatically after the deadline", DEADLINE + ONE)


def test_auto_confirm_is_idempotent_and_confirms_whole_periods(org):
    make_incentives(org)
    assert workflow.auto_confirm_due(DEADLINE) == 3
    assert states("INC-202601-000001", "INC-202601-000002", "INC-202601-000003") == [State.ISSUING] * 3
    count = Transition.objects.count()
    assert workflow.auto_confirm_due(DEADLINE + dt.timedelta(days=3)) == 0
    assert Transition.objects.count() == count


def test_frozen_while_a_bill_of_the_period_is_unpaid_and_unfrozen_once_paid(org):
    make_incentives(org)
    unpaid_bill(org)
    unpaid_bill(org, month=dt.date(2026, 2, 1), amount="5")  # outside January: does not freeze it
    partner = org.partners["sp-a"]
    assert workflow.frozen_reason(partner, JAN, dt.date(2026, 2, 1)) == "Frozen: bill 2026-01 has 12.34 USD unpaid"
    assert workflow.frozen_reason(org.partners["sp-b"], JAN, dt.date(2026, 2, 1)) is None
    count = Transition.objects.count()
    with clock.frozen_at(BEFORE), pytest.raises(DomainError) as e:
        workflow.confirm_period(actor=org.users["sp-a-finance"], number="INC-202601-000001")
    assert (e.value.status, e.value.code, e.value.message) == (
        409,
        "frozen_unpaid_bills",
        "Frozen: bill 2026-01 has 12.34 USD unpaid",
    )
    assert Transition.objects.count() == count
    # The worker skips the frozen period and confirms sp-b's.
    assert workflow.auto_confirm_due(DEADLINE) == 1
    assert states("INC-202601-000001", "INC-202601-000002", "INC-202601-000003") == [
        State.PENDING,
        State.PENDING,
        State.ISSUING,
    ]
    with clock.frozen_at(DEADLINE + dt.timedelta(hours=1)):
        pay(org, amount="17.34")
    assert workflow.frozen_reason(partner, JAN, dt.date(2026, 2, 1)) is None
    assert workflow.auto_confirm_due(DEADLINE + dt.timedelta(hours=2)) == 2
    assert states("INC-202601-000001", "INC-202601-000002") == [State.ISSUING, State.ISSUING]


def test_a_partly_paid_bill_still_freezes(org):
    make_incentives(org)
    unpaid_bill(org)
    partner = org.partners["sp-a"]
    with clock.frozen_at(BEFORE):
        payment_services.top_up(actor=org.users["op"], partner=partner, currency="USD", amount="10")
        payment_services.pay_from_balance(actor=org.users["sp-a-finance"], partner=partner, currency="USD", amount="10")
    assert workflow.frozen_reason(partner, JAN, dt.date(2026, 2, 1)) == "Frozen: bill 2026-01 has 2.34 USD unpaid"


def test_only_the_own_partner_confirms(org):
    make_incentives(org)
    count = Transition.objects.count()
    for user, status, code in [
        ("sp-b-finance", 404, "incentive_not_found"),
        ("op", 403, "confirm_forbidden"),
    ]:
        with clock.frozen_at(BEFORE), pytest.raises(DomainError) as e:
            workflow.confirm_period(actor=org.users[user], number="INC-202601-000001")
        assert (e.value.status, e.value.code) == (status, code)
    with pytest.raises(DomainError) as e:
        workflow.confirm_period(actor=org.users["sp-a-finance"], number="INC-209901-000001")
    assert (e.value.status, e.value.code) == (404, "incentive_not_found")
    assert Transition.objects.count() == count


def test_idempotency_key_answers_the_first_confirmation_again(org):
    make_incentives(org)
    user = org.users["sp-a-finance"]
    with clock.frozen_at(BEFORE):
        first = workflow.confirm_period(actor=user, number="INC-202601-000001", idempotency_key="k-1")
        count = Transition.objects.count()
        again = workflow.confirm_period(actor=user, number="INC-202601-000001", idempotency_key="k-1")
        assert again.repeated is True
        assert [i.number for i in again.incentives] == [i.number for i in first.incentives]
        with pytest.raises(DomainError) as e:
            workflow.confirm_period(actor=user, number="INC-202601-000002", idempotency_key="k-1")
        assert (e.value.status, e.value.code) == (409, "idempotency_key_reused")
        with pytest.raises(DomainError) as e:
            workflow.confirm_period(actor=user, number="INC-202601-000001", idempotency_key="x" * 201)
        assert (e.value.status, e.value.code) == (422, "validation_error")
    assert Transition.objects.count() == count
    assert AuditEntry.objects.filter(action="incentives.confirm").count() == 1


def test_operator_approves_issuing_only(org):
    make_incentives(org)
    with clock.frozen_at(BEFORE):
        workflow.confirm_period(actor=org.users["sp-a-finance"], number="INC-202601-000001")
    at = BEFORE + dt.timedelta(days=1)
    with clock.frozen_at(at):
        with pytest.raises(DomainError) as e:
            workflow.approve(actor=org.users["sp-a-admin"], number="INC-202601-000001")
        assert (e.value.status, e.value.code) == (403, "approve_forbidden")
        with pytest.raises(DomainError) as e:
            workflow.approve(actor=org.users["op"], number="INC-202601-000003")
        assert (e.value.status, e.value.code) == (409, "not_issuing")
        inc = workflow.approve(actor=org.users["op"], number="INC-202601-000001", idempotency_key="a-1")
        again = workflow.approve(actor=org.users["op"], number="INC-202601-000001", idempotency_key="a-1")
        with pytest.raises(DomainError) as e:
            workflow.approve(actor=org.users["op"], number="INC-202601-000001")
        assert (e.value.status, e.value.code) == (409, "not_issuing")
    assert (inc.state, inc.issued_at, again.state) == (State.ISSUED, at, State.ISSUED)
    stored = Incentive.objects.get(number="INC-202601-000001")
    assert (stored.state, stored.issued_at) == (State.ISSUED, at)
    assert Transition.objects.filter(incentive=stored, to_state=State.ISSUED).count() == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite: BEGIN IMMEDIATE serialises all writers")
@pytest.mark.django_db(transaction=True)
def test_parallel_confirmations_make_one_transition_each(org):
    from tests.test_billing_concurrency import _parallel

    make_incentives(org)
    outcomes: list[str] = []

    def run(user: str, number: str):
        def go() -> None:
            try:
                workflow.confirm_period(actor=org.users[user], number=number)
                outcomes.append("ok")
            except DomainError as e:
                outcomes.append(e.code)

        return go

    jobs = [run("sp-a-finance", "INC-202601-000001"), run("sp-a-admin", "INC-202601-000002")] * 3
    with clock.frozen_at(BEFORE):  # one clock for every thread
        assert _parallel(*jobs) == []
    assert sorted(outcomes) == ["not_pending"] * 5 + ["ok"]
    for number in ("INC-202601-000001", "INC-202601-000002"):
        assert Transition.objects.filter(incentive__number=number, to_state=State.ISSUING).count() == 1


def test_a_pending_negative_incentive_of_the_period_is_confirmed_with_the_earnings(org):
    from partnercenter.incentives.models import IncentiveKind
    from tests.incentive_fixtures import incentive

    made = make_incentives(org)
    incentive(
        made.market,
        "sp-a",
        org,
        period=JAN,
        number="INC-202601-000005",
        lines=[("a3", "CS2512000009", "Security", "-20", "0.1")],
        kind=IncentiveKind.CLAWBACK,
        corrects=dt.date(2025, 12, 1),
    )
    with clock.frozen_at(BEFORE):
        done = workflow.confirm_period(actor=org.users["sp-a-finance"], number="INC-202601-000005")
    assert [(i.number, i.kind, i.amount) for i in done.incentives] == [
        ("INC-202601-000001", "earning", Decimal("27.00")),
        ("INC-202601-000002", "earning", Decimal("5.01")),
        ("INC-202601-000005", "clawback", Decimal("-2.00")),
    ]
    assert states("INC-202601-000001", "INC-202601-000002", "INC-202601-000005") == [State.ISSUING] * 3
