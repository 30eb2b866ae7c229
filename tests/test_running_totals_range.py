"""The running totals' split-integer amounts (core.money.split) across the whole accepted range.

An amount is stored as three integers, units + hi·10^-8 + lo·10^-15, so sums and the period
subtraction of running totals are integer arithmetic in SQL on both engines. These properties
check: every accepted amount (up to core.money.MAX_AMOUNT in magnitude, 15 places) splits and
joins back exactly; sums of millions of rows stay exact and inside 64-bit integers up to the
documented bound; and the stored integers, subtracted in SQL by the summary's query, give the
exact Decimal total of the period on the engine under test.
"""

from __future__ import annotations

import datetime as dt
from decimal import Context, Decimal, Inexact

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from partnercenter.core.money import MAX_AMOUNT, SCALE, join, split
from partnercenter.usage import running
from partnercenter.usage.models import CustomerRunningTotal, CustomerTotalKey

INT64 = 2**63 - 1
# A key's running total stays inside 64-bit integers while the magnitudes of its line items add
# up to less than 2^63 units: this many line items at the largest accepted amount.
ROWS_AT_MAX = INT64 // int(MAX_AMOUNT)  # 9,223,372
PURE = settings(max_examples=300, deadline=None, derandomize=True)
DB = settings(
    max_examples=30, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

amounts = st.one_of(
    st.integers(0, SCALE).flatmap(
        lambda places: st.decimals(
            min_value=-MAX_AMOUNT, max_value=MAX_AMOUNT, places=places, allow_nan=False, allow_infinity=False
        )
    ),
    # the edges: the largest magnitudes, and one unit of the 15th place either side of zero
    st.sampled_from(
        [
            MAX_AMOUNT,
            -MAX_AMOUNT,
            MAX_AMOUNT - Decimal("1e-15"),
            -MAX_AMOUNT + Decimal("1e-15"),
            Decimal("1e-15"),
            Decimal("-1e-15"),
            Decimal(0),
        ]
    ),  # fmt: skip
)
# (amount, how many line items carry it): millions of rows without writing millions of rows
weighted = st.lists(st.tuples(amounts, st.integers(1, 3_000_000)), min_size=1, max_size=3)
# the same for each of 4 classifications on 2 days: at most 24 x 380,000 rows, within ROWS_AT_MAX
per_day = st.lists(
    st.lists(st.tuples(amounts, st.integers(1, 380_000)), min_size=1, max_size=3), min_size=4, max_size=4
)


WIDE = Context(prec=80, traps=[Inexact])  # every product and sum below is exact or fails


def exact(items: list[tuple[Decimal, int]]) -> Decimal:
    """Σ amount × rows, in exact Decimal arithmetic."""
    total = Decimal(0)
    for d, n in items:
        total = WIDE.add(total, WIDE.multiply(d, Decimal(n)))
    return total


@PURE
@given(d=amounts)
def test_every_accepted_amount_splits_and_joins_back(d):
    units, hi, lo = split(d)
    assert 0 <= hi < 10**8 and 0 <= lo < 10**7
    assert units == d.to_integral_value(rounding="ROUND_FLOOR")
    assert abs(units) <= MAX_AMOUNT
    assert join(units, hi, lo) == d


@PURE
@given(items=weighted)
def test_sums_of_millions_of_rows_are_exact_and_fit_64_bits(items):
    assert sum(n for _, n in items) <= ROWS_AT_MAX
    parts = [0, 0, 0]
    for d, n in items:
        for i, v in enumerate(split(d)):
            parts[i] += n * v
    assert all(abs(p) <= INT64 for p in parts)
    assert join(*parts) == exact(items)


def test_the_bound_itself_fits():
    # ROWS_AT_MAX line items at the largest magnitude, of either sign, and their fractional parts.
    for d in (MAX_AMOUNT, -MAX_AMOUNT, MAX_AMOUNT - Decimal("1e-15"), -MAX_AMOUNT + Decimal("1e-15")):
        units, hi, lo = split(d)
        assert max(abs(units), hi, lo) * ROWS_AT_MAX <= INT64
        assert join(units * ROWS_AT_MAX, hi * ROWS_AT_MAX, lo * ROWS_AT_MAX) == exact([(d, ROWS_AT_MAX)])


def _stored(key: CustomerTotalKey, day: dt.date, per_class: list[list[int]], count: int) -> None:
    values = {f"{c}_{p}": per_class[i][j] for i, c in enumerate(CustomerRunningTotal.CLASSES)
              for j, p in enumerate(("units", "hi", "lo"))}  # fmt: skip
    CustomerRunningTotal.objects.create(key=key, day=day, line_count=count, **values)


@DB
@given(before=per_day, during=per_day)
def test_the_period_subtraction_in_sql_is_exact(org, before, during):
    """Two running-total rows of one key (through the day before the period, and through its last
    day), holding up to millions of rows per classification: the summary's query subtracts them
    in SQL, and the difference joins to the exact Decimal sum of the period's rows."""
    CustomerRunningTotal.objects.all().delete()
    CustomerTotalKey.objects.all().delete()
    customer = org.customers["a1"]
    key = CustomerTotalKey.objects.create(
        customer=customer, partner=org.partners["sp-a"], association_type="reseller", currency="USD"
    )
    first, last = dt.date(2026, 3, 1), dt.date(2026, 3, 31)
    totals: list[list[int]] = [[0, 0, 0] for _ in range(4)]
    count = 0
    for day, rows in ((first - dt.timedelta(days=1), before), (last, during)):
        for i, items in enumerate(rows):
            for d, n in items:
                count += n
                for j, v in enumerate(split(d)):
                    totals[i][j] += n * v
        _stored(key, day, totals, count)
    (row,) = running.period_rows(None, first, last)
    assert row[:5] == (customer.pk, "a1", customer.name, "reseller", "USD")
    got = row[5:]
    for i, items in enumerate(during):
        assert join(*got[3 * i : 3 * i + 3]) == exact(items)
    assert got[12] == sum(n for items in during for _, n in items)
