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
        assert (
            "Nothing of this month can be queried yet: showing 2026-11-01 to 2026-11-30, "
            "the latest month with queryable data."
        ) in html
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


# ---- bad search options: one clear message ------------------------------------------------------

NOW = dt.datetime(2026, 3, 20, 12, 0, tzinfo=TZ)
EMPTY_MESSAGES = (
    "No data can be queried for this period yet.",
    "No expenditure for these search options.",
    "No expenditure matches the search options.",
    "No line items match the search options.",
)


@pytest.fixture
def known(org: Org) -> Org:
    with clock.frozen_at(NOW):
        ingest([rec("K1", "a1", "5", "2026-03-05")])
        yield org


def _problem(html: str) -> list[str]:
    import re

    block = re.search(r'data-testid="problem"><ul>(.*?)</ul>', html, re.S)
    assert block, html[:2000]
    return [re.sub(r"<[^>]+>", "", li).strip() for li in re.findall(r"<li>(.*?)</li>", block.group(1), re.S)]


BAD = [
    (
        {"reveal": "password"},
        "The reveal option “password” is not valid: only name, email and mobile can be shown in full.",
    ),
    (
        {"reveal": "name,passw<b>rd"},
        "The reveal option “passw&lt;b&gt;rd” is not valid: only name, email and mobile can be shown in full.",
    ),
    ({"start": "2026-03-10", "end": "2026-03-01"}, "Spent on: The start date must not be after the end date."),
    (
        {"start": "2026-03-10", "end": "2026-03-01", "reveal": "name"},
        "Spent on: The start date must not be after the end date.",
    ),
    ({"start": "2026-13-45"}, "Spent on (from): Enter a valid date."),
]


@pytest.mark.parametrize("url", [URL, DETAILS])
@pytest.mark.parametrize(("query", "message"), BAD)
@pytest.mark.parametrize("htmx", [False, True])
def test_bad_search_options_give_one_clear_message(client, known, url, query, message, htmx):
    signed_in(client, known, "sp-a-admin")
    r = client.get(url, query, **({"HTTP_HX_REQUEST": "true"} if htmx else {}))
    assert r.status_code == (200 if htmx else 400)  # htmx swaps only a 2xx response in
    html = text(r)
    assert _problem(html) == [message]
    assert html.count('role="alert"') == 1
    for empty in EMPTY_MESSAGES:
        assert empty not in html
    assert 'id="summary-table"' not in html and 'id="details-table"' not in html
    assert not AuditEntry.objects.filter(action="sensitive.reveal").exists()
    if not htmx:  # the product's page, with the filters to correct the search
        assert "<h1>Customer Expenditure</h1>" in html and 'id="expenditure-filters"' in html


def test_bad_search_options_in_chinese(client, known):
    signed_in(client, known, "sp-a-admin")
    client.cookies["django_language"] = "zh-hans"
    html = text(client.get(URL, {"start": "2026-03-10", "end": "2026-03-01"}))
    assert _problem(html) == ["消费日期：开始日期不能晚于结束日期。"]
    html = text(client.get(URL, {"reveal": "password"}))
    assert _problem(html) == ["显示选项“password”无效：只有名称、邮箱和手机号可以完整显示。"]


API_BAD = [
    (
        "/api/v1/expenditure/summary",
        {"reveal": "password"},
        "reveal: password cannot be revealed; the columns that can are name, email, mobile.",
    ),
    ("/api/v1/expenditure/summary", {"reveal": " "}, None),
    (
        "/api/v1/expenditure/summary",
        {"start": "2026-03-10", "end": "2026-03-01"},
        "start (2026-03-10) must not be after end (2026-03-01).",
    ),
    (
        "/api/v1/expenditure/details",
        {"start": "2026-03-10", "end": "2026-03-01"},
        "start (2026-03-10) must not be after end (2026-03-01).",
    ),
    ("/api/v1/expenditure/details", {"reveal": "password"}, "reveal: only name can be revealed in the details."),
    ("/api/v1/expenditure/details", {"reveal": "email"}, "reveal: only name can be revealed in the details."),
]


@pytest.mark.parametrize(("url", "query", "message"), API_BAD)
def test_api_bad_search_options_are_422(client, known, url, query, message):
    auth = bearer(client, "sp-a-admin")
    r = client.get(url, query, **auth)
    if message is None:  # a blank list asks for nothing
        assert r.status_code == 200
        assert r.json()["items"][0]["customer_name"] == "张*明"
        return
    assert r.status_code == 422, r.content
    assert r.json()["code"] == "validation_error" and r.json()["message"] == message
    assert r.json()["details"][0]["where"] in ("query.reveal", "query.start")
    assert not AuditEntry.objects.filter(action="sensitive.reveal").exists()


def test_api_details_reveal_name_is_audited(client, known):
    auth = bearer(client, "sp-a-admin")
    body = client.get("/api/v1/expenditure/details", {"reveal": "name"}, **auth).json()
    assert [i["customer_name"] for i in body["items"]] == ["张小明"]
    entry = AuditEntry.objects.get(action="sensitive.reveal")
    assert entry.target == "api:/expenditure/details" and entry.detail == {"columns": ["name"]}
    masked = client.get("/api/v1/expenditure/details", **auth).json()
    assert [i["customer_name"] for i in masked["items"]] == ["张*明"]
