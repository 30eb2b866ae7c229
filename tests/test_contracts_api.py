"""API of payment contracts at /api/v1/payment-contracts: every route, its status codes,
isolation, idempotency and the PDF."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from partnercenter.contracts.models import ContractEvent, PaymentContract
from partnercenter.core import clock
from tests.test_billing_pdf import pdf_text

pytestmark = pytest.mark.django_db
API = "/api/v1/payment-contracts"
AT = dt.datetime(2026, 3, 10, 4, 0, tzinfo=dt.UTC)
BODY = {"amount": "1234.50", "currency": "CNY", "purpose": "服务费 Q1"}


def api(org, username: str) -> Client:
    c = Client()
    c.force_login(org.users[username])
    return c


def post(c: Client, url: str, body: dict | None = None, key: str | None = None):
    headers = {"Idempotency-Key": key} if key is not None else {}
    with clock.frozen_at(AT):
        return c.post(url, data=body or {}, content_type="application/json", headers=headers)


def counts() -> tuple[int, int]:
    return PaymentContract.objects.count(), ContractEvent.objects.count()


def test_request_201_then_a_repeat_200_and_a_reused_key_409(org):
    c = api(org, "sp-a-finance")
    r = post(c, API, BODY, key="k")
    assert r.status_code == 201, r.content
    body = r.json()
    assert {k: body[k] for k in ("number", "partner", "amount", "currency", "purpose", "state", "requested_by")} == {
        "number": "PC-202603-000001",
        "partner": "sp-a",
        "amount": "1234.5",
        "currency": "CNY",
        "purpose": "服务费 Q1",
        "state": "requested",
        "requested_by": "sp-a-finance",
    }
    assert [h["state"] for h in body["history"]] == ["requested"]
    assert post(c, API, BODY, key="k").status_code == 200
    r = post(c, API, BODY | {"amount": "1"}, key="k")
    assert (r.status_code, r.json()["code"]) == (409, "idempotency_key_reused")
    assert counts() == (1, 1)


@pytest.mark.parametrize(
    ("username", "body", "status"),
    [
        ("sp-a-finance", BODY | {"amount": "1.001"}, 422),
        ("sp-a-finance", BODY | {"currency": "ZZZ"}, 422),
        ("sp-a-finance", {"amount": "1"}, 422),
        ("op", BODY, 403),
        ("sp-a-operator", BODY, 403),
    ],
)
def test_refused_requests_write_nothing(org, username, body, status):
    r = post(api(org, username), API, body)
    assert r.status_code == status, r.content
    assert counts() == (0, 0)


def test_anonymous_is_401(db):
    assert Client().get(API).status_code == 401


def test_operator_walks_the_contract_and_the_partner_downloads_the_pdf(org):
    number = post(api(org, "sp-a-finance"), API, BODY).json()["number"]
    op = api(org, "op")
    partner = api(org, "sp-a-admin")
    assert partner.get(f"{API}/{number}/pdf").json()["code"] == "not_issued"
    r = post(op, f"{API}/{number}/issue", {"terms": "x"})
    assert (r.status_code, r.json()["code"]) == (409, "invalid_state")
    assert post(partner, f"{API}/{number}/process").status_code == 403
    assert post(op, f"{API}/{number}/process", key="p").json()["state"] == "processing"
    assert post(op, f"{API}/{number}/process", key="p").status_code == 200
    assert post(op, f"{API}/{number}/issue", {"terms": ""}).status_code == 422
    r = post(op, f"{API}/{number}/issue", {"terms": "Net 30 天"})
    assert r.json()["state"] == "issued"
    assert [(h["state"], h["actor"], h["terms"]) for h in r.json()["history"]] == [
        ("requested", "sp-a-finance", ""),
        ("processing", "op", ""),
        ("issued", "op", "Net 30 天"),
    ]
    assert post(op, f"{API}/{number}/reject", {"reason": "late"}).status_code == 409
    pdf = partner.get(f"{API}/{number}/pdf")
    assert (pdf.status_code, pdf["Content-Type"]) == (200, "application/pdf")
    text = pdf_text(pdf.content)
    for expected in (number, "SP-A", "1,234.50 CNY", "服务费 Q1", "Net 30 天", "2026-03-10"):
        assert expected in text


def test_list_filter_isolation_and_malformed_numbers(org):
    a = post(api(org, "sp-a-finance"), API, BODY).json()["number"]
    b = post(api(org, "sp-b-finance"), API, BODY).json()["number"]
    post(api(org, "op"), f"{API}/{b}/reject", {"reason": "no"})
    assert [i["number"] for i in api(org, "sp-a-finance").get(API).json()["items"]] == [a]
    page = api(org, "op").get(API, {"state": "rejected"}).json()
    assert (page["total"], [i["number"] for i in page["items"]]) == (1, [b])
    assert api(org, "op").get(API, {"state": "nope"}).status_code == 422
    other = api(org, "sp-b-admin")
    assert other.get(f"{API}/{a}").status_code == 404
    assert other.get(f"{API}/{a}/pdf").status_code == 404
    assert post(api(org, "op"), f"{API}/PC-209901-000001/process").status_code == 404
    assert api(org, "op").get(f"{API}/nope").status_code == 422
    assert api(org, "sp-a-operator").get(API).status_code == 403
