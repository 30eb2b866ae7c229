"""API of incentives at /api/v1/incentives: every route, its status codes, isolation and
idempotency; amounts are exact strings."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.test import Client

from partnercenter.core import clock
from partnercenter.incentives.models import Estimate, Incentive, State, Transition
from tests.incentive_fixtures import FEB, make_incentives
from tests.test_incentives_workflow import pay, unpaid_bill

pytestmark = pytest.mark.django_db
API = "/api/v1/incentives"
NOW = dt.datetime(2026, 2, 10, tzinfo=dt.UTC)


@pytest.fixture
def made(org):
    with clock.frozen_at(NOW):
        yield make_incentives(org)


def api(org, username: str) -> Client:
    c = Client()
    c.force_login(org.users[username])
    return c


def post(c: Client, url: str, key: str | None = None):
    headers = {"Idempotency-Key": key} if key is not None else {}
    return c.post(url, data="{}", content_type="application/json", headers=headers)


def test_list_with_filters_and_exact_amounts(org, made):
    c = api(org, "sp-a-finance")
    body = c.get(API).json()
    assert (body["total"], body["limit"], body["offset"]) == (4, 50, 0)
    got = {i["number"]: (i["state"], Decimal(i["amount"]), i["may_confirm"], i["frozen"]) for i in body["items"]}
    assert got == {
        "INC-202601-000001": ("pending_confirmation", Decimal("27.00"), True, None),
        "INC-202601-000002": ("pending_confirmation", Decimal("5.01"), True, None),
        "INC-202601-000004": ("issued", Decimal("-5.00"), False, None),
        "INC-202512-000001": ("issued", Decimal("60.00"), False, None),
    }
    first = next(i for i in body["items"] if i["number"] == "INC-202601-000002")
    assert first["amount"] in ("5.01",) and first["program"] == "marketplace-boost"
    assert first["deadline"] == "2026-02-15T16:00:00Z"
    pending = c.get(API, {"state": "pending_confirmation", "limit": 1, "offset": 1}).json()
    assert (pending["total"], [i["number"] for i in pending["items"]]) == (2, ["INC-202601-000002"])
    assert [i["number"] for i in c.get(API, {"period": "2025-12"}).json()["items"]] == ["INC-202512-000001"]
    assert [i["number"] for i in c.get(API, {"program": "marketplace-boost"}).json()["items"]] == ["INC-202601-000002"]
    for bad in ({"state": "estimatedx"}, {"period": "2026-13"}, {"limit": 0}, {"offset": -1}):
        assert c.get(API, bad).status_code == 422, bad


def test_partner_filter_is_for_operators_and_isolation(org, made):
    op = api(org, "op")
    assert [i["number"] for i in op.get(API, {"partner": "sp-b"}).json()["items"]] == ["INC-202601-000003"]
    assert op.get(API).json()["total"] == 5
    # A partner's own scope is never widened by the filter.
    assert [i["number"] for i in api(org, "sp-b-finance").get(API, {"partner": "sp-a"}).json()["items"]] == [
        "INC-202601-000003"
    ]
    assert api(org, "sp-b-finance").get(f"{API}/INC-202601-000001").status_code == 404
    assert api(org, "sp-a-operator").get(API).status_code == 403
    assert api(org, "sp-a-operator").get(f"{API}/INC-202601-000001").status_code == 403
    assert Client().get(API).status_code == 401


def test_one_incentive_with_policy_calculation_and_history(org, made):
    r = api(org, "sp-a-finance").get(f"{API}/INC-202601-000001")
    assert r.status_code == 200
    body = r.json()
    assert (body["state"], Decimal(body["amount"]), Decimal(body["total"])) == (
        "pending_confirmation",
        Decimal("27.00"),
        Decimal("27.00"),
    )
    assert [(x["product_type"], Decimal(x["min_base"]), Decimal(x["rate"])) for x in body["policy"]["rates"]] == [
        ("", Decimal(0), Decimal("0.03")),
        ("", Decimal(1000), Decimal("0.05")),
    ]
    assert [
        (x["customer"], x["customer_name"], x["order_id"], Decimal(x["base_amount"]), Decimal(x["amount"]))
        for x in body["lines"]
    ] == [
        ("a1", "张*明", "CS2601000001", Decimal("800.125"), Decimal("24.00")),
        ("a3", "A****d", "CS2601000002", Decimal("99.995"), Decimal("3.00")),
    ]
    assert [(t["from_state"], t["to_state"], t["actor"]) for t in body["transitions"]] == [
        ("", "pending_confirmation", None)
    ]
    c = api(org, "sp-a-finance")
    assert c.get(f"{API}/INC-209901-000001").json()["code"] == "incentive_not_found"
    assert c.get(f"{API}/not-a-number").status_code == 422


def test_estimates(org, made):
    at = dt.datetime(2026, 2, 9, tzinfo=dt.UTC)
    Estimate.objects.create(
        program=made.cloud,
        partner=org.partners["sp-a"],
        period_start=FEB,
        period_end=dt.date(2026, 3, 1),
        currency="USD",
        base_amount=Decimal("150.5"),
        amount=Decimal("4.52"),
        line_count=3,
        as_of=at,
        computed_at=at,
    )
    body = api(org, "sp-a-finance").get(f"{API}/estimates").json()
    assert [(e["partner"], e["program"], e["amount"], e["base_amount"]) for e in body] == [
        ("sp-a", "cloud-growth", "4.52", "150.5")
    ]
    assert api(org, "sp-b-finance").get(f"{API}/estimates").json() == []


def test_confirm_status_codes_and_idempotency(org, made):
    c = api(org, "sp-a-finance")
    assert post(api(org, "sp-b-finance"), f"{API}/INC-202601-000001/confirm").status_code == 404
    assert post(api(org, "op"), f"{API}/INC-202601-000001/confirm").json()["code"] == "confirm_forbidden"
    assert post(api(org, "sp-a-operator"), f"{API}/INC-202601-000001/confirm").status_code == 403
    assert post(c, f"{API}/bad/confirm").status_code == 422
    assert post(c, f"{API}/INC-202601-000001/confirm", "k" * 201).status_code == 422
    unpaid_bill(org)
    frozen = post(c, f"{API}/INC-202601-000001/confirm")
    assert (frozen.status_code, frozen.json()) == (
        409,
        {"code": "frozen_unpaid_bills", "message": "Frozen: bill 2026-01 has 12.34 USD unpaid"},
    )
    assert Transition.objects.filter(to_state=State.ISSUING, actor__isnull=False).count() == 0
    with clock.frozen_at(NOW):
        pay(org)
        r = post(c, f"{API}/INC-202601-000002/confirm", "key-1")
        again = post(c, f"{API}/INC-202601-000002/confirm", "key-1")
        other = post(c, f"{API}/INC-202601-000001/confirm", "key-1")
        late = post(c, f"{API}/INC-202601-000001/confirm")
    assert r.status_code == 200
    body = r.json()
    assert (body["period_start"], body["repeated"]) == ("2026-01-01", False)
    assert [(i["number"], i["state"], Decimal(i["amount"])) for i in body["incentives"]] == [
        ("INC-202601-000001", "issuing", Decimal("27.00")),
        ("INC-202601-000002", "issuing", Decimal("5.01")),
    ]
    assert (again.status_code, again.json()["repeated"]) == (200, True)
    assert [i["number"] for i in again.json()["incentives"]] == ["INC-202601-000001", "INC-202601-000002"]
    assert (other.status_code, other.json()["code"]) == (409, "idempotency_key_reused")
    assert (late.status_code, late.json()["code"]) == (409, "not_pending")
    assert Transition.objects.filter(to_state=State.ISSUING, actor=org.users["sp-a-finance"]).count() == 2


def test_approve_status_codes_and_idempotency(org, made):
    with clock.frozen_at(NOW):
        post(api(org, "sp-a-finance"), f"{API}/INC-202601-000001/confirm")
    op = api(org, "op")
    assert post(api(org, "sp-a-admin"), f"{API}/INC-202601-000001/approve").json()["code"] == "approve_forbidden"
    assert post(api(org, "sp-b-admin"), f"{API}/INC-202601-000001/approve").status_code == 404
    assert post(op, f"{API}/INC-202601-000003/approve").json()["code"] == "not_issuing"
    assert post(op, f"{API}/INC-209901-000001/approve").status_code == 404
    at = dt.datetime(2026, 2, 12, 1, 2, 3, tzinfo=dt.UTC)
    with clock.frozen_at(at):
        r = post(op, f"{API}/INC-202601-000001/approve", "ap-1")
        again = post(op, f"{API}/INC-202601-000001/approve", "ap-1")
        twice = post(op, f"{API}/INC-202601-000001/approve")
    assert (r.status_code, r.json()["state"], r.json()["issued_at"]) == (200, "issued", "2026-02-12T01:02:03Z")
    assert (again.status_code, again.json()["state"]) == (200, "issued")
    assert (twice.status_code, twice.json()["code"]) == (409, "not_issuing")
    assert Incentive.objects.get(number="INC-202601-000001").state == State.ISSUED
    assert Transition.objects.filter(incentive__number="INC-202601-000001", to_state=State.ISSUED).count() == 1


def test_a_distributor_reads_its_resellers_but_cannot_confirm(org, made):
    from tests.incentive_fixtures import JAN, incentive

    incentive(
        made.cloud, "sub1", org, period=JAN, number="INC-202601-000005", lines=[("s1", "O1", "Compute", "10", "0.1")]
    )
    dist = api(org, "dist-admin")
    body = dist.get(API).json()
    assert [(i["number"], i["may_confirm"]) for i in body["items"]] == [("INC-202601-000005", False)]
    assert dist.get(f"{API}/INC-202601-000005").status_code == 200
    r = post(dist, f"{API}/INC-202601-000005/confirm")
    assert (r.status_code, r.json()["code"]) == (403, "confirm_forbidden")
    assert Incentive.objects.get(number="INC-202601-000005").state == State.PENDING
