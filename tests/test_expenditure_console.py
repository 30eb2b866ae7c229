"""Console page Sales › Customers › Customer Expenditure (seed 000, 002; rules E1–E7):
exact totals and rows, filters, sorting, paging, bills links, the details tab, E2 and E3 at
their boundaries, isolation, the audited eye toggle, exports, and a property test that the
summary equals the line items behind it."""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from decimal import Decimal
from html import unescape as html_unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from partnercenter.accounts.models import AuditEntry
from partnercenter.core import clock
from partnercenter.expenditure import selectors
from partnercenter.exports.models import ExportTask
from partnercenter.partners import services as partner_services
from partnercenter.usage import services as usage_services
from partnercenter.usage.models import (
    CustomerRunningTotal,
    CustomerTotalKey,
    DailyRollup,
    Freshness,
    IngestBatch,
    LineItem,
)
from tests.conftest import T0, Org
from tests.test_console import signed_in, text

URL = "/expenditure/"
DETAILS = "/expenditure/details/"
EXPORT = "/expenditure/export/"
# 2026-03-20 12:00 in Asia/Shanghai: the last visible day (E2) is 2026-03-18.
NOW = dt.datetime(2026, 3, 20, 4, 0, tzinfo=dt.UTC)


def rec(line_id: str, account: str, billed: str, day: str, hour: int = 2, **extra: str) -> dict[str, str]:
    """A native record charged on ``day`` at ``hour``:00 UTC (10:00 in Shanghai by default)."""
    start = dt.datetime.fromisoformat(f"{day}T{hour:02d}:00:00+00:00")
    r = {
        "line_id": line_id,
        "account_id": account,
        "billed_cost": billed,
        "currency": "USD",
        "charge_category": "Usage",
        "charge_period_start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "charge_period_end": (start + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "service_name": "ECS",
        "service_type": "cloud",
        "region_id": "ap-shanghai",
        "billing_mode": "pay_per_use",
        "project": "",
        "order_id": "",
        "resource_id": "",
    }
    r.update(extra)
    return r


KNOWN = [
    rec("L1", "a1", "13028.44102312387875", "2026-03-05", order_id="ORD-1", resource_id="i-1", project="alpha"),
    rec("L2", "a1", "-28.000000000000001", "2026-03-06"),
    rec("L3", "a1", "1.5", "2026-03-07", charge_category="Tax"),
    rec("L4", "a2", "500.125", "2026-03-08", service_name="OBS", region_id="ap-guangzhou"),
    rec("L5", "a2", "100.005", "2026-03-09", currency="CNY"),
    rec(
        "L6",
        "a3",
        "0.000000000000001",
        "2026-03-10",
        charge_category="Purchase",
        service_type="marketplace",
        billing_mode="prepaid_monthly",
        service_name="KooGallery App",
    ),
    rec("L7", "a3", "-2", "2026-03-10", charge_category="Credit"),
    rec("L8", "a1", "999", "2026-03-19"),  # not visible at NOW (E2)
    rec("L9", "a1", "7", "2026-02-27"),  # before the default period (this month)
    rec("L10", "b1", "1000", "2026-03-05"),
    rec("L11", "d1", "10", "2026-03-05"),
    rec("L12", "s1", "20", "2026-03-05"),
    rec("L13", "s2", "30", "2026-03-05"),
]

D = Decimal
KNOWN_TOTALS = {
    "USD": {
        "expenditure": D("13528.566023123878751"),
        "refund": D("28.000000000000001"),
        "adjustment": D("-2"),
        "tax": D("1.5"),
        "net": D("13500.06602312387875"),
    },
    "CNY": {"expenditure": D("100.005"), "refund": D(0), "adjustment": D(0), "tax": D(0), "net": D("100.005")},
}


def ingest(records: list[dict[str, str]]) -> None:
    report = usage_services.ingest_records(records, fmt="native", source="t")
    assert report.error_count == 0, report.errors


@pytest.fixture
def known(org: Org) -> Org:
    with clock.frozen_at(NOW - dt.timedelta(hours=1)):
        ingest(KNOWN)
    return org


@pytest.fixture
def at_now():
    with clock.frozen_at(NOW):
        yield


# ---- parsing the page -----------------------------------------------------------------------

_TOTAL_CARD = re.compile(r'<dl class="total-card" data-currency="(\w+)">(.*?)</dl>', re.S)
_TOTAL = re.compile(r'data-total="(\w+)"><dt>.*?</dt><dd data-exact="([^"]*)" title="[^"]*">(.*?)</dd>', re.S)
_SUMMARY_ROW = re.compile(r'<tr data-account="([^"]+)" data-association="(\w+)" data-currency="(\w+)">(.*?)</tr>', re.S)
_DETAIL_ROW = re.compile(
    r'<tr data-line="(\d+)" data-account="([^"]+)" data-classification="(\w+)" data-currency="(\w+)">(.*?)</tr>', re.S
)
# A value is a cell, or one line of a two-line cell: both carry data-col.
_CELL = re.compile(r'<(td|div)[^>]*data-col="(\w+)"(?:[^>]*?data-exact="([^"]*)")?[^>]*>(.*?)</\1>', re.S)


