"""Revenue sharing over generated ledgers (hypothesis): per product the statement's sales equal the
exact sum of that product's marketplace line items of the month (tax, other months, cloud items
and other products excluded), the details are exactly those line items, the platform share is
``round_minor(sales × rate)`` half up and the two shares add up to the sales exactly."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from partnercenter.marketplace import selectors as sel
from tests.incentive_ledger import SHANGHAI, ingest, rec
from tests.marketplace_fixtures import make_market

MARCH = dt.date(2026, 3, 1)
ACCOUNTS = ("a1", "a2", "a3", "b1", "s1", "r1")
SERVICES = {"SecureWAF Pro": ("waf", Decimal("0.2")), "DataViz BI": ("bi", Decimal("0.15")), "Security Scan": None}
START = dt.datetime(2026, 2, 1, tzinfo=SHANGHAI)

amounts = st.decimals(min_value=Decimal("-1000"), max_value=Decimal("1000"), places=15, allow_nan=False)
moments = st.one_of(
    st.integers(0, 59 * 86400 - 1),
    st.sampled_from([28 * 86400 - 1, 28 * 86400, 59 * 86400 - 1, 59 * 86400]),
)
items = st.lists(
    st.tuples(
        st.sampled_from(ACCOUNTS),
        amounts,
        moments,
        st.sampled_from(["Usage", "Tax", "Credit"]),
        st.sampled_from(sorted(SERVICES)),
        st.sampled_from(["marketplace", "cloud"]),
    ),
    min_size=1,
    max_size=12,
)
Row = tuple[str, Decimal, int, str, str, str]


def _expected(rows: list[Row]) -> dict[str, tuple[Decimal, int]]:
    per: dict[str, list] = defaultdict(lambda: [Decimal(0), 0])
    for _acct, amount, s, cat, service, kind in rows:
        day = (START + dt.timedelta(seconds=s)).date()
        if kind == "marketplace" and cat != "Tax" and day.replace(day=1) == MARCH and SERVICES[service]:
            code = SERVICES[service][0]  # type: ignore[index]
            per[code][0] += amount
            per[code][1] += 1
    return {k: (v[0], v[1]) for k, v in per.items()}


@settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=items)
@example(rows=[("a1", Decimal("0.125"), 28 * 86400, "Usage", "SecureWAF Pro", "marketplace")])
@example(rows=[("b1", Decimal("5.3"), 30 * 86400, "Usage", "DataViz BI", "marketplace"),
               ("a1", Decimal("3"), 31 * 86400, "Usage", "DataViz BI", "marketplace")])  # fmt: skip
@example(rows=[("a1", Decimal("0.5"), 28 * 86400 - 1, "Usage", "SecureWAF Pro", "marketplace"),
               ("a3", Decimal("-7.005"), 59 * 86400 - 1, "Credit", "SecureWAF Pro", "marketplace"),
               ("a1", Decimal("6.0003"), 40 * 86400, "Tax", "SecureWAF Pro", "marketplace"),
               ("s1", Decimal("999.999999999999999"), 40 * 86400, "Usage", "SecureWAF Pro", "cloud")])  # fmt: skip
def test_statement_equals_its_line_items_exactly(org, rows):
    with transaction.atomic():
        make_market(org)
        records = [
            rec(f"P{i}", acct, format(amount, "f"), START + dt.timedelta(seconds=s), charge_category=cat,
                service_name=service, service_type=kind)
            for i, (acct, amount, s, cat, service, kind) in enumerate(rows)
        ]  # fmt: skip
        ingest(records, dt.datetime(2026, 4, 2, tzinfo=SHANGHAI))
        user = org.users["sp-a-finance"]
        st_ = sel.statement(user, "sp-a", MARCH)
        got = {line.product.code: (line.sales, line.count) for line in st_.lines}
        assert got == _expected(rows)
        details = list(sel.statement_items(user, "sp-a", MARCH))
        assert sum((i.billed_cost for i in details), Decimal(0)) == sum((v[0] for v in got.values()), Decimal(0))
        assert len(details) == sum(v[1] for v in got.values())
        rates = {v[0]: v[1] for v in SERVICES.values() if v}
        for line in st_.lines:
            exact = line.sales * rates[line.product.code]
            assert line.platform_share == exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
            assert line.platform_share + line.partner_share == line.sales
        transaction.set_rollback(True)
