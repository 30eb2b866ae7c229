"""Validity and expiry (I8): an issued earning expires one calendar year after its partner left
the program — one second before it is still issued, at that instant it is expired — unless an
open payout application holds it; negative incentives never expire; expired is final."""

from __future__ import annotations

import datetime as dt

import pytest

from partnercenter.core import clock
from partnercenter.core.errors import ValidationFailed
from partnercenter.incentives import payout_selectors as sel
from partnercenter.incentives import payouts
from partnercenter.incentives.models import TRANSITIONS, Enrolment, Incentive, State, Transition
from partnercenter.incentives.workflow import TransitionRefused, transition
from tests.incentive_fixtures import make_incentives

LEFT = dt.datetime(2026, 2, 14, 9, 30, tzinfo=dt.UTC)
YEAR_LATER = dt.datetime(2027, 2, 14, 9, 30, tzinfo=dt.UTC)
SECOND = dt.timedelta(seconds=1)


@pytest.fixture
def made(org):
    made = make_incentives(org)
    Enrolment.objects.filter(partner=org.partners["sp-a"]).update(left_at=LEFT)
    return made


def state(number: str) -> str:
    return Incentive.objects.get(number=number).state


def test_one_second_before_still_issued_at_the_instant_expired(org, made):
    assert payouts.expire_due(YEAR_LATER - SECOND) == 0
    assert state("INC-202512-000001") == State.ISSUED
    assert payouts.expire_due(YEAR_LATER) == 1
    assert state("INC-202512-000001") == State.EXPIRED
    t = Transition.objects.get(incentive__number="INC-202512-000001", to_state=State.EXPIRED)
    assert (t.from_state, t.at, t.actor) == (State.ISSUED, YEAR_LATER, None)
    assert t.reason == "Valid until 2027-02-14T09:30:00+00:00: one year after the partner left the program."
    assert payouts.expire_due(YEAR_LATER + SECOND) == 0  # once


def test_clawbacks_never_expire(org, made):
    payouts.expire_due(YEAR_LATER + dt.timedelta(days=3650))
    assert state("INC-202601-000004") == State.ISSUED
    assert state("INC-202512-000001") == State.EXPIRED


def test_still_enrolled_or_pending_incentives_do_not_expire(org, made):
    assert payouts.expire_due(YEAR_LATER) == 1
    assert state("INC-202601-000001") == State.PENDING  # only issued earnings expire
    assert state("INC-202601-000003") == State.PENDING  # sp-b never left


def test_rejoining_the_program_keeps_the_incentives_valid(org, made):
    Enrolment.objects.create(program=made.cloud, partner=org.partners["sp-a"], joined_at=LEFT + dt.timedelta(days=30))
    assert payouts.expire_due(YEAR_LATER) == 0
    assert state("INC-202512-000001") == State.ISSUED


def test_an_incentive_in_a_submitted_application_does_not_expire(org, made):
    with clock.frozen_at(YEAR_LATER - dt.timedelta(days=1)):
        app = payouts.apply(
            actor=org.users["sp-a-finance"], partner=org.partners["sp-a"], currency="USD", numbers=["INC-202512-000001"]
        )
    assert payouts.expire_due(YEAR_LATER) == 0
    assert state("INC-202512-000001") == State.ISSUED
    # Rejected after its validity ended: the next run expires it.
    with clock.frozen_at(YEAR_LATER + SECOND):
        payouts.decide(actor=org.users["op"], number=app.number, state="rejected")
    assert payouts.expire_due(YEAR_LATER + 2 * SECOND) == 1
    assert state("INC-202512-000001") == State.EXPIRED


def test_expired_cannot_be_applied_for_or_restored(org, made):
    payouts.expire_due(YEAR_LATER)
    inc = Incentive.objects.get(number="INC-202512-000001")
    with clock.frozen_at(YEAR_LATER), pytest.raises(ValidationFailed) as e:
        payouts.apply(
            actor=org.users["sp-a-finance"], partner=org.partners["sp-a"], currency="USD", numbers=[inc.number]
        )
    assert e.value.code == "not_applicable"
    assert State.EXPIRED not in TRANSITIONS  # no transition leaves expired
    for target in State.values:
        with pytest.raises(TransitionRefused):
            transition(inc, target, at=YEAR_LATER + SECOND)
    assert state(inc.number) == State.EXPIRED
    [usd] = sel.applicable(org.partners["sp-a"])
    assert usd.positives == [] and usd.negative_numbers == ["INC-202601-000004"]


def test_leap_day_leaving_expires_on_28_february(org, made):
    Enrolment.objects.filter(partner=org.partners["sp-a"]).update(left_at=dt.datetime(2028, 2, 29, tzinfo=dt.UTC))
    assert payouts.expire_due(dt.datetime(2029, 2, 27, 23, 59, 59, tzinfo=dt.UTC)) == 0
    assert payouts.expire_due(dt.datetime(2029, 2, 28, tzinfo=dt.UTC)) == 1