def totals(html: str) -> dict[str, dict[str, Decimal]]:
    return {cur: {k: Decimal(v) for k, v, _ in _TOTAL.findall(block)} for cur, block in _TOTAL_CARD.findall(html)}


def shown_totals(html: str) -> dict[str, dict[str, str]]:
    def plain(s: str) -> str:
        return " ".join(re.sub(r"<[^>]+>", " ", s).split())

    return {cur: {k: plain(s) for k, _, s in _TOTAL.findall(block)} for cur, block in _TOTAL_CARD.findall(html)}


def cells(block: str) -> dict[str, tuple[str, str]]:
    return {col: (exact, re.sub(r"<[^>]+>", "", content).strip()) for _, col, exact, content in _CELL.findall(block)}


def summary_rows(html: str) -> dict[tuple[str, str, str], dict[str, tuple[str, str]]]:
    return {(acc, assoc, cur): cells(block) for acc, assoc, cur, block in _SUMMARY_ROW.findall(html)}


def summary_order(html: str) -> list[tuple[str, str]]:
    return [(acc, cur) for acc, _, cur, _ in _SUMMARY_ROW.findall(html)]


def detail_rows(html: str) -> list[dict[str, object]]:
    out = []
    for line, acc, cls, cur, block in _DETAIL_ROW.findall(html):
        c = cells(block)
        out.append(
            {
                "line": int(line),
                "account": acc,
                "class": cls,
                "currency": cur,
                "billed": Decimal(c["billed_cost"][0]),
                "name": c["name"][1],
            }
        )
    return out


def line_ids(rows: list[dict[str, object]]) -> set[str]:
    return set(LineItem.objects.filter(pk__in=[r["line"] for r in rows]).values_list("x_line_id", flat=True))


def amount(row: dict[str, tuple[str, str]], col: str) -> Decimal:
    return Decimal(row[col][0])


# ---- the summary tab: exact figures -----------------------------------------------------------


def test_summary_shows_exact_totals_and_rows_for_a_known_data_set(client, known, at_now):
    signed_in(client, known, "sp-a-admin")
    r = client.get(URL)
    assert r.status_code == 200
    html = text(r)
    assert "<h1>Customer Expenditure</h1>" in html
    assert totals(html) == KNOWN_TOTALS
    assert shown_totals(html)["USD"]["expenditure"] == "13,528.57 USD"
    assert shown_totals(html)["USD"]["refund"] == "28.00 USD"
    assert shown_totals(html)["USD"]["net"] == "13,500.07 USD"
    assert shown_totals(html)["CNY"]["expenditure"] == "100.01 CNY"  # half-up at the minor unit

    rows = summary_rows(html)
    assert set(rows) == {
        ("a1", "reseller", "USD"),
        ("a2", "referral", "USD"),
        ("a2", "referral", "CNY"),
        ("a3", "reseller", "USD"),
    }
    a1 = rows[("a1", "reseller", "USD")]
    assert (amount(a1, "expenditure"), amount(a1, "refund"), amount(a1, "net")) == (
        D("13028.44102312387875"),
        D("28.000000000000001"),
        D("13001.941023123878749"),
    )
    assert a1["expenditure"][1] == "13,028.44"
    assert a1["name"][1] == "张*明" and a1["email"][1] == "a1***@example.com" and a1["mobile"][1] == "138****0000"
    assert "张小明" not in html and "a1@example.com" not in html and "13800000000" not in html
    a2 = rows[("a2", "referral", "USD")]
    assert (amount(a2, "expenditure"), a2["expenditure"][1]) == (D("500.125"), "500.13")
    a3 = rows[("a3", "reseller", "USD")]
    assert (amount(a3, "expenditure"), amount(a3, "net"), a3["net"][1]) == (
        D("0.000000000000001"),
        D("-1.999999999999999"),
        "-2.00",
    )
    # Totals are the sums of the rows (here all on one page).
    for cur, t in KNOWN_TOTALS.items():
        for col in ("expenditure", "refund", "net"):
            assert sum((amount(v, col) for k, v in rows.items() if k[2] == cur), D(0)) == t[col]
    assert "Data complete through" in html and "Asia/Shanghai" in html
    assert "is not the partner bill" in html
    assert "Spent on 2026-03-01 to 2026-03-18" in html


