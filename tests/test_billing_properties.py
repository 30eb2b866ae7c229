"""Money invariants of the monthly close, over generated ledgers (hypothesis):

- a bill equals the sum of its reseller customers' line items of the month plus the corrections
  it carries, and its stored totals per product and per customer are the sums of its lines;
- closing twice equals closing once;
- a late line item for a closed month leaves that bill untouched and shows up on the next one.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from partnercenter.billing import services
from partnercenter.billing.models import Bill, BillLine, Invoice
from partnercenter.usage import selectors as usage
from tests.test_billing_close import SHANGHAI, ingest, rec
from tests.test_billing_summaries import assert_summaries_match_lines

FEB, MARCH, APRIL = dt.date(2026, 2, 1), dt.date(2026, 3, 1), dt.date(2026, 4, 1)
ACCOUNTS = ("a1", "a2", "a3", "b1", "s1", "r1")  # a2 and r1 are referral customers
RESELLER_PARTNER = {"a1": "sp-a", "a3": "sp-a", "b1": "sp-b", "s1": "sub1"}

amounts = st.decimals(min_value=Decimal("-1000"), max_value=Decimal("1000"), places=15, allow_nan=False)
# Seconds from 2026-02-01 00:00 Shanghai into March's last second and April's first: month edges.
moments = st.one_of(
    st.integers(0, 59 * 86400 - 1),
    st.sampled_from([28 * 86400 - 1, 28 * 86400, 59 * 86400 - 1, 59 * 86400]),
)
items = st.lists(
    st.tuples(st.sampled_from(ACCOUNTS), amounts, moments, st.sampled_from(["Usage", "Tax", "Credit"])),
    min_size=1,
    max_size=12,
)
START = dt.datetime(2026, 2, 1, tzinfo=SHANGHAI)


def _records(prefix: str, rows: list[tuple[str, Decimal, int, str]]) -> list[dict[str, str]]:
    return [
        rec(f"{prefix}{i}", acct, format(amount, "f"), START + dt.timedelta(seconds=s), charge_category=cat)
        for i, (acct, amount, s, cat) in enumerate(rows)
    ]


def _expected(rows: list[tuple[str, Decimal, int, str]], month: dt.date) -> dict[str, Decimal]:
    per: dict[str, Decimal] = defaultdict(Decimal)
    for acct, amount, s, _ in rows:
        day = (START + dt.timedelta(seconds=s)).date()
        if acct in RESELLER_PARTNER and day.replace(day=1) == month:
            per[RESELLER_PARTNER[acct]] += amount
    return dict(per)


def _bills(month: dt.date) -> dict[str, Decimal]:
    return dict(Bill.objects.filter(month=month).values_list("partner__code", "amount"))


def _invariants() -> None:
    for bill in Bill.objects.all():
        lines = list(BillLine.objects.filter(bill=bill))
        assert bill.amount == sum((line.amount for line in lines), Decimal(0))
        assert bill.amount == bill.expenditure - bill.refund + bill.adjustment + bill.tax
        assert Invoice.objects.filter(bill=bill).exists() is (bill.amount > 0)
        assert_summaries_match_lines(bill)


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(before=items, late=items)
def test_bills_add_up_closing_again_changes_nothing_and_late_items_move_on(org, before, late):
    with transaction.atomic():
        ingest(_records("B", before), dt.datetime(2026, 4, 2, tzinfo=SHANGHAI))
        services.catch_up(dt.datetime(2026, 4, 5, tzinfo=SHANGHAI))
        assert {p: a for p, a in _bills(FEB).items()} == _expected(before, FEB)
        assert _bills(MARCH) == _expected(before, MARCH)
        closed = list(Bill.objects.order_by("pk").values())
        nothing_due = not usage.closed_month_counts(FEB)
        services.catch_up(dt.datetime(2026, 4, 5, 11, tzinfo=SHANGHAI))  # closing again
        assert list(Bill.objects.order_by("pk").values()) == closed

        ingest(_records("L", late), dt.datetime(2026, 4, 6, tzinfo=SHANGHAI))
        services.catch_up(dt.datetime(2026, 5, 5, tzinfo=SHANGHAI))
        if nothing_due:
            # Nothing was due on 5 April (the ledger began in April): the late rows are not late,
            # and each month from the earliest charge on gets its own bill.
            both = before + late
            for month in (FEB, MARCH, APRIL):
                assert _bills(month) == _expected(both, month)
        else:
            assert list(Bill.objects.filter(month__lte=MARCH).order_by("pk").values()) == closed
            # April's bill: April's own charges plus every late February and March charge.
            expected = defaultdict(Decimal, _expected(before, APRIL))
            for month in (FEB, MARCH, APRIL):
                for p, a in _expected(late, month).items():
                    expected[p] += a
            assert _bills(APRIL) == dict(expected)
        _invariants()
        numbers = sorted(Invoice.objects.values_list("number", flat=True))
        assert numbers == [f"PC-{n:010d}" for n in range(1, len(numbers) + 1)]
        transaction.set_rollback(True)
