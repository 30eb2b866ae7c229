"""The payout applications API (/api/v1/incentive-payouts): list, applicable, apply with an
Idempotency-Key, one application, the operator's decision; every refusal changes nothing."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import Client

from partnercenter.api import api
from partnercenter.core import clock
from partnercenter.incentives.models import Application, Enrolment
from tests.incentive_fixtures import make_incentives
from tests.test_incentives_payouts import issued, snapshot

API = "/api/v1/incentive-payouts"
NOW = dt.datetime(2026, 3, 10, 4, 0, tzinfo=dt.UTC)


@pytest.fixture
def made(org):
    made = make_incentives(org)
    Enrolment.objects.filter(program=made.cloud, partner=org.partners["sp-a"]).update(
        left_at=dt.datetime(2026, 2, 1, tzinfo=dt.UTC)
    )
    return made


@pytest.fixture(autouse=True)
def now():
    with clock.frozen_at(NOW):
        yield NOW


def as_user(org, username: str) -> Client:
    c = Client()
    c.force_login(org.users[username])
    return c


def post(c: Client, path: str, body: dict, **headers):
    return c.post(f"{API}{path}", json.dumps(body), content_type="application/json", headers=headers)


def test_applicable_apply_and_read_back(org, made):
    finance = as_user(org, "sp-a-finance")
    r = finance.get(f"{API}/applicable?currency=usd")
    assert r.status_code == 200, r.content
    [usd] = r.json()
    assert (usd["currency"], usd["positive_total"], usd["negative_total"]) == ("USD", "60", "-5")
    assert usd["positives"] == [
        {
            "number": "INC-202512-000001",
            "program": "cloud-growth",
            "period_start": "2025-12-01",
            "kind": "earning",
            "amount": "60",
            "valid_from": "2026-01-04T16:00:02Z",
            "valid_until": "2027-02-01T00:00:00Z",
        }
    ]
    assert [(n["number"], n["amount"], n["valid_until"]) for n in usd["negatives"]] == [
        ("INC-202601-000004", "-5", None)
    ]
    r = post(finance, "", {"currency": "USD", "incentives": ["INC-202512-000001"]}, **{"Idempotency-Key": "k-1"})
    assert r.status_code == 201, r.content
    body = r.json()
    assert {
        k: body[k] for k in ("number", "partner", "currency", "positive_total", "negative_total", "amount", "state")
    } == {
        "number": "PAY-20260310-000001",
        "partner": "sp-a",
        "currency": "USD",
        "positive_total": "60",
        "negative_total": "-5",
        "amount": "55",
        "state": "submitted",
    }
    assert [(i["number"], i["kind"], i["amount"]) for i in body["items"]] == [
        ("INC-202512-000001", "earning", "60"),
        ("INC-202601-000004", "clawback", "-5"),
    ]
    assert body["decision"] is None
    again = post(finance, "", {"currency": "USD", "incentives": ["INC-202512-000001"]}, **{"Idempotency-Key": "k-1"})
    assert again.status_code == 201 and again.json()["number"] == body["number"]
    assert Application.objects.count() == 1
    other = post(finance, "", {"currency": "USD", "incentives": ["INC-202512-000002"]}, **{"Idempotency-Key": "k-1"})
    assert other.status_code == 409 and other.json()["code"] == "idempotency_key_reused"
    assert finance.get(f"{API}/{body['number']}").json() == body
    listed = finance.get(API).json()
    assert [(a["number"], a["amount"], a["state"]) for a in listed] == [("PAY-20260310-000001", "55", "submitted")]
    assert finance.get(f"{API}/applicable").json() == []


def test_refusals_change_nothing(org, made):
    issued(made, org, "INC-202512-000007", "33.35")  # 3.34
    finance = as_user(org, "sp-a-finance")
    before = snapshot()
    cases = [
        ({"currency": "USD", "incentives": ["INC-202512-000007"]}, 422, "negatives_exceed_positives"),
        ({"currency": "USD", "incentives": []}, 422, "nothing_selected"),
        ({"currency": "USD", "incentives": ["INC-202601-000001"]}, 422, "not_applicable"),
        ({"currency": "EUR", "incentives": ["INC-202512-000001"]}, 422, "currency_mismatch"),
        ({"currency": "USD", "incentives": ["INC-202601-000003"]}, 404, "incentive_not_found"),
        ({"currency": "USD", "incentives": "INC-202512-000001"}, 422, None),
        ({"partner": "sp-b", "currency": "USD", "incentives": ["INC-202512-000001"]}, 404, "not_found"),
    ]
    for body, status, code in cases:
        r = post(finance, "", body)
        assert r.status_code == status, (body, r.content)
        if code:
            assert r.json()["code"] == code, (body, r.json())
    assert "exceed" in post(finance, "", cases[0][0]).json()["message"]
    assert snapshot() == before


def test_operator_decides_once(org, made):
    finance, op = as_user(org, "sp-a-finance"), as_user(org, "op")
    number = post(finance, "", {"currency": "USD", "incentives": ["INC-202512-000001"]}).json()["number"]
    before = snapshot()
    assert post(finance, f"/{number}/decision", {"state": "rejected"}).status_code == 403
    assert post(as_user(org, "sp-a-admin"), f"/{number}/decision", {"state": "rejected"}).status_code == 403
    r = post(op, f"/{number}/decision", {"state": "approved"})
    assert r.status_code == 422
    assert post(op, "/PAY-20260310-000009/decision", {"state": "rejected"}).status_code == 404
    assert snapshot() == before
    r = post(op, f"/{number}/decision", {"state": "approved", "payout_method": "balance", "remark": "March"})
    assert r.status_code == 201, r.content
    decision = r.json()["decision"]
    assert (r.json()["state"], decision["payout_method"], decision["balance_after"], decision["remark"]) == (
        "approved",
        "balance",
        "55",
        "March",
    )
    assert decision["decided_by"] == "op" and decision["statement_entry_id"] is not None
    again = post(op, f"/{number}/decision", {"state": "rejected"})
    assert again.status_code == 409 and again.json()["code"] == "already_decided"
    statement = finance.get("/api/v1/billing/statement?currency=USD").json()
    assert [(i["kind"], i["amount"], i["balance_after"], i["description"]) for i in statement["items"]] == [
        ("top_up", "55", "55", "Incentive payout PAY-20260310-000001")
    ]


def test_isolation(org, made):
    number = post(as_user(org, "sp-a-finance"), "", {"currency": "USD", "incentives": ["INC-202512-000001"]}).json()[
        "number"
    ]
    other = as_user(org, "sp-b-finance")
    assert other.get(f"{API}/{number}").status_code == 404
    assert other.get(API).json() == []
    assert other.get(f"{API}?partner=sp-a").status_code == 404
    assert other.get(f"{API}/applicable?partner=sp-a").status_code == 404
    assert as_user(org, "sp-a-operator").get(API).status_code == 403  # no incentive_management menu
    op = as_user(org, "op")
    assert [a["number"] for a in op.get(API).json()] == [number]
    assert op.get(f"{API}/applicable").json()["code"] == "partner_required"
    dist = as_user(org, "dist-admin")
    assert dist.get(f"{API}/applicable?partner=sub1").status_code == 200
    r = post(dist, "", {"partner": "sub1", "currency": "USD", "incentives": ["INC-202512-000001"]})
    assert r.status_code == 404


def test_every_status_code_is_documented():
    paths = api.get_openapi_schema()["paths"]
    ops = {(m, p): op for p, methods in paths.items() if p.startswith(API) for m, op in methods.items()}
    assert set(ops) == {
        ("get", API),
        ("post", API),
        ("get", f"{API}/applicable"),
        ("get", f"{API}/{{number}}"),
        ("post", f"{API}/{{number}}/decision"),
    }
    for (method, _path), op in ops.items():
        codes = {str(c) for c in op["responses"]}
        assert {"401", "403", "404", "422"} <= codes
        assert ("409" in codes) == (method == "post")
        assert op["x-menu"] == ("platform_operator" if _path.endswith("decision") else "incentive_management")