def test_summary_filters_name_dates_association_and_manager(client, known, at_now):
    signed_in(client, known, "sp-a-admin")
    # Customer name: fuzzy, on the real name, case-insensitive.
    html = text(client.get(URL, {"name": "alice"}))
    assert {k[0] for k in summary_rows(html)} == {"a2"}
    assert set(totals(html)) == {"USD", "CNY"}
    assert {k[0] for k in summary_rows(text(client.get(URL, {"name": "小"})))} == {"a1"}
    assert summary_rows(text(client.get(URL, {"name": "****"}))) == {}  # the mask is not searchable
    # Spent on: one day.
    html = text(client.get(URL, {"start": "2026-03-05", "end": "2026-03-05"}))
    assert totals(html) == {
        "USD": {
            "expenditure": D("13028.44102312387875"),
            "refund": D(0),
            "adjustment": D(0),
            "tax": D(0),
            "net": D("13028.44102312387875"),
        }
    }
    # February includes L9 only.
    html = text(client.get(URL, {"start": "2026-02-01", "end": "2026-02-28"}))
    assert totals(html)["USD"]["expenditure"] == D("7")
    # The end is clamped to the last visible day: L8 (03-19) never shows.
    html = text(client.get(URL, {"start": "2026-03-19", "end": "2026-03-31"}))
    assert totals(html) == {} and summary_rows(html) == {}
    # Association type.
    html = text(client.get(URL, {"association_type": "reseller"}))
    assert {k[0] for k in summary_rows(html)} == {"a1", "a3"}
    assert set(totals(html)) == {"USD"}
    assert totals(html)["USD"]["expenditure"] == D("13028.441023123878751")
    # Account manager: customers assigned to them.
    manager = known.users["sp-a-account_manager"]
    with clock.frozen_at(NOW - dt.timedelta(days=1)):
        partner_services.assign_customers(
            actor=known.users["sp-a-admin"], customers=[known.customers["a3"]], manager=manager
        )
    r = client.get(URL, {"manager": str(manager.pk)})
    assert {k[0] for k in summary_rows(text(r))} == {"a3"}
    assert "sp-a-account_manager" in summary_rows(text(r))[("a3", "reseller", "USD")]["manager"][1]
    # An account manager of another partner is not a valid choice: it does not filter.
    other = known.users["sp-b-account_manager"]
    assert len(summary_rows(text(client.get(URL, {"manager": str(other.pk)})))) == 4
    # Start after end: the form says so and nothing is shown.
    html = text(client.get(URL, {"start": "2026-03-10", "end": "2026-03-01"}))
    assert "The start date must not be after the end date." in html
    assert summary_rows(html) == {}


def test_summary_sorting_by_column_headers(client, known, at_now):
    signed_in(client, known, "sp-a-admin")
    html = text(client.get(URL))
    assert summary_order(html) == [("a1", "USD"), ("a2", "USD"), ("a2", "CNY"), ("a3", "USD")]  # -expenditure
    assert 'aria-sort="descending"' in html
    by_account = summary_order(text(client.get(URL, {"sort": "account"})))
    assert [a for a, _ in by_account] == ["a1", "a2", "a2", "a3"]
    assert [a for a, _ in summary_order(text(client.get(URL, {"sort": "-account"})))] == ["a3", "a2", "a2", "a1"]
    assert summary_order(text(client.get(URL, {"sort": "net"})))[0] == ("a3", "USD")
    assert summary_order(text(client.get(URL, {"sort": "-refund"})))[0] == ("a1", "USD")
    names = [a for a, _ in summary_order(text(client.get(URL, {"sort": "name"})))]
    assert names == ["a3", "a2", "a2", "a1"]  # Acme Ltd, Alice Corp, 张小明
    # The header links toggle the direction and keep the other search options.
    html = text(client.get(URL, {"sort": "expenditure", "association_type": "reseller"}))
    assert (
        'href="/expenditure/?sort=-expenditure&amp;association_type=reseller"' in html
        or 'href="/expenditure/?association_type=reseller&amp;sort=-expenditure"' in html
    )
    # An unknown sort falls back to the default.
    assert client.get(URL, {"sort": "bogus"}).status_code == 200


def test_summary_pages_20_rows_and_totals_cover_the_whole_filter(client, org, at_now):
    with clock.frozen_at(T0):
        for i in range(23):
            partner_services.create_customer(
                account_id=f"p{i:02d}",
                name=f"Paging {i:02d}",
                email=f"p{i}@example.com",
                mobile="13900000000",
                partner_code="sp-a",
                association_type="reseller",
                valid_from=T0 - dt.timedelta(days=30),
            )
    with clock.frozen_at(NOW):
        ingest([rec(f"P{i}", f"p{i:02d}", f"{i + 1}.001", "2026-03-03") for i in range(23)])
    signed_in(client, org, "sp-a-admin")
    first = text(client.get(URL, {"sort": "account"}))
    second = text(client.get(URL, {"sort": "account", "page": "2"}))
    assert len(summary_rows(first)) == 20 and len(summary_rows(second)) == 3
    assert [a for a, _ in summary_order(second)] == ["p20", "p21", "p22"]
    assert "23 rows" in first and "page 1 of 2" in first
    expected = sum((D(f"{i + 1}.001") for i in range(23)), D(0))
    assert totals(first)["USD"]["expenditure"] == totals(second)["USD"]["expenditure"] == expected
    # A page past the end shows the last page.
    assert len(summary_rows(text(client.get(URL, {"sort": "account", "page": "9"})))) == 3
    # htmx asks for the results only.
    r = client.get(URL, {"page": "2"}, HTTP_HX_REQUEST="true")
    assert "<html" not in text(r) and 'id="summary-table"' in text(r)


