"""The demo ends with its past months closed, as the worker would have done on each 5th."""

from __future__ import annotations

import datetime as dt

from partnercenter.billing import services
from partnercenter.billing.models import Bill, BillEstimate
from partnercenter.core import clock
from partnercenter.partners.demo import build_demo
from partnercenter.usage.models import ClosedMonth

NOW = dt.datetime(2026, 3, 10, 4, 0, tzinfo=dt.UTC)


def test_the_demo_has_bills_for_its_past_months(db):
    with clock.frozen_at(NOW):
        build_demo(usage_months=3)
        months = set(Bill.objects.values_list("month", flat=True))
        assert months == {dt.date(2026, 1, 1), dt.date(2026, 2, 1)}  # March's is due on 5 April
        assert BillEstimate.objects.filter(month=dt.date(2026, 3, 1)).exists()
        assert not ClosedMonth.objects.filter(month=dt.date(2026, 3, 1)).exists()
        assert services.catch_up().bills == 0
