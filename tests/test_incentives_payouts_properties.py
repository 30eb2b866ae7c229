"""Property: an application's amount is exactly Σ selected earnings + Σ every open negative and
is never negative; otherwise it is refused and nothing is written."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from partnercenter.core import clock
from partnercenter.core.errors import ValidationFailed
from partnercenter.incentives import payouts
from partnercenter.incentives.models import Application, ApplicationItem, IncentiveKind, State
from tests.incentive_fixtures import incentive, make_incentives


class Rollback(Exception):
    pass


NOW = dt.datetime(2026, 3, 10, 4, 0, tzinfo=dt.UTC)
CENTS = st.integers(min_value=1, max_value=10**9)


@pytest.mark.django_db(transaction=False)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    positives=st.lists(CENTS, min_size=1, max_size=4),
    negatives=st.lists(CENTS, min_size=0, max_size=3),
    chosen=st.integers(min_value=1, max_value=15),
)
@example(positives=[500], negatives=[500], chosen=1)  # equal: amount 0 is allowed
@example(positives=[499], negatives=[500], chosen=1)  # one cent short: refused
@example(positives=[1, 1000], negatives=[600], chosen=1)  # only the small one selected: refused
@example(positives=[1, 1000], negatives=[600], chosen=3)
def test_amount_is_selected_plus_all_negatives(org, positives, negatives, chosen):
    # Each example in its own savepoint, undone afterwards: the next one starts from the fixture.
    with pytest.raises(Rollback), transaction.atomic():
        _check(org, positives, negatives, chosen)
        raise Rollback


def _check(org, positives, negatives, chosen):
    made = make_incentives(org)
    # One incentive per program, partner, period and kind: each generated one gets its own month.
    numbers = []
    for i, cents in enumerate(positives):
        base = str(Decimal(cents) / 10)  # × 0.1 = cents / 100 exactly
        incentive(
            made.market,
            "sp-a",
            org,
            period=dt.date(2025, 1 + i, 1),
            number=f"INC-P-{i}",
            lines=[("a3", f"P{i}", "Security", base, "0.1")],
            state=State.ISSUED,
        )
        numbers.append(f"INC-P-{i}")
    for i, cents in enumerate(negatives):
        incentive(
            made.market,
            "sp-a",
            org,
            period=dt.date(2024, 1 + i, 1),
            number=f"INC-N-{i}",
            kind=IncentiveKind.CLAWBACK,
            lines=[("a3", f"N{i}", "Security", str(-Decimal(cents) / 10), "0.1")],
            state=State.ISSUED,
        )
    selected = [n for i, n in enumerate(numbers) if chosen >> i & 1] or numbers[:1]
    pos = sum((Decimal(c) / 100 for i, c in enumerate(positives) if numbers[i] in selected), Decimal(0))
    # The fixture's own clawback of -5.00 is always included too.
    neg = -sum((Decimal(c) / 100 for c in negatives), Decimal(0)) - Decimal("5.00")
    actor, partner = org.users["sp-a-finance"], org.partners["sp-a"]
    with clock.frozen_at(NOW):
        if pos + neg < 0:
            with pytest.raises(ValidationFailed) as e:
                payouts.apply(actor=actor, partner=partner, currency="USD", numbers=selected)
            assert e.value.code == "negatives_exceed_positives"
            assert Application.objects.count() == 0 and ApplicationItem.objects.count() == 0
            return
        app = payouts.apply(actor=actor, partner=partner, currency="USD", numbers=selected)
    assert (app.positive_total, app.negative_total, app.amount) == (pos, neg, pos + neg)
    assert app.amount >= 0
    assert sum((i.amount for i in ApplicationItem.objects.filter(application=app)), Decimal(0)) == app.amount
    assert ApplicationItem.objects.filter(application=app).count() == len(selected) + len(negatives) + 1