# ---- E6: bills links and the details tab --------------------------------------------------------


def _link(html: str, account: str, testid: str) -> str:
    row = next(block for acc, _, cur, block in _SUMMARY_ROW.findall(html) if acc == account and cur == "USD")
    href = re.search(rf'href="([^"]+)" data-testid="{testid}"', row)
    assert href
    return href.group(1).replace("&amp;", "&")


def test_expenditure_and_refund_bills_are_the_line_items_behind_the_row(client, known, at_now):
    signed_in(client, known, "sp-a-admin")
    html = text(client.get(URL))
    row = summary_rows(html)[("a1", "reseller", "USD")]
    bills = _link(html, "a1", "expenditure-bills")
    assert parse_qs(urlsplit(bills).query) == {
        "account_id": ["a1"],
        "start": ["2026-03-01"],
        "end": ["2026-03-18"],
        "classification": ["expenditure"],
    }
    rows = detail_rows(text(client.get(bills)))
    assert line_ids(rows) == {"L1"}
    assert sum((r["billed"] for r in rows), D(0)) == amount(row, "expenditure")
    refunds = detail_rows(text(client.get(_link(html, "a1", "refund-bills"))))
    assert line_ids(refunds) == {"L2"}
    assert -sum((r["billed"] for r in refunds), D(0)) == amount(row, "refund")
    # All of a1's line items in the period add up to the row's net.
    everything = text(client.get(DETAILS, {"account_id": "a1", "start": "2026-03-01", "end": "2026-03-18"}))
    assert line_ids(detail_rows(everything)) == {"L1", "L2", "L3"}
    assert totals(everything)["USD"]["net"] == amount(row, "net")
    assert all(r["name"] == "张*明" for r in detail_rows(everything))


def test_details_tab_filters_and_exact_totals(client, known, at_now):
    signed_in(client, known, "sp-a-admin")
    r = client.get(URL, {"tab": "details"})
    assert r.status_code == 200
    html = text(r)
    assert 'data-tab="details" class="active"' in html
    assert line_ids(detail_rows(html)) == {"L1", "L2", "L3", "L4", "L5", "L6", "L7"}
    assert totals(html) == KNOWN_TOTALS
    assert text(client.get(DETAILS)).count("<tr data-line=") == 7
    cases = {
        "product": ("OBS", {"L4"}),
        "service_type": ("marketplace", {"L6"}),
        "region_id": ("ap-guangzhou", {"L4"}),
        "billing_mode": ("prepaid_monthly", {"L6"}),
        "classification": ("adjustment", {"L7"}),
        "order_id": ("ORD-1", {"L1"}),
        "resource_id": ("i-1", {"L1"}),
        "project": ("alpha", {"L1"}),
    }
    for key, (value, expected) in cases.items():
        page = text(client.get(DETAILS, {key: value}))
        assert line_ids(detail_rows(page)) == expected, key
    tax = text(client.get(DETAILS, {"classification": "tax"}))
    assert totals(tax)["USD"]["tax"] == D("1.5") and totals(tax)["USD"]["net"] == D("1.5")
    assert line_ids(detail_rows(text(client.get(DETAILS, {"start": "2026-02-01", "end": "2026-02-28"})))) == {"L9"}
    # The drop-downs offer what is in scope.
    assert '<option value="OBS">OBS</option>' in html and '<option value="ap-guangzhou">' in html


def test_details_pages_50_rows(client, org, at_now):
    with clock.frozen_at(NOW):
        ingest([rec(f"M{i}", "a1", "0.01", "2026-03-04", hour=i % 24) for i in range(55)])
    signed_in(client, org, "sp-a-admin")
    first, second = text(client.get(DETAILS)), text(client.get(DETAILS, {"page": "2"}))
    assert len(detail_rows(first)) == 50 and len(detail_rows(second)) == 5
    assert "55 rows" in first
    assert totals(first)["USD"]["expenditure"] == totals(second)["USD"]["expenditure"] == D("0.55")
    assert {r["line"] for r in detail_rows(first)}.isdisjoint({r["line"] for r in detail_rows(second)})


# ---- E2 and E3 at their boundaries ------------------------------------------------------------


def test_e2_a_day_is_queryable_only_from_00_00_of_the_day_after_next(client, org):
    day = dt.date(2026, 3, 10)
    with clock.frozen_at(NOW):
        # 23:30 on D in Shanghai (15:30Z): still day D.
        ingest(
            [
                rec("E2", "a1", "42.5", "2026-03-10", hour=15)
                | {"charge_period_start": "2026-03-10T15:30:00Z", "charge_period_end": "2026-03-10T15:45:00Z"}
            ]
        )
    signed_in(client, org, "sp-a-admin")
    query = {"start": "2026-03-10", "end": "2026-03-10"}
    boundary = clock.start_of_day(day + dt.timedelta(days=2))
    with clock.frozen_at(boundary - dt.timedelta(seconds=1)):  # D+1 23:59:59
        html = text(client.get(URL, query))
        assert summary_rows(html) == {} and totals(html) == {}
        assert detail_rows(text(client.get(DETAILS, query))) == []
        assert "Data complete through" in html
    with clock.frozen_at(boundary):  # D+2 00:00:00
        html = text(client.get(URL, query))
        assert totals(html)["USD"]["expenditure"] == D("42.5")
        assert line_ids(detail_rows(text(client.get(DETAILS, query)))) == {"E2"}


