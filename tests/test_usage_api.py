"""Usage API: POST/GET /api/v1/usage/batches (platform operators only)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.test import Client

from partnercenter.usage.models import DailyRollup, IngestBatch, LineItem
from tests.conftest import PASSWORD
from tests.test_usage_ingest import record, snapshot

API = "/api/v1"
BATCHES = f"{API}/usage/batches"


def bearer(client: Client, username: str) -> dict[str, str]:
    r = client.post(f"{API}/auth/tokens", {"username": username, "password": PASSWORD}, content_type="application/json")
    assert r.status_code == 201, r.content
    return {"HTTP_AUTHORIZATION": f"Bearer {r.json()['token']}"}


def items() -> list[dict[str, str]]:
    return [
        record("api-1", "a1", "123456789012.123456789012345", "2026-03-01T00:00:00Z"),
        record("api-2", "b1", "-0.000000000000001", "2026-03-01T00:00:00Z"),
        record("api-3", "a1", "0.1", "2026-03-01T00:00:00Z", charge_category="Tax"),
        record("api-4", "s1", "0.2", "2026-03-01T00:00:00Z", charge_category="Adjustment", currency="CNY"),
    ]


EXPECTED_TOTALS = {
    "CNY": {"adjustment": "0.2", "expenditure": "0", "net": "0.2", "refund": "0", "tax": "0"},
    "USD": {
        "adjustment": "0",
        "expenditure": "123456789012.123456789012345",
        "net": "123456789012.223456789012344",
        "refund": "0.000000000000001",
        "tax": "0.1",
    },
}


def _decimals(totals: dict[str, dict[str, str]]) -> dict[str, dict[str, Decimal]]:
    return {cur: {k: Decimal(v) for k, v in t.items()} for cur, t in totals.items()}


def test_operator_posts_json_batch(client, org):
    auth = bearer(client, "op")
    r = client.post(
        BATCHES,
        json.dumps({"format": "native", "source": "api", "items": items()}),
        content_type="application/json",
        **auth,
    )
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["status"] == "accepted"
    assert (body["rows_total"], body["rows_new"], body["rows_present"], body["error_count"]) == (4, 4, 0, 0)
    assert body["errors"] == [] and body["unknown_accounts"] == []
    # Exact decimal strings; compare as Decimals since trailing zeros are not part of the value.
    assert all(isinstance(v, str) for t in body["totals"].values() for v in t.values())
    assert _decimals(body["totals"]) == _decimals(EXPECTED_TOTALS)
    assert body["totals"]["USD"]["expenditure"] == "123456789012.123456789012345"
    assert body["totals"]["USD"]["net"] == "123456789012.223456789012344"
    batch = IngestBatch.objects.get(pk=body["batch_id"])
    assert (batch.source, batch.format, batch.created_by) == ("api", "native", org.users["op"])
    assert LineItem.objects.count() == 4

    # The same items again: all present, nothing new.
    r = client.post(BATCHES, json.dumps({"items": items()}), content_type="application/json", **auth)
    assert r.status_code == 201
    assert (r.json()["rows_new"], r.json()["rows_present"], r.json()["totals"]) == (0, 4, {})


def test_json_numbers_are_parsed_exactly(client, org):
    # Amounts as JSON numbers, not strings: they must not pass through a float.
    body = (
        '{"items": [{"line_id": "n1", "account_id": "a1", "billed_cost": 0.100000000000001, "currency": "USD",'
        ' "charge_category": "Usage", "charge_period_start": "2026-03-01T00:00:00Z",'
        ' "charge_period_end": "2026-03-01T01:00:00Z"},'
        ' {"line_id": "n2", "account_id": "a1", "billed_cost": 999999999999.999999999999999, "currency": "USD",'
        ' "charge_category": "Usage", "charge_period_start": "2026-03-01T00:00:00Z",'
        ' "charge_period_end": "2026-03-01T01:00:00Z"}]}'
    )
    r = client.post(BATCHES, body, content_type="application/json", **bearer(client, "op"))
    assert r.status_code == 201, r.content
    assert Decimal(r.json()["totals"]["USD"]["expenditure"]) == Decimal("1000000000000.100000000000000")
    assert sorted(LineItem.objects.values_list("billed_cost", flat=True)) == [
        Decimal("0.100000000000001"),
        Decimal("999999999999.999999999999999"),
    ]


def test_operator_posts_ndjson(client, org):
    body = "\n".join(json.dumps(i) for i in items()) + "\n\n"
    r = client.post(
        f"{BATCHES}?format=native&source=nd", body, content_type="application/x-ndjson", **bearer(client, "op")
    )
    assert r.status_code == 201, r.content
    data = r.json()
    assert (data["rows_new"], data["source"], data["format"]) == (4, "nd", "native")
    assert _decimals(data["totals"]) == _decimals(EXPECTED_TOTALS)
    assert LineItem.objects.count() == 4


def test_operator_with_session(client, org):
    client.force_login(org.users["op"])
    r = client.post(BATCHES, json.dumps({"items": items()[:1]}), content_type="application/json")
    assert r.status_code == 201, r.content
    assert LineItem.objects.count() == 1


@pytest.mark.parametrize("username", ["sp-a-admin", "dist-finance", "sub1-operator"])
def test_partner_users_may_not_post(client, org, username):
    before = snapshot()
    auth = bearer(client, username)
    r = client.post(BATCHES, json.dumps({"items": items()}), content_type="application/json", **auth)
    assert r.status_code == 403
    assert r.json()["code"] == "forbidden"
    r = client.post(BATCHES, "\n".join(json.dumps(i) for i in items()), content_type="application/x-ndjson", **auth)
    assert r.status_code == 403
    assert snapshot() == before


def test_anonymous_gets_401(client, org):
    r = client.post(BATCHES, json.dumps({"items": items()}), content_type="application/json")
    assert r.status_code == 401
    assert client.get(BATCHES).status_code == 401
    assert LineItem.objects.count() == 0


def test_rejected_batch_is_422_and_writes_nothing(client, org):
    auth = bearer(client, "op")
    client.post(BATCHES, json.dumps({"items": items()[:2]}), content_type="application/json", **auth)
    before = snapshot()
    bad = items()
    bad[2]["billed_cost"] = "1,5"
    bad[3]["account_id"] = "ghost"
    r = client.post(BATCHES, json.dumps({"items": bad}), content_type="application/json", **auth)
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "batch_rejected"
    assert body["status"] == "rejected" and body["batch_id"] is None
    assert body["error_count"] == 2
    assert body["errors"] == [
        {"row": 3, "column": "billed_cost", "reason": "'1,5': not a decimal number"},
        {"row": 4, "column": "account_id", "reason": "unknown customer account 'ghost'"},
    ]
    assert body["unknown_accounts"] == ["ghost"]
    assert body["totals"] == {} and body["rows_new"] == 0
    assert "nothing was written" in body["message"]
    assert snapshot() == before

    # NDJSON: the same rejection.
    r = client.post(BATCHES, "\n".join(json.dumps(i) for i in bad), content_type="application/x-ndjson", **auth)
    assert r.status_code == 422
    assert r.json()["error_count"] == 2
    assert snapshot() == before


@pytest.mark.parametrize(
    "body, content_type",
    [
        ("not json", "application/json"),
        ('{"items": "nope"}', "application/json"),
        ("[1, 2]", "application/json"),
        ('{"format": "csv", "items": []}', "application/json"),
        ('{"line_id": "x"}\n{broken', "application/x-ndjson"),
    ],
)
def test_malformed_bodies_are_422(client, org, body, content_type):
    r = client.post(BATCHES, body, content_type=content_type, **bearer(client, "op"))
    assert r.status_code == 422, r.content
    assert r.json()["code"] == "validation_error"
    assert LineItem.objects.count() == 0 and IngestBatch.objects.count() == 0


def test_missing_columns_are_named(client, org):
    rec = items()[0]
    del rec["currency"]
    r = client.post(BATCHES, json.dumps(rec), content_type="application/x-ndjson", **bearer(client, "op"))
    # Items are numbered from 1. The records source fills every known column, so an absent key is an empty value, per row.
    assert r.status_code == 422
    assert r.json()["errors"] == [{"row": 1, "column": "currency", "reason": "'' is not a 3-letter currency code"}]


def test_list_batches(client, org):
    auth = bearer(client, "op")
    first = client.post(
        BATCHES, json.dumps({"source": "s1", "items": items()[:2]}), content_type="application/json", **auth
    )
    second = client.post(
        BATCHES, json.dumps({"source": "s2", "items": items()}), content_type="application/json", **auth
    )
    r = client.get(BATCHES, **auth)
    assert r.status_code == 200
    listed = r.json()
    assert [b["id"] for b in listed] == [second.json()["batch_id"], first.json()["batch_id"]]
    latest = listed[0]
    assert (latest["source"], latest["rows_total"], latest["rows_new"], latest["rows_present"]) == ("s2", 4, 2, 2)
    assert latest["status"] == "accepted"
    assert _decimals(latest["totals"]) == _decimals(
        {
            "CNY": {"adjustment": "0.2", "expenditure": "0", "net": "0.2", "refund": "0", "tax": "0"},
            "USD": {"adjustment": "0", "expenditure": "0", "net": "0.1", "refund": "0", "tax": "0.1"},
        }
    )
    r = client.get(f"{BATCHES}/{latest['id']}", **auth)
    assert r.status_code == 200 and r.json()["id"] == latest["id"]
    assert client.get(f"{BATCHES}/999999", **auth).status_code == 404
    assert [b["id"] for b in client.get(f"{BATCHES}?limit=1&offset=1", **auth).json()] == [first.json()["batch_id"]]

    for username in ("sp-a-admin", "dist-admin"):
        partner = bearer(client, username)
        r = client.get(BATCHES, **partner)
        assert r.status_code == 403
        assert r.json()["code"] == "forbidden"
        assert client.get(f"{BATCHES}/{latest['id']}", **partner).status_code == 403
    assert DailyRollup.objects.exists()
