"""Money invariants of incentives, over generated ledgers (hypothesis, derandomized):

- an incentive's amount is the exact sum of its lines' amounts, and each line's amount is its
  base × rate rounded half-up to the cent, once;
- the first period's incentives equal an independent computation (tiers on the whole period,
  product-type rates, tax and adjustments left out, base-0 lines dropped, no earning ≤ 0);
- a clawback only takes back orders that earned earlier, at the rate they earned;
- catching up twice equals catching up once.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from partnercenter.incentives import services
from partnercenter.incentives.models import Incentive, Line
from partnercenter.incentives.programs import RateSpec
from tests.incentive_ledger import SHANGHAI, ingest, program, rec

FEB, MARCH = dt.date(2026, 2, 1), dt.date(2026, 3, 1)
ACCOUNTS = ("a1", "a3", "b1", "a2")  # a2 is a referral customer: never in a reseller program
RESELLER_PARTNER = {"a1": "sp-a", "a3": "sp-a", "b1": "sp-b"}
CENT = Decimal("0.01")

amounts = st.decimals(min_value=Decimal("-300"), max_value=Decimal("300"), places=15, allow_nan=False)
# Seconds from 1 February 00:00 Shanghai through March, with the month edges sampled often.
moments = st.one_of(st.integers(0, 59 * 86400 - 1), st.sampled_from([0, 28 * 86400 - 1, 28 * 86400, 59 * 86400 - 1]))
items = st.lists(
    st.tuples(
        st.sampled_from(ACCOUNTS),
        amounts,
        moments,
        st.sampled_from(["Usage", "Usage", "Purchase", "Tax", "Credit"]),
        st.sampled_from(["Compute", "Storage"]),
        st.sampled_from(["O1", "O2", "O3", ""]),
    ),
    min_size=1,
    max_size=14,
)
START = dt.datetime(2026, 2, 1, tzinfo=SHANGHAI)
Row = tuple[str, Decimal, int, str, str, str]


def _records(rows: list[Row]) -> list[dict[str, str]]:
    return [
        rec(
            f"P{i}",
            acct,
            format(amount, "f"),
            START + dt.timedelta(seconds=s),
            charge_category=cat,
            product=pt,
            order=o,
        )
        for i, (acct, amount, s, cat, pt, o) in enumerate(rows)
    ]


def _rate(product: str, total: Decimal) -> Decimal:
    if product == "Storage":
        return Decimal("0.021")
    return Decimal("0.05") if total >= 100 else Decimal("0.03")


def _expected_february(rows: list[Row]) -> dict[str, Decimal]:
    """Each partner's February earning, computed without the product's code."""
    groups: dict[str, dict[tuple[str, str, str], Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for acct, amount, s, cat, product, order in rows:
        day = (START + dt.timedelta(seconds=s)).date()
        if acct in RESELLER_PARTNER and cat in ("Usage", "Purchase") and day < MARCH:
            groups[RESELLER_PARTNER[acct]][(acct, order, product)] += amount
    out = {}
    for partner, lines in groups.items():
        total = sum(lines.values(), Decimal(0))
        kept = [(k, v) for k, v in lines.items() if v != 0]
        if total > 0 and kept:
            out[partner] = sum(((v * _rate(k[2], total)).quantize(CENT, ROUND_HALF_UP) for k, v in kept), Decimal(0))
    return out


def _invariants() -> None:
    for incentive in Incentive.objects.all():
        lines = list(Line.objects.filter(incentive=incentive))
        assert incentive.amount == sum((line.amount for line in lines), Decimal(0))
        assert incentive.base_amount == sum((line.base_amount for line in lines), Decimal(0))
        assert incentive.line_count == len(lines) > 0
        for line in lines:
            assert line.base_amount != 0
            assert line.amount == (line.base_amount * line.rate).quantize(CENT, ROUND_HALF_UP)
        if incentive.kind == "earning":
            assert incentive.base_amount > 0


def _clawbacks_take_back_what_earned() -> None:
    """At the rate of the earlier line of the same order and product type, else of the order's
    latest earlier line (a refund booked under another product type than the purchase)."""
    earned: dict[tuple[object, ...], Decimal] = {}
    for line in Line.objects.filter(incentive__period_start=FEB, incentive__kind="earning").order_by("pk"):
        partner = line.incentive.partner_id
        earned[(partner, line.order_id)] = earned[(partner, line.order_id, line.product_type)] = line.rate
    for line in Line.objects.filter(incentive__kind="clawback").select_related("incentive"):
        assert line.incentive.period_start == MARCH and line.corrects_period == FEB and line.order_id
        partner = line.incentive.partner_id
        rate = earned.get((partner, line.order_id, line.product_type)) or earned[(partner, line.order_id)]
        assert rate == line.rate


def _snapshot() -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    return list(Incentive.objects.order_by("pk").values()), list(Line.objects.order_by("pk").values())


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=items)
def test_incentives_add_up_and_catching_up_again_changes_nothing(org, rows):
    with transaction.atomic():
        program(
            "cloud",
            [RateSpec("0.03"), RateSpec("0.05", min_base="100"), RateSpec("0.021", product_type="Storage")],
        )
        ingest(_records(rows), dt.datetime(2026, 4, 2, tzinfo=SHANGHAI))
        services.catch_up(dt.datetime(2026, 4, 5, tzinfo=SHANGHAI))
        february = dict(
            Incentive.objects.filter(period_start=FEB, kind="earning").values_list("partner__code", "amount")
        )
        assert february == _expected_february(rows)
        assert not Incentive.objects.filter(period_start=FEB, kind="clawback").exists()
        _invariants()
        _clawbacks_take_back_what_earned()
        once = _snapshot()
        again = services.catch_up(dt.datetime(2026, 4, 5, 11, tzinfo=SHANGHAI))
        assert (again.periods, again.incentives) == ([], 0)
        assert _snapshot() == once
        transaction.set_rollback(True)