def _assign(org: Org, account: str, local: dt.datetime) -> None:
    with clock.frozen_at(local):
        partner_services.assign_customers(
            actor=org.users["sp-a-admin"], customers=[org.customers[account]], manager=org.users["sp-a-account_manager"]
        )


def test_e3_account_manager_sees_expenditure_from_the_day_after_assignment(client, org):
    tz = clock.billing_tz()
    with clock.frozen_at(NOW):
        records = []
        for account in ("a1", "a3", "a2"):
            for d in (9, 10, 11, 12):
                records.append(rec(f"{account}-{d}", account, f"{d}.{d:02d}", f"2026-03-{d:02d}"))
        ingest(records)
    _assign(org, "a1", dt.datetime(2026, 3, 10, 23, 59, 59, tzinfo=tz))
    _assign(org, "a3", dt.datetime(2026, 3, 11, 0, 0, 0, tzinfo=tz))
    query = {"start": "2026-03-01", "end": "2026-03-18"}
    with clock.frozen_at(NOW):
        signed_in(client, org, "sp-a-account_manager")
        html = text(client.get(URL, query))
        rows = summary_rows(html)
        assert set(rows) == {("a1", "reseller", "USD"), ("a3", "reseller", "USD")}  # never a2 (unassigned)
        assert amount(rows[("a1", "reseller", "USD")], "expenditure") == D("11.11") + D("12.12")
        assert amount(rows[("a3", "reseller", "USD")], "expenditure") == D("12.12")
        assert totals(html)["USD"]["expenditure"] == D("11.11") + D("12.12") + D("12.12")
        assert 'name="manager"' not in html  # no account manager filter for account managers
        details = detail_rows(text(client.get(DETAILS, query)))
        assert line_ids(details) == {"a1-11", "a1-12", "a3-12"}
        # Asking for the hidden days explicitly gives nothing.
        assert (
            detail_rows(text(client.get(DETAILS, {"account_id": "a1", "start": "2026-03-09", "end": "2026-03-10"})))
            == []
        )
        assert detail_rows(text(client.get(DETAILS, {"account_id": "a2"}))) == []
        client.logout()
        signed_in(client, org, "sp-a-admin")
        html = text(client.get(URL, query))
        assert {k[0] for k in summary_rows(html)} == {"a1", "a2", "a3"}
        expected = sum((D(f"{d}.{d:02d}") for d in (9, 10, 11, 12)), D(0)) * 3
        assert totals(html)["USD"]["expenditure"] == expected


# ---- isolation and permissions --------------------------------------------------------------


def test_partner_admin_never_sees_another_partners_customers(client, known, at_now):
    signed_in(client, known, "sp-a-admin")
    html = text(client.get(URL, {"start": "2026-02-01", "end": "2026-03-18"}))
    assert {k[0] for k in summary_rows(html)} == {"a1", "a2", "a3"}
    for forged in ("b1", "d1", "s1"):
        r = client.get(DETAILS, {"account_id": forged})
        assert r.status_code == 200
        assert detail_rows(text(r)) == [] and totals(text(r)) == {}
        assert detail_rows(text(client.get(URL, {"tab": "details", "account_id": forged}))) == []
    assert {r["account"] for r in detail_rows(text(client.get(DETAILS)))} == {"a1", "a2", "a3"}
    assert "Bob Co" not in html and "B**o" not in html
    # A name search for another partner's customer finds nothing.
    assert summary_rows(text(client.get(URL, {"name": "Bob"}))) == {}


def test_distributor_sees_its_second_level_resellers_customers(client, known, at_now):
    signed_in(client, known, "dist-admin")
    html = text(client.get(URL))
    assert {k[0] for k in summary_rows(html)} == {"d1", "s1", "s2"}
    assert totals(html)["USD"]["expenditure"] == D(60)
    assert {r["account"] for r in detail_rows(text(client.get(DETAILS)))} == {"d1", "s1", "s2"}
    client.logout()
    signed_in(client, known, "sp-b-admin")
    assert {k[0] for k in summary_rows(text(client.get(URL)))} == {"b1"}
    client.logout()
    signed_in(client, known, "sub1-admin")
    assert {k[0] for k in summary_rows(text(client.get(URL)))} == {"s1"}


@pytest.mark.parametrize("url", [URL, DETAILS, f"{URL}?tab=details", f"{URL}?reveal=name"])
def test_finance_without_the_menu_is_refused(client, known, at_now, url):
    signed_in(client, known, "sp-a-finance")
    r = client.get(url)
    assert r.status_code == 403
    assert not AuditEntry.objects.filter(action="sensitive.reveal").exists()


