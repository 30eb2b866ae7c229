"""Partner bills API: scoped list, one bill's figures (B5) and invoice number (B6), by product and
by customer (B7), the estimate (B3); exact decimal strings; other partners' bills answer 404."""

from __future__ import annotations

import datetime as dt

import pytest

from partnercenter.billing import services
from partnercenter.billing.models import Bill
from partnercenter.core import clock
from tests.test_billing_close import DUE, MARCH_RECORDS, SHANGHAI, ingest, on, rec
from tests.test_usage_api import bearer

API = "/api/v1"


@pytest.fixture
def closed(org):
    ingest(MARCH_RECORDS, on(2, month=4))
    services.catch_up(DUE)
    ingest([rec("A9", "a1", "4", on(8, month=4), region_id="ap-beijing")], on(9, month=4))
    services.refresh_estimates(dt.datetime(2026, 4, 10, 9, tzinfo=SHANGHAI))
    return org


def _get(client, auth, url, **params):
    with clock.frozen_at(dt.datetime(2026, 4, 10, 10, tzinfo=SHANGHAI)):
        return client.get(f"{API}{url}", params, **auth)


def test_list_and_one_bill_with_exact_figures(client, closed):
    auth = bearer(client, "sp-a-finance")
    body = _get(client, auth, "/bills").json()
    assert body["total"] == 1
    bill = body["items"][0]
    assert {k: bill[k] for k in ("partner", "month", "currency", "expenditure", "refund", "adjustment", "tax")} == {
        "partner": "sp-a",
        "month": "2026-03",
        "currency": "USD",
        "expenditure": "157.123456789012345",
        "refund": "20.5",
        "adjustment": "-1.25",
        "tax": "3.25",
    }
    assert (bill["amount"], bill["amount_due"], bill["invoice_number"]) == (
        "138.623456789012345",
        "138.623456789012345",
        "PC-0000000001",
    )
    assert _get(client, auth, f"/bills/{bill['id']}").json() == bill


def test_a_negative_bill_shows_its_amount_and_owes_nothing(client, closed):
    auth = bearer(client, "sp-b-admin")
    bill = _get(client, auth, "/bills", month="2026-03").json()["items"][0]
    assert (bill["amount"], bill["amount_due"], bill["invoice_number"]) == ("-50", "0", None)


def test_other_partners_bills_are_not_found(client, closed):
    other = Bill.objects.get(partner__code="sp-b")
    auth = bearer(client, "sp-a-finance")
    assert _get(client, auth, f"/bills/{other.pk}").status_code == 404
    assert _get(client, auth, f"/bills/{other.pk}/by-product").status_code == 404
    assert _get(client, auth, "/bills/99999999999999999999").status_code in (404, 422)
    assert _get(client, auth, "/bills", partner="sp-b").status_code == 404
    assert _get(client, auth, "/bills", month="2026-13").json()["details"] == [
        {"where": "query.month", "why": "must be a month as YYYY-MM"}
    ]
    assert _get(client, bearer(client, "ref-admin"), "/bills").status_code == 403
    assert _get(client, bearer(client, "op"), "/bills").json()["total"] == 2


def test_by_product_splits_cloud_marketplace_and_others(client, closed):
    auth = bearer(client, "sp-a-finance")
    bill = Bill.objects.get(partner__code="sp-a")
    body = _get(client, auth, f"/bills/{bill.pk}/by-product").json()
    assert [(r["service_name"], r["amount"]) for r in body["cloud"]] == [("ECS", "107.123456789012345")]
    assert [(r["service_name"], r["amount"]) for r in body["marketplace"]] == [("Market App", "50")]
    assert [(o["kind"], o["amount"]) for o in body["others"]] == [
        ("refund", "-20.5"),
        ("adjustment", "-1.25"),
        ("tax", "3.25"),
    ]
    assert body["total"] == "138.623456789012345"
    assert body["regions"] == ["", "ap-shanghai"]
    only = _get(client, auth, f"/bills/{bill.pk}/by-product", region="ap-shanghai").json()
    assert only["marketplace"] == [] and only["total"] == "88.623456789012345"  # a3's adjustment is in ap-shanghai too


def test_by_customer_gives_each_customers_total(client, closed):
    auth = bearer(client, "sp-a-finance")
    bill = Bill.objects.get(partner__code="sp-a")
    body = _get(client, auth, f"/bills/{bill.pk}/by-customer").json()
    assert body["total"] == 2
    assert [(c["account_id"], c["name"], c["total"]) for c in body["items"]] == [
        ("a1", "张*明", "89.873456789012345"),
        ("a3", "A****d", "48.75"),
    ]
    assert _get(client, auth, f"/bills/{bill.pk}/by-customer", limit=0).status_code == 422


def test_estimate_of_the_current_month(client, closed):
    body = _get(client, bearer(client, "sp-a-finance"), "/bills/estimate").json()
    assert [(e["month"], e["currency"], e["amount"]) for e in body] == [("2026-04", "USD", "15")]
    assert _get(client, bearer(client, "op"), "/bills/estimate").status_code == 422
    assert _get(client, bearer(client, "op"), "/bills/estimate", partner="sp-a").json()[0]["amount"] == "15"
