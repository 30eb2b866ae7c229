"""Customer expenditure API (GET /api/v1/expenditure/summary and /details): exact decimal
strings, filters, E2 and E3, isolation, menu permission and the audited reveal."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from partnercenter.accounts.models import AuditEntry
from partnercenter.core import clock
from partnercenter.partners import services as partner_services
from tests.test_expenditure_console import KNOWN, KNOWN_TOTALS, NOW, ingest, rec
from tests.test_usage_api import bearer

SUMMARY = "/api/v1/expenditure/summary"
DETAILS = "/api/v1/expenditure/details"
D = Decimal


@pytest.fixture
def known(org):
    with clock.frozen_at(NOW - dt.timedelta(hours=1)):
        ingest(KNOWN)
    with clock.frozen_at(NOW):
        yield org


def get(client, url, auth, **params):
    return client.get(url, params, **auth)


def items_by_key(body) -> dict[tuple[str, str], dict[str, str]]:
    return {(i["account_id"], i["currency"]): i for i in body["items"]}


def test_summary_exact_strings_for_a_known_data_set(client, known):
    auth = bearer(client, "sp-a-admin")
    r = get(client, SUMMARY, auth)
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["period"]["start"] == "2026-03-01" and body["period"]["end"] == "2026-03-18"
    assert body["period"]["last_visible_day"] == "2026-03-18"
    assert "not the partner bill" in body["notice"]
    assert body["total"] == 4
    assert {cur: {k: D(v) for k, v in t.items()} for cur, t in body["totals"].items()} == KNOWN_TOTALS
    assert body["totals"]["USD"]["expenditure"] == "13528.566023123878751"
    assert body["totals"]["USD"]["refund"] == "28.000000000000001"
    items = items_by_key(body)
    a1 = items[("a1", "USD")]
    assert (a1["expenditure"], a1["refund"], a1["tax"], a1["net"]) == (
        "13028.44102312387875",
        "28.000000000000001",
        "1.5",
        "13001.941023123878749",
    )
    assert a1["customer_name"] == "张*明" and a1["email"] == "a1***@example.com" and a1["mobile"] == "138****0000"
    assert a1["association_type"] == "reseller"
    assert items[("a2", "CNY")]["expenditure"] == "100.005"
    assert items[("a3", "USD")]["net"] == "-1.999999999999999"
    assert [i["account_id"] for i in body["items"]][:2] == ["a1", "a2"]  # -expenditure


def test_summary_filters_and_paging(client, known):
    auth = bearer(client, "sp-a-admin")
    assert {i["account_id"] for i in get(client, SUMMARY, auth, name="ALICE").json()["items"]} == {"a2"}
    body = get(client, SUMMARY, auth, association_type="reseller").json()
    assert {i["account_id"] for i in body["items"]} == {"a1", "a3"}
    assert body["totals"]["USD"]["expenditure"] == "13028.441023123878751"
    body = get(client, SUMMARY, auth, start="2026-02-01", end="2026-02-28").json()
    assert body["totals"]["USD"]["expenditure"] == "7"
    body = get(client, SUMMARY, auth, sort="account", limit=2, offset=2).json()
    assert [i["account_id"] for i in body["items"]] == ["a2", "a3"]
    assert body["total"] == 4 and set(body["totals"]) == {"USD", "CNY"}  # totals for the whole filter
    with clock.frozen_at(NOW - dt.timedelta(days=1)):
        partner_services.assign_customers(
            actor=known.users["sp-a-admin"],
            customers=[known.customers["a1"]],
            manager=known.users["sp-a-account_manager"],
        )
    body = get(client, SUMMARY, auth, manager="sp-a-account_manager").json()
    assert {i["account_id"] for i in body["items"]} == {"a1"}
    assert body["items"][0]["account_manager"] == "sp-a-account_manager"


@pytest.mark.parametrize(
    "params",
    [
        {"association_type": "partner"},
        {"sort": "password"},
        {"start": "2026-03-10", "end": "2026-03-01"},
        {"manager": "sp-b-account_manager"},  # another partner's manager
    ],
)
def test_summary_rejects_bad_options(client, known, params):
    auth = bearer(client, "sp-a-admin")
    assert get(client, SUMMARY, auth, **params).status_code == 422


def test_details_exact_rows_and_totals(client, known):
    auth = bearer(client, "sp-a-admin")
    body = get(client, DETAILS, auth).json()
    assert body["total"] == 7
    assert {cur: {k: D(v) for k, v in t.items()} for cur, t in body["totals"].items()} == KNOWN_TOTALS
    refund = get(client, DETAILS, auth, account_id="a1", classification="refund").json()
    assert [(i["customer_account_id"], i["billed_cost"], i["customer_name"]) for i in refund["items"]] == [
        ("a1", "-28.000000000000001", "张*明")
    ]
    assert refund["totals"]["USD"]["refund"] == "28.000000000000001"
    assert "张小明" not in str(body)
    market = get(client, DETAILS, auth, service_type="marketplace").json()
    assert [i["billed_cost"] for i in market["items"]] == ["0.000000000000001"]
    assert get(client, DETAILS, auth, classification="bogus").status_code == 422
    assert get(client, DETAILS, auth, service_type="bogus").status_code == 422


def test_api_isolation(client, known):
    auth = bearer(client, "sp-a-admin")
    assert {i["account_id"] for i in get(client, SUMMARY, auth).json()["items"]} == {"a1", "a2", "a3"}
    for forged in ("b1", "d1", "s1"):
        body = get(client, DETAILS, auth, account_id=forged).json()
        assert (body["total"], body["items"], body["totals"]) == (0, [], {})
    assert get(client, SUMMARY, auth, name="Bob").json()["items"] == []
    dist = bearer(client, "dist-admin")
    body = get(client, SUMMARY, dist).json()
    assert {i["account_id"] for i in body["items"]} == {"d1", "s1", "s2"}
    assert body["totals"]["USD"]["expenditure"] == "60"
    assert {i["customer_account_id"] for i in get(client, DETAILS, dist).json()["items"]} == {"d1", "s1", "s2"}


@pytest.mark.parametrize("url", [SUMMARY, DETAILS])
def test_finance_without_the_menu_gets_403(client, known, url):
    auth = bearer(client, "sp-a-finance")
    assert get(client, url, auth).status_code == 403
    assert get(client, url, auth, reveal="name").status_code == 403
    assert not AuditEntry.objects.filter(action="sensitive.reveal").exists()


def test_reveal_is_audited_and_refused_to_operators(client, known):
    auth = bearer(client, "sp-a-admin")
    body = get(client, SUMMARY, auth, reveal="name,email").json()
    a1 = items_by_key(body)[("a1", "USD")]
    assert (a1["customer_name"], a1["email"], a1["mobile"]) == ("张小明", "a1@example.com", "138****0000")
    entry = AuditEntry.objects.get(action="sensitive.reveal")
    assert entry.actor == known.users["sp-a-admin"] and entry.target == "api:/expenditure/summary"
    assert entry.detail == {"columns": ["email", "name"]}
    op = bearer(client, "sp-a-operator")
    assert get(client, SUMMARY, op).status_code == 200
    assert get(client, SUMMARY, op, reveal="name").status_code == 403
    assert get(client, SUMMARY, auth, reveal="password").status_code == 422
    assert AuditEntry.objects.filter(action="sensitive.reveal").count() == 1


def test_api_e2_boundary(client, org):
    with clock.frozen_at(NOW):
        ingest([rec("E2", "a1", "42.5", "2026-03-10", hour=15)])  # 23:00 on 03-10 in Shanghai
    boundary = clock.start_of_day(dt.date(2026, 3, 12))
    with clock.frozen_at(boundary - dt.timedelta(seconds=1)):
        auth = bearer(client, "sp-a-admin")
        body = get(client, SUMMARY, auth, start="2026-03-10", end="2026-03-10").json()
        assert body["items"] == [] and body["period"]["last_visible_day"] == "2026-03-09"
        assert get(client, DETAILS, auth, start="2026-03-10", end="2026-03-10").json()["total"] == 0
    with clock.frozen_at(boundary):
        body = get(client, SUMMARY, auth, start="2026-03-10", end="2026-03-10").json()
        assert body["totals"]["USD"]["expenditure"] == "42.5"
        assert get(client, DETAILS, auth, start="2026-03-10", end="2026-03-10").json()["total"] == 1


def test_api_e3_boundary(client, org):
    tz = clock.billing_tz()
    with clock.frozen_at(NOW):
        ingest([rec(f"{a}-{d}", a, f"{d}", f"2026-03-{d:02d}") for a in ("a1", "a2", "a3") for d in (10, 11, 12)])
    for account, at in (
        ("a1", dt.datetime(2026, 3, 10, 23, 59, 59, tzinfo=tz)),
        ("a3", dt.datetime(2026, 3, 11, 0, 0, 0, tzinfo=tz)),
    ):
        with clock.frozen_at(at):
            partner_services.assign_customers(
                actor=org.users["sp-a-admin"],
                customers=[org.customers[account]],
                manager=org.users["sp-a-account_manager"],
            )
    with clock.frozen_at(NOW):
        auth = bearer(client, "sp-a-account_manager")
        items = items_by_key(get(client, SUMMARY, auth).json())
        assert set(items) == {("a1", "USD"), ("a3", "USD")}
        assert items[("a1", "USD")]["expenditure"] == "23" and items[("a3", "USD")]["expenditure"] == "12"
        days = {(i["customer_account_id"], i["charge_day"]) for i in get(client, DETAILS, auth).json()["items"]}
        assert days == {("a1", "2026-03-11"), ("a1", "2026-03-12"), ("a3", "2026-03-12")}
        admin = bearer(client, "sp-a-admin")
        assert get(client, SUMMARY, admin).json()["totals"]["USD"]["expenditure"] == "99"


def test_summary_cache_follows_new_ingestion_and_assignments(client, org):
    """A repeated filter is served from the per-process cache, but never stale: a new batch or a
    new assignment changes the answer at once."""
    import datetime as dt

    from partnercenter.core import clock
    from partnercenter.expenditure import selectors
    from partnercenter.partners import services as partner_services
    from partnercenter.usage import services as usage_services

    def rec(line, account, amount, start):
        return {
            "line_id": line,
            "account_id": account,
            "billed_cost": amount,
            "currency": "CNY",
            "charge_category": "Usage",
            "charge_period_start": start,
            "charge_period_end": start,
        }

    admin = org.users["sp-a-admin"]
    manager = org.users["sp-a-account_manager"]
    now = dt.datetime(2026, 3, 20, 4, 0, tzinfo=dt.UTC)
    f = selectors.SummaryFilter(start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 18))
    with clock.frozen_at(now):
        assert usage_services.ingest_records([rec("c1", "a1", "10.5", "2026-03-05T00:00:00Z")], source="t").accepted
        first = selectors.summary(admin, f)
        assert [(r.account_id, r.expenditure) for r in first.rows] == [("a1", Decimal("10.5"))]
        assert usage_services.ingest_records([rec("c2", "a3", "2.25", "2026-03-06T00:00:00Z")], source="t").accepted
        second = selectors.summary(admin, f)
        assert [(r.account_id, r.expenditure) for r in second.rows] == [
            ("a1", Decimal("10.5")),
            ("a3", Decimal("2.25")),
        ]
        assert selectors.summary(manager, f).rows == []
        partner_services.assign_customers(
            actor=admin, customers=[org.customers["a3"]], manager=manager, at=dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
        )
        assert [r.account_id for r in selectors.summary(manager, f).rows] == ["a3"]