def test_finance_cannot_export_expenditure(client, known, at_now):
    signed_in(client, known, "sp-a-finance")
    r = client.post(EXPORT, {"kind": "summary", "format": "csv"})
    assert r.status_code == 403
    assert not ExportTask.objects.exists()


# ---- E5: the eye toggle -----------------------------------------------------------------------


def test_eye_toggle_reveals_a_column_and_is_audited(client, known, at_now):
    admin = known.users["sp-a-admin"]
    signed_in(client, known, "sp-a-admin")
    html = text(client.get(URL))
    assert 'data-testid="eye-name"' in html and 'data-testid="eye-email"' in html and 'data-testid="eye-mobile"' in html
    assert "张小明" not in html
    assert not AuditEntry.objects.filter(action="sensitive.reveal").exists()

    r = client.get(URL, {"reveal": "name"}, HTTP_HX_REQUEST="true")
    assert r.status_code == 200
    html = text(r)
    row = summary_rows(html)[("a1", "reseller", "USD")]
    assert row["name"][1] == "张小明"
    assert row["email"][1] == "a1***@example.com"  # only the asked column
    assert 'aria-pressed="true"' in html
    entry = AuditEntry.objects.get(action="sensitive.reveal")
    assert entry.actor == admin and entry.partner == admin.partner
    assert entry.target == "console:/expenditure/" and entry.detail == {"columns": ["name"]}
    assert r["Cache-Control"].startswith("max-age=0") or "no-cache" in r["Cache-Control"]
    # The eye link of the revealed column hides it again (no reveal parameter).
    assert re.search(r'href="/expenditure/"[^>]*data-testid="eye-name"', html.replace("\n", " "))

    html = text(client.get(URL, {"reveal": "email,mobile"}))
    row = summary_rows(html)[("a1", "reseller", "USD")]
    assert (row["email"][1], row["mobile"][1], row["name"][1]) == ("a1@example.com", "13800000000", "张*明")
    assert AuditEntry.objects.filter(action="sensitive.reveal", actor=admin).count() == 2

    # Hidden again: masked, and no new audit entry.
    html = text(client.get(URL))
    assert "张小明" not in html
    assert AuditEntry.objects.filter(action="sensitive.reveal").count() == 2

    # The details tab has the eye on Customer too.
    html = text(client.get(DETAILS, {"reveal": "name", "account_id": "a1"}))
    assert {r["name"] for r in detail_rows(html)} == {"张小明"}
    assert AuditEntry.objects.filter(action="sensitive.reveal").count() == 3


def test_account_manager_may_reveal_their_customers(client, org):
    with clock.frozen_at(NOW - dt.timedelta(days=20)):
        partner_services.assign_customers(
            actor=org.users["sp-a-admin"], customers=[org.customers["a1"]], manager=org.users["sp-a-account_manager"]
        )
    with clock.frozen_at(NOW):
        ingest([rec("AM1", "a1", "3", "2026-03-12")])
        signed_in(client, org, "sp-a-account_manager")
        html = text(client.get(URL, {"reveal": "name"}))
    assert summary_rows(html)[("a1", "reseller", "USD")]["name"][1] == "张小明"
    assert AuditEntry.objects.filter(action="sensitive.reveal", actor=org.users["sp-a-account_manager"]).count() == 1


@pytest.mark.parametrize("url", [URL, DETAILS])
def test_operator_has_no_eye_and_a_forged_reveal_is_refused(client, known, at_now, url):
    signed_in(client, known, "sp-a-operator")
    html = text(client.get(url))
    assert 'data-testid="eye-name"' not in html
    assert "张*明" in html
    r = client.get(url, {"reveal": "name"})
    assert r.status_code == 403
    assert "张小明" not in text(r)
    r = client.get(url, {"reveal": "name"}, HTTP_HX_REQUEST="true")
    assert r.status_code == 403
    assert not AuditEntry.objects.filter(action="sensitive.reveal").exists()


def test_unknown_reveal_column_is_a_bad_request(client, known, at_now):
    signed_in(client, known, "sp-a-admin")
    r = client.get(URL, {"reveal": "password"})
    assert r.status_code == 400
    assert not AuditEntry.objects.filter(action="sensitive.reveal").exists()


# ---- E7: exports --------------------------------------------------------------------------------


