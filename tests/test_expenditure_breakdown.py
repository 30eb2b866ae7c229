"""Customer expenditure: every summary row, and the totals row, shows how its Net is made:
Expenditure − Refund + Adjustment + Tax = Net, on screen, in the API and in the export."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest

from partnercenter.core import clock
from tests.conftest import Org
from tests.test_console import signed_in, text
from tests.test_expenditure_console import KNOWN, KNOWN_TOTALS, NOW, URL, cells, ingest, summary_rows
from tests.test_usage_api import bearer

D = Decimal
AMOUNTS = ("expenditure", "refund", "adjustment", "tax", "net")


@pytest.fixture
def known(org: Org) -> Org:
    with clock.frozen_at(NOW - dt.timedelta(hours=1)):
        ingest(KNOWN)
    with clock.frozen_at(NOW):
        yield org


_FOOT = re.compile(r'<tr class="xp-total" data-total-currency="(\w+)">(.*?)</tr>', re.S)


def _adds_up(values: dict[str, Decimal]) -> bool:
    return values["expenditure"] - values["refund"] + values["adjustment"] + values["tax"] == values["net"]


def test_each_summary_row_shows_adjustment_and_tax_and_adds_up(client, known):
    signed_in(client, known, "sp-a-admin")
    html = text(client.get(URL))
    assert re.search(r"<th class=\"num\">\+ Adjustment</th>\s*<th class=\"num\">\+ Tax</th>", html)
    rows = summary_rows(html)
    assert len(rows) == 4
    for key, row in rows.items():
        exact = {k: D(row[k][0]) for k in AMOUNTS}
        assert _adds_up(exact), key
    a1 = {k: v for k, v in rows[("a1", "reseller", "USD")].items() if k in AMOUNTS}
    assert a1 == {
        "expenditure": ("13028.44102312387875", "13,028.44"),
        "refund": ("28.000000000000001", "28.00"),
        "adjustment": ("0", "0.00"),
        "tax": ("1.5", "1.50"),
        "net": ("13001.941023123878749", "13,001.94"),
    }
    a3 = rows[("a3", "reseller", "USD")]
    assert (a3["adjustment"], a3["tax"], a3["net"]) == (("-2", "-2.00"), ("0", "0.00"), ("-1.999999999999999", "-2.00"))
    # The totals row of each currency, under the table: the same five amounts, adding up.
    foot = {cur: {k: D(v[0]) for k, v in cells(block).items() if k in AMOUNTS} for cur, block in _FOOT.findall(html)}
    assert foot == KNOWN_TOTALS
    assert all(_adds_up(t) for t in foot.values())


def test_chinese_headers_show_the_breakdown(client, known):
    signed_in(client, known, "sp-a-admin")
    client.cookies["django_language"] = "zh-hans"
    html = text(client.get(URL))
    assert re.search(r"<th class=\"num\">\+ 调账</th>\s*<th class=\"num\">\+ 税费</th>", html)
    assert "查询条件下的合计" in html


def test_api_summary_rows_and_totals_carry_the_breakdown(client, known):
    body = client.get("/api/v1/expenditure/summary", **bearer(client, "sp-a-admin")).json()
    for item in body["items"]:
        assert _adds_up({k: D(item[k]) for k in AMOUNTS}), item
    for t in body["totals"].values():
        assert set(t) == set(AMOUNTS) and _adds_up({k: D(t[k]) for k in AMOUNTS})
