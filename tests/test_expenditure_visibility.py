"""Customer expenditure: rules E2 and E3 together. An account manager's figures start the day
after the assignment and end at the last queryable day; the summary always equals the line
items the same manager sees in the details, whatever the assignment day, period and clock."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from partnercenter.core import clock
from partnercenter.expenditure import selectors
from partnercenter.partners import services as partner_services
from partnercenter.partners.models import AccountManagerAssignment
from tests.conftest import Org
from tests.test_console import signed_in, text
from tests.test_expenditure_console import URL, amount, ingest, rec, summary_rows, totals

D = Decimal
TZ = clock.billing_tz()


def _assign(org: Org, account: str, at: dt.datetime) -> None:
    with clock.frozen_at(at):
        partner_services.assign_customers(
            actor=org.users["sp-a-admin"], customers=[org.customers[account]], manager=org.users["sp-a-account_manager"]
        )


def _details_by_currency(user, f: selectors.SummaryFilter, at: dt.datetime) -> dict[str, Decimal]:  # noqa: ANN001
    d = selectors.details(user, selectors.DetailFilter(start=f.start, end=f.end), limit=10_000, at=at)
    assert d.total == len(d.rows)
    out: dict[str, Decimal] = defaultdict(Decimal)
    for row in d.rows:
        out[row["billing_currency"]] += row["billed_cost"]
    return dict(out)


def test_a_customer_assigned_today_shows_no_negative_figures(client, org):
    # Charges on every day up to today (2026-03-20); today's and yesterday's are not queryable.
    now = dt.datetime(2026, 3, 20, 12, 0, tzinfo=TZ)
    with clock.frozen_at(now):
        ingest([rec(f"N{d}", "a1", "3.16", f"2026-03-{d:02d}") for d in range(15, 21)])
    _assign(org, "a1", now)
    manager = org.users["sp-a-account_manager"]
    with clock.frozen_at(now):
        # Visible from 03-21, queryable through 03-18: nothing to show, and never a negative.
        result = selectors.summary(manager, selectors.SummaryFilter())
        assert (result.rows, result.total, result.totals) == ([], 0, {})
        signed_in(client, org, "sp-a-account_manager")
        html = text(client.get(URL))
        assert summary_rows(html) == {} and totals(html) == {}
        assert "-3.16" not in html
    # Two days after the assignment took effect the manager sees exactly 03-21 and 03-22.
    with clock.frozen_at(now):
        ingest([rec(f"N{d}", "a1", "3.16", f"2026-03-{d:02d}") for d in range(21, 25)])
    with clock.frozen_at(dt.datetime(2026, 3, 24, 0, 0, tzinfo=TZ)):
        html = text(client.get(URL, {"start": "2026-03-01", "end": "2026-03-31"}))
        row = summary_rows(html)[("a1", "reseller", "USD")]
        assert amount(row, "expenditure") == amount(row, "net") == D("6.32")
    with clock.frozen_at(dt.datetime(2026, 3, 23, 23, 59, 59, tzinfo=TZ)):
        html = text(client.get(URL, {"start": "2026-03-01", "end": "2026-03-31"}))
        row = summary_rows(html)[("a1", "reseller", "USD")]
        assert amount(row, "expenditure") == D("3.16")


# ---- property: an account manager's summary equals the details they see ------------------------

FIRST = dt.date(2026, 3, 1)
DAYS = 40  # charges on 2026-03-01 … 2026-04-09
RECORDS = [
    rec(f"V{i}", account, amount_, (FIRST + dt.timedelta(days=i % DAYS)).isoformat(), hour=i % 24, currency=cur)
    for i, (account, amount_, cur) in enumerate(
        [
            ("a1", "3.16", "USD"),
            ("a3", "-1.000000000000001", "USD"),
            ("a1", "0.5", "CNY"),
            ("a2", "7", "USD"),
            ("a3", "12.345", "USD"),
            ("a1", "-0.25", "USD"),
        ]
        * 20
    )
]


def _instant(offset_seconds: int) -> dt.datetime:
    return clock.start_of_day(FIRST) + dt.timedelta(seconds=offset_seconds)


seconds = st.integers(min_value=0, max_value=(DAYS + 5) * 86400 - 1)
day_offsets = st.one_of(st.none(), st.integers(min_value=-5, max_value=DAYS + 5))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    assigned=st.lists(seconds, min_size=1, max_size=3),
    # The clock mostly within days of the first assignment, where E2 and E3 meet.
    clock_after=st.one_of(st.integers(-86400, 4 * 86400), st.integers(-45 * 86400, 45 * 86400)),
    start=day_offsets,
    length=st.integers(min_value=0, max_value=DAYS),
    end_given=st.booleans(),
)
def test_account_manager_summary_equals_the_details_they_see(org, assigned, clock_after, start, length, end_given):
    if not getattr(org, "_visibility_ingested", False):
        with clock.frozen_at(_instant(0)):
            ingest(RECORDS)
        org._visibility_ingested = True  # type: ignore[attr-defined]
    AccountManagerAssignment.objects.all().delete()
    for account, at in zip(("a1", "a3", "a2"), assigned, strict=False):
        _assign(org, account, _instant(at))
    manager = org.users["sp-a-account_manager"]
    d_start = FIRST + dt.timedelta(days=start) if start is not None else None
    d_end = (d_start or FIRST) + dt.timedelta(days=length) if end_given else None
    f = selectors.SummaryFilter(start=d_start, end=d_end)
    at = _instant(assigned[0] + clock_after)
    with clock.frozen_at(at):
        result = selectors.summary(manager, f, limit=1000, at=at)
        details = _details_by_currency(manager, f, at)
    # Summary rows add up to the totals; the totals equal the details, currency by currency.
    by_row: dict[str, Decimal] = defaultdict(Decimal)
    for r in result.rows:
        by_row[r.currency] += r.net
        assert r.net == r.expenditure - r.refund + r.adjustment + r.tax
    assert {c: t["net"] for c, t in result.totals.items()} == dict(by_row)
    assert {c: v for c, v in by_row.items() if v or c in details} == details
    # Nothing before the day after an assignment, nothing after the last queryable day.
    p = result.period
    for r in result.rows:
        a = AccountManagerAssignment.objects.get(customer__account_id=r.account_id, ended_at__isnull=True)
        assert clock.billing_date(a.effective_from) <= p.end
    assert p.end <= clock.billing_date(at) - dt.timedelta(days=2)