def test_export_summary_creates_a_task_with_the_current_search_options(client, known, at_now):
    signed_in(client, known, "sp-a-admin")
    page = text(
        client.get(URL, {"association_type": "reseller", "start": "2026-03-02", "end": "2026-03-15", "name": "a"})
    )
    form = re.search(r'<form[^>]*data-testid="export-summary-form">(.*?)</form>', page, re.S)
    assert form
    fields = {
        k: html_unescape(v) for k, v in re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', form.group(1))
    }
    assert fields["association_type"] == "reseller" and fields["start"] == "2026-03-02"
    fields.update(format="xlsx")
    r = client.post(EXPORT, fields)
    assert r.status_code == 302
    assert r["Location"] == "/expenditure/?association_type=reseller&start=2026-03-02&end=2026-03-15&name=a"
    task = ExportTask.objects.get()
    assert (task.kind, task.format, task.created_by) == ("expenditure_summary", "xlsx", known.users["sp-a-admin"])
    assert (
        task.params
        == selectors.SummaryFilter(
            name="a", start=dt.date(2026, 3, 2), end=dt.date(2026, 3, 15), association_type="reseller"
        ).as_params()
    )
    followed = text(client.get(r["Location"]))
    assert "Export task created" in followed
    assert 'href="/exports/"' in followed and "View export" in followed
    # A double click within seconds: still one task.
    client.post(EXPORT, fields)
    assert ExportTask.objects.count() == 1


def test_export_customer_bills_with_the_search_options_of_the_form(client, known, at_now):
    signed_in(client, known, "sp-a-admin")
    data = {
        "kind": "details",
        "format": "csv",
        "start": "2026-03-01",
        "end": "2026-03-18",
        "account_id": "a1",
        "classification": "refund",
        "product": "",
        "next": "/expenditure/details/?account_id=a1",
    }
    r = client.post(EXPORT, data)
    assert r.status_code == 302 and r["Location"] == "/expenditure/details/?account_id=a1"
    task = ExportTask.objects.get()
    assert (task.kind, task.format) == ("expenditure_details", "csv")
    assert (
        task.params
        == selectors.DetailFilter(
            account_id="a1", start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 18), classification="refund"
        ).as_params()
    )
    assert "Export task created" in text(client.get(r["Location"]))
    client.post(EXPORT, data)
    assert ExportTask.objects.count() == 1
    # Another format is another export.
    client.post(EXPORT, {**data, "format": "xlsx"})
    assert ExportTask.objects.count() == 2


def test_export_refuses_bad_options_and_foreign_next(client, known, at_now):
    signed_in(client, known, "sp-a-admin")
    r = client.post(EXPORT, {"kind": "summary", "format": "csv", "start": "2026-03-10", "end": "2026-03-01"})
    assert r.status_code == 302
    assert "The start date must not be after the end date." in text(client.get(r["Location"]))
    r = client.post(EXPORT, {"kind": "summary", "format": "pdf"})
    assert r.status_code == 302 and "Choose what to export and the file format." in text(client.get(r["Location"]))
    assert not ExportTask.objects.exists()
    r = client.post(EXPORT, {"kind": "summary", "format": "csv", "next": "https://evil.example/"})
    assert r.status_code == 302 and r["Location"] == "/expenditure/"
    assert client.get(EXPORT).status_code == 405


def test_page_in_chinese(client, known, at_now):
    signed_in(client, known, "sp-a-admin")
    client.cookies["django_language"] = "zh-hans"
    html = text(client.get(URL))
    for words in ("<h1>客户消费</h1>", "消费汇总", "消费明细", "客户经理", "关联类型", "代售", "推荐", "不是伙伴账单"):
        assert words in html, words


# ---- property: the summary equals the line items behind it -----------------------------------

PROP_NOW = dt.datetime(2026, 4, 5, 4, 0, tzinfo=dt.UTC)  # last visible day 2026-04-03
PROP_ACCOUNTS = ("a1", "a2", "a3", "b1", "d1", "s1", "s2")
FIRST_DAY = dt.date(2026, 2, 1)
USERS = ("sp-a-admin", "sp-a-account_manager", "dist-admin", "op")

prop_amounts = st.integers(min_value=0, max_value=15).flatmap(
    lambda places: st.decimals(
        min_value=-(10**9), max_value=10**9, places=places, allow_nan=False, allow_infinity=False
    )
)


@st.composite
def prop_record(draw) -> dict[str, str]:
    # Any second of 2026-02-01 … 2026-04-05 (Shanghai days); sampled_from spreads the days evenly.
    day = draw(st.sampled_from(range(64)))
    start = clock.start_of_day(FIRST_DAY) + dt.timedelta(days=day, seconds=draw(st.integers(0, 86399)))
    return {
        "account_id": draw(st.sampled_from(PROP_ACCOUNTS + ("a1", "a2", "a3", "d1", "s1"))),
        "billed_cost": format(draw(prop_amounts), "f"),
        "currency": draw(st.sampled_from(("USD", "CNY"))),
        "charge_category": draw(st.sampled_from(("Usage", "Purchase", "Tax", "Credit", "Adjustment"))),
        "charge_period_start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "charge_period_end": (start + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "service_name": "ECS",
        "billing_mode": "pay_per_use",
    }


