"""Customer expenditure: the default period and bad search options. Without dates the page
shows the latest month with queryable data (E2); a bad reveal or an inverted date range is one
clear message on the page and a 422 in the API, never a server error or a silent empty page."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from partnercenter.accounts.models import AuditEntry
from partnercenter.core import clock
from partnercenter.expenditure import selectors
from tests.conftest import Org
from tests.test_console import signed_in, text
from tests.test_expenditure_console import DETAILS, URL, amount, detail_rows, ingest, rec, summary_rows, totals
from tests.test_usage_api import bearer

D = Decimal
TZ = clock.billing_tz()
NOV = [rec(f"N{d}", "a1", "1.25", f"2026-11-{d:02d}") for d in range(1, 31)]
DEC = [rec(f"D{d}", "a1", "100", f"2026-12-{d:02d}") for d in range(1, 4)]


@pytest.fixture
def nov_dec(org: Org) -> Org:
    with clock.frozen_at(dt.datetime(2026, 12, 3, 12, 0, tzinfo=TZ)):
        ingest(NOV + DEC)
    return org


@pytest.mark.parametrize(
    ("local", "start", "end"),
    [
        (dt.datetime(2026, 11, 30, 23, 59, 59), dt.date(2026, 11, 1), dt.date(2026, 11, 28)),
        (dt.datetime(2026, 12, 1, 0, 0, 0), dt.date(2026, 11, 1), dt.date(2026, 11, 29)),
        (dt.datetime(2026, 12, 2, 23, 59, 59), dt.date(2026, 11, 1), dt.date(2026, 11, 30)),
        (dt.datetime(2026, 12, 3, 0, 0, 0), dt.date(2026, 12, 1), dt.date(2026, 12, 1)),
        (dt.datetime(2026, 1, 1, 0, 0, 0), dt.date(2025, 12, 1), dt.date(2025, 12, 30)),
    ],
)
def test_default_period_is_the_latest_month_with_queryable_data(db, local, start, end):
    p = selectors.period(None, None, at=local.replace(tzinfo=TZ))
    assert (p.start, p.end, p.empty) == (start, end, False)
    assert p.fell_back == (start.month != local.month)


def test_on_the_first_days_of_a_month_the_page_shows_last_month_and_says_so(client, nov_dec):
    signed_in(client, nov_dec, "sp-a-admin")
    with clock.frozen_at(dt.datetime(2026, 12, 2, 9, 0, tzinfo=TZ)):
        html = text(client.get(URL))
        assert "No data can be queried for this period yet." not in html
        assert "Spent on 2026-11-01 to 2026-11-30" in html
        assert ("Nothing of this month can be queried yet: showing 2026-11-01 to 2026-11-30, "
                "the latest month with queryable data.") in html
        assert amount(summary_rows(html)[("a1", "reseller", "USD")], "expenditure") == D("37.50")
        assert totals(html)["USD"]["net"] == D("37.50")
        assert 'name="start" id="id_start" value="2026-11-01"' in html
        assert 'name="end" id="id_end" value="2026-11-30"' in html
        details = text(client.get(DETAILS))
        assert len(detail_rows(details)) == 30 and "the latest month with queryable data" in details
        # Dates chosen by the user are kept as they are, with no notice.
        html = text(client.get(URL, {"start": "2026-12-01", "end": "2026-12-02"}))
        assert "No data can be queried for this period yet." in html
        assert "the latest month with queryable data" not in html
    with clock.frozen_at(dt.datetime(2026, 12, 3, 0, 0, tzinfo=TZ)):
        html = text(client.get(URL))
        assert "Spent on 2026-12-01 to 2026-12-01" in html
        assert "the latest month with queryable data" not in html
        assert amount(summary_rows(html)[("a1", "reseller", "USD")], "expenditure") == D("100")


def test_the_api_defaults_to_the_latest_month_with_queryable_data(client, nov_dec):
    auth = bearer(client, "sp-a-admin")
    with clock.frozen_at(dt.datetime(2026, 12, 1, 0, 0, tzinfo=TZ)):
        body = client.get("/api/v1/expenditure/summary", **auth).json()
    assert body["period"]["start"] == "2026-11-01" and body["period"]["end"] == "2026-11-29"
    assert body["period"]["fell_back_to_last_month"] is True
    assert body["totals"]["USD"]["expenditure"] == "36.25"