@st.composite
def prop_filter(draw) -> selectors.SummaryFilter:
    start = FIRST_DAY + dt.timedelta(days=draw(st.sampled_from(range(50))))
    end = start + dt.timedelta(days=draw(st.sampled_from(range(10, 60))))
    # Mostly explicit dates (an absent one defaults to this month, 2026-04-01 to 04-05).
    return selectors.SummaryFilter(
        name=draw(st.sampled_from(("", "", "", "", "a", "corp", "小", "one", "zz"))),
        start=None if draw(st.integers(0, 5)) == 0 else start,
        end=None if draw(st.integers(0, 5)) == 0 else end,
        manager_id=draw(st.sampled_from((None, None, "manager"))),  # type: ignore[arg-type]
        association_type=draw(st.sampled_from(("", "", "", "reseller", "referral"))),
        sort=draw(st.sampled_from(("-expenditure", "account", "name", "-net", "refund"))),
    )


def wipe_usage() -> None:
    for model in (LineItem, DailyRollup, CustomerRunningTotal, CustomerTotalKey, IngestBatch, Freshness):
        model.objects.all().delete()


def _prop_setup(org: Org) -> dict[str, dt.date]:
    """a1 assigned to sp-a's account manager on 2026-02-10 (visible from 02-11), a3 on 03-01."""
    tz = clock.billing_tz()
    if not hasattr(org, "_prop_assigned"):
        _assign(org, "a1", dt.datetime(2026, 2, 10, 15, 0, tzinfo=tz))
        _assign(org, "a3", dt.datetime(2026, 3, 1, 0, 0, tzinfo=tz))
        org._prop_assigned = True  # type: ignore[attr-defined]
    return {"a1": dt.date(2026, 2, 11), "a3": dt.date(2026, 3, 2)}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=st.lists(prop_record(), min_size=10, max_size=40), f=prop_filter(), username=st.sampled_from(USERS))
def test_summary_equals_the_sum_of_its_line_items(org, records, f, username):
    windows = _prop_setup(org)
    wipe_usage()
    with clock.frozen_at(PROP_NOW):
        if records:
            ingest([{"line_id": f"x{i}", **r} for i, r in enumerate(records)])
        user = org.users[username]
        manager = org.users["sp-a-account_manager"]
        if f.manager_id is not None:
            f = selectors.SummaryFilter(f.name, f.start, f.end, manager.pk, f.association_type, f.sort)
        result = selectors.summary(user, f, limit=1000)
        p = result.period
        scope = {
            "sp-a-admin": {"a1", "a2", "a3"},
            "sp-a-account_manager": {"a1", "a3"},
            "dist-admin": {"d1", "s1", "s2"},
            "op": set(PROP_ACCOUNTS),
        }[username]
        expected: dict[tuple[str, str, str], dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
        for li in LineItem.objects.select_related("customer"):
            acc = li.customer.account_id
            if acc not in scope or not (p.start <= li.charge_day <= p.end):
                continue
            if username == "sp-a-account_manager" and li.charge_day < windows[acc]:
                continue
            if f.association_type and li.association_type != f.association_type:
                continue
            if f.name and f.name.lower() not in li.customer.name.lower():
                continue
            if f.manager_id is not None and acc not in ("a1", "a3"):
                continue
            e = expected[(acc, li.association_type, li.billing_currency)]
            e[li.classification] += li.billed_cost
            e["net"] += li.billed_cost
        got = {(r.account_id, r.association_type, r.currency): r for r in result.rows}
        event(f"summary rows: {min(len(got), 3)}")
        assert set(got) == set(expected)
        assert result.total == len(expected)
        want_totals: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
        for key, e in expected.items():
            r = got[key]
            assert r.expenditure == e["expenditure"]
            assert r.refund == -e["refund"]
            assert r.adjustment == e["adjustment"]
            assert r.tax == e["tax"]
            assert r.net == e["net"] == r.expenditure - r.refund + r.adjustment + r.tax
            for k in ("expenditure", "adjustment", "tax", "net"):
                want_totals[key[2]][k] += e[k]
            want_totals[key[2]]["refund"] -= e["refund"]
        assert {c: {k: v for k, v in t.items() if k in want_totals[c]} for c, t in result.totals.items()} == {
            c: dict(t) for c, t in want_totals.items()
        }
        for t in result.totals.values():
            assert t["net"] == t["expenditure"] - t["refund"] + t["adjustment"] + t["tax"]
        # Each customer's rows equal the details (the line items behind them) for the same period,
        # when no filter beyond the period narrows the summary.
        if not (f.association_type or f.name or f.manager_id):
            per_account: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
            for (acc, _, cur), r in got.items():
                per_account[f"{acc}/{cur}"]["net"] += r.net
                per_account[f"{acc}/{cur}"]["expenditure"] += r.expenditure
            for acc in {k[0] for k in got}:
                d = selectors.details(
                    user, selectors.DetailFilter(account_id=acc, start=f.start, end=f.end), limit=1000
                )
                assert d.total == sum(r.line_count for k, r in got.items() if k[0] == acc)
                assert sum((row["billed_cost"] for row in d.rows), D(0)) == sum(
                    (r.net for k, r in got.items() if k[0] == acc), D(0)
                )
                for cur, t in d.totals.items():
                    assert t["net"] == per_account[f"{acc}/{cur}"]["net"]
                    assert t["expenditure"] == per_account[f"{acc}/{cur}"]["expenditure"]
