"""The REST API: tokens, errors, and above all partner isolation on every route."""

from __future__ import annotations

import datetime as dt
import json
import re
from urllib.parse import urlencode

import pytest
from django.test import Client

from partnercenter.accounts.models import ApiToken, AuditEntry, User
from partnercenter.api import api
from partnercenter.core import clock
from partnercenter.partners import services as partner_services
from partnercenter.partners.models import AccountManagerAssignment, Customer, CustomerAssociation, Partner
from tests.conftest import PASSWORD, T0

API = "/api/v1"


def issue(client: Client, username: str, password: str = PASSWORD):
    return client.post(
        f"{API}/auth/tokens", {"username": username, "password": password}, content_type="application/json"
    )


def bearer(client: Client, username: str) -> dict[str, str]:
    r = issue(client, username)
    assert r.status_code == 201, r.content
    return {"HTTP_AUTHORIZATION": f"Bearer {r.json()['token']}"}


def call(client: Client, method: str, path: str, auth: dict[str, str], body=None, query=None, **extra):
    kwargs = dict(auth, **extra)
    if query:
        path = f"{path}?{urlencode(query)}"
    if body is not None:
        kwargs["data"] = body if isinstance(body, str) else json.dumps(body)
        kwargs["content_type"] = "application/json"
    return getattr(client, method)(f"{API}{path}", **kwargs)


def counts() -> dict[str, int]:
    return {
        "partners": Partner.objects.count(),
        "customers": Customer.objects.count(),
        "associations": CustomerAssociation.objects.count(),
        "assignments": AccountManagerAssignment.objects.count(),
        "users": User.objects.count(),
    }


# --- tokens ---------------------------------------------------------------------------------


def test_token_issue_use_and_revoke(org, client):
    r = issue(client, "sp-a-admin")
    assert r.status_code == 201
    body = r.json()
    assert set(body) == {"token", "expires_at"}
    assert body["token"].startswith("pc_")
    token = ApiToken.objects.get()
    assert token.user == org.users["sp-a-admin"]
    assert token.digest != body["token"] and body["token"] not in token.digest  # only a digest is stored
    auth = {"HTTP_AUTHORIZATION": f"Bearer {body['token']}"}

    me = client.get(f"{API}/me", **auth)
    assert me.status_code == 200
    assert me.json() == {
        "username": "sp-a-admin",
        "name": "",
        "partner": "sp-a",
        "partner_kind": "solution_provider",
        "role": "admin",
        "is_platform_operator": False,
        "menus": [
            "customer_alerts",
            "customer_assignment",
            "customer_bills",
            "customer_expenditure",
            "customer_management",
            "exports",
            "incentive_management",
            "lead_dispatch",
            "marketplace_links",
            "partner_bills",
            "payment_contracts",
            "revenue_sharing",
            "user_management",
        ],
    }

    r = client.delete(f"{API}/auth/tokens/current", **auth)
    assert r.status_code == 204
    token.refresh_from_db()
    assert token.revoked_at is not None
    r = client.get(f"{API}/me", **auth)
    assert r.status_code == 401
    assert r.json()["code"] == "unauthorized"


def test_me_of_finance_user_lists_its_menus(org, client):
    r = client.get(f"{API}/me", **bearer(client, "sp-a-finance"))
    assert r.json()["menus"] == [
        "customer_bills",
        "exports",
        "incentive_management",
        "partner_bills",
        "payment_contracts",
        "revenue_sharing",
    ]
    assert r.json()["role"] == "finance"


def test_wrong_password_is_401_invalid_credentials(org, client):
    r = issue(client, "sp-a-admin", "not-the-password")
    assert r.status_code == 401
    assert r.json() == {"code": "invalid_credentials", "message": "Wrong username or password."}
    assert issue(client, "nobody").status_code == 401
    assert ApiToken.objects.count() == 0


def test_expired_token_is_401(org, client):
    with clock.frozen_at(T0):
        auth = bearer(client, "sp-a-admin")
        assert client.get(f"{API}/me", **auth).status_code == 200
    token = ApiToken.objects.get()
    assert token.expires_at == T0 + dt.timedelta(hours=720)
    with clock.frozen_at(token.expires_at - dt.timedelta(seconds=1)):
        assert client.get(f"{API}/me", **auth).status_code == 200
    with clock.frozen_at(token.expires_at):
        r = client.get(f"{API}/me", **auth)
    assert r.status_code == 401
    assert r.json()["code"] == "unauthorized"


@pytest.mark.parametrize(
    "header",
    [None, "Bearer garbage", "Bearer pc_" + "x" * 43, "Token abc", "Bearer ", "Basic c3AtYS1hZG1pbjp4"],
)
def test_missing_or_bad_token_is_401_json(org, client, header):
    extra = {"HTTP_AUTHORIZATION": header} if header is not None else {}
    for path in ("/me", "/partners", "/customers"):
        r = client.get(f"{API}{path}", **extra)
        assert r.status_code == 401
        assert r["Content-Type"].startswith("application/json")
        assert r.json()["code"] == "unauthorized"


def test_inactive_users_token_stops_working(org, client):
    auth = bearer(client, "sp-a-operator")
    User.objects.filter(username="sp-a-operator").update(is_active=False)
    assert client.get(f"{API}/me", **auth).status_code == 401


def test_revoking_without_a_bearer_token_is_400(org, client):
    client.force_login(org.users["sp-a-admin"])
    r = client.delete(f"{API}/auth/tokens/current")
    assert r.status_code == 400
    assert r.json()["code"] == "no_bearer_token"


def test_sign_in_is_throttled_after_five_failures(org, client):
    for _ in range(4):
        r = issue(client, "sp-a-admin", "wrong-password")
        assert r.status_code == 401
        assert r.json()["code"] == "invalid_credentials"
    # the fifth failure reaches the limit: from here on every attempt is refused
    r = issue(client, "sp-a-admin", "wrong-password")
    assert r.status_code == 429
    # the sixth, even with the right password
    r = issue(client, "sp-a-admin", PASSWORD)
    assert r.status_code == 429
    assert r["Content-Type"].startswith("application/json")
    assert r.json() == {"code": "too_many_attempts", "message": "Too many failed sign-ins; try again later."}
    assert ApiToken.objects.count() == 0
    # another username from the same address is not locked out
    assert issue(client, "sp-b-admin").status_code == 201


# --- isolation ------------------------------------------------------------------------------


def test_partner_a_cannot_reach_partner_b_objects(org, client):
    auth = bearer(client, "sp-a-admin")
    before = counts()
    menus_before = list(User.objects.get(username="sp-b-operator").menus)

    r = call(client, "get", "/partners/sp-b", auth)
    assert r.status_code == 404
    assert r.json() == {"code": "not_found", "message": "No partner with code 'sp-b'."}

    r = call(client, "get", "/customers/b1", auth)
    assert r.status_code == 404
    assert r.json()["code"] == "not_found"

    r = call(client, "post", "/assignments", auth, {"account_ids": ["b1"], "manager": "sp-a-account_manager"})
    assert r.status_code == 404
    assert r.json()["details"] == ["b1"]
    r = call(client, "post", "/assignments", auth, {"account_ids": ["a1", "b1"], "manager": "sp-a-account_manager"})
    assert r.status_code == 404
    assert r.json() == {"code": "not_found", "message": "No customer with account id(s): b1.", "details": ["b1"]}
    assert AccountManagerAssignment.objects.count() == 0  # not even a1

    r = call(client, "post", "/assignments", auth, {"account_ids": ["a1"], "manager": "sp-b-account_manager"})
    assert r.status_code == 404
    assert AccountManagerAssignment.objects.count() == 0

    r = call(client, "put", "/users/sp-b-operator/menus", auth, {"menus": ["partner_bills"]})
    assert r.status_code == 404
    assert User.objects.get(username="sp-b-operator").menus == menus_before

    r = call(client, "get", "/customers", auth)
    assert [c["account_id"] for c in r.json()["items"]] == ["a1", "a2", "a3"]
    r = call(client, "get", "/customers", auth, query={"search": "b1"})
    assert r.json()["total"] == 0
    r = call(client, "get", "/customers", auth, query={"partner": "sp-b"})
    assert r.json()["items"] == []

    r = call(client, "get", "/partners", auth)
    assert [p["code"] for p in r.json()] == ["sp-a"]
    r = call(client, "get", "/users", auth)
    assert {u["partner"] for u in r.json()} == {"sp-a"}
    assert counts() == before


def test_distributor_sees_second_level_customer_but_cannot_assign_it(org, client):
    auth = bearer(client, "dist-admin")
    r = call(client, "get", "/customers", auth)
    assert [(c["account_id"], c["partner"]) for c in r.json()["items"]] == [
        ("d1", "dist"),
        ("s1", "sub1"),
        ("s2", "sub2"),
    ]
    assert call(client, "get", "/customers/s1", auth).status_code == 200
    assert [p["code"] for p in call(client, "get", "/partners", auth).json()] == ["dist", "sub1", "sub2"]
    assert call(client, "get", "/partners/sub1", auth).json() == {
        "code": "sub1",
        "name": "SUB1",
        "kind": "second_level_reseller",
        "parent": "dist",
    }

    r = call(client, "post", "/assignments", auth, {"account_ids": ["s1"], "manager": "dist-account_manager"})
    assert r.status_code == 404
    assert r.json()["details"] == ["s1"]
    # nor pick a second-level reseller's manager
    r = call(client, "post", "/assignments", auth, {"account_ids": ["d1"], "manager": "sub1-account_manager"})
    assert r.status_code == 404
    assert AccountManagerAssignment.objects.count() == 0

    r = call(client, "post", "/assignments", auth, {"account_ids": ["d1"], "manager": "dist-account_manager"})
    assert r.status_code == 200
    assert AccountManagerAssignment.objects.get().customer.account_id == "d1"

    # the second-level reseller sees only its own
    sub = bearer(client, "sub1-admin")
    assert [c["account_id"] for c in call(client, "get", "/customers", sub).json()["items"]] == ["s1"]
    assert call(client, "get", "/customers/d1", sub).status_code == 404
    assert call(client, "get", "/partners/dist", sub).status_code == 404


def test_account_manager_sees_only_assigned_customers(org, client):
    admin = bearer(client, "sp-a-admin")
    with clock.frozen_at(T0):
        r = call(
            client, "post", "/assignments", admin, {"account_ids": ["a1", "a3"], "manager": "sp-a-account_manager"}
        )
    assert r.status_code == 200
    # 2026-03-10 12:00 Shanghai → effective from 2026-03-11 00:00 Shanghai = 2026-03-10 16:00 UTC
    assert r.json() == {
        "manager": "sp-a-account_manager",
        "assignments": [
            {"account_id": "a1", "assigned_at": "2026-03-10T04:00:00Z", "effective_from": "2026-03-10T16:00:00Z"},
            {"account_id": "a3", "assigned_at": "2026-03-10T04:00:00Z", "effective_from": "2026-03-10T16:00:00Z"},
        ],
    }
    mgr = bearer(client, "sp-a-account_manager")
    r = call(client, "get", "/customers", mgr)
    assert [(c["account_id"], c["account_manager"]) for c in r.json()["items"]] == [
        ("a1", "sp-a-account_manager"),
        ("a3", "sp-a-account_manager"),
    ]
    assert call(client, "get", "/customers/a2", mgr).status_code == 404
    detail = call(client, "get", "/customers/a1", mgr).json()
    assert detail["assignments"] == [
        {
            "manager": "sp-a-account_manager",
            "assigned_at": "2026-03-10T04:00:00Z",
            "effective_from": "2026-03-10T16:00:00Z",
            "ended_at": None,
        }
    ]
    # another account manager of the same partner sees none of them
    other = bearer(client, "sp-b-account_manager")
    assert call(client, "get", "/customers", other).json()["total"] == 0
    # filtering by manager
    r = call(client, "get", "/customers", admin, query={"manager": "sp-a-account_manager"})
    assert [c["account_id"] for c in r.json()["items"]] == ["a1", "a3"]
    r = call(client, "get", "/customers", admin, query={"unassigned": "true"})
    assert [c["account_id"] for c in r.json()["items"]] == ["a2"]
    assert call(client, "get", "/customers", admin, query={"manager": "sp-b-account_manager"}).status_code == 404


def test_customer_list_masks_sensitive_fields_and_paginates(org, client):
    auth = bearer(client, "sp-a-admin")
    r = call(client, "get", "/customers", auth)
    assert r.json() == {
        "total": 3,
        "limit": 50,
        "offset": 0,
        "items": [
            {
                "account_id": "a1",
                "name": "张*明",
                "email": "a1***@example.com",
                "mobile": "138****0000",
                "association_type": "reseller",
                "partner": "sp-a",
                "account_manager": None,
            },
            {
                "account_id": "a2",
                "name": "A****p",
                "email": "a2***@example.com",
                "mobile": "138****0000",
                "association_type": "referral",
                "partner": "sp-a",
                "account_manager": None,
            },
            {
                "account_id": "a3",
                "name": "A****d",
                "email": "a3***@example.com",
                "mobile": "138****0000",
                "association_type": "reseller",
                "partner": "sp-a",
                "account_manager": None,
            },
        ],
    }
    r = call(client, "get", "/customers", auth, query={"limit": 1, "offset": 1})
    assert (r.json()["total"], [c["account_id"] for c in r.json()["items"]]) == (3, ["a2"])
    r = call(client, "get", "/customers", auth, query={"association_type": "referral"})
    assert [c["account_id"] for c in r.json()["items"]] == ["a2"]
    r = call(client, "get", "/customers", auth, query={"search": "acme"})
    assert [c["account_id"] for c in r.json()["items"]] == ["a3"]
    assert "Acme" not in r.content.decode()
    assert "13800000000" not in r.content.decode()

    r = call(client, "get", "/customers", auth, query={"limit": 501})
    assert r.status_code == 422
    assert r.json()["details"] == [{"where": "query.limit", "why": "Input should be less than or equal to 500"}]
    assert call(client, "get", "/customers", auth, query={"limit": 500}).status_code == 200
    assert call(client, "get", "/customers", auth, query={"limit": 0}).status_code == 422
    assert call(client, "get", "/customers", auth, query={"offset": -1}).status_code == 422
    assert call(client, "get", "/customers", auth, query={"association_type": "x"}).status_code == 422


def test_customer_detail_has_history_of_own_partner_only(org, client):
    with clock.frozen_at(T0):
        partner_services.assign_customers(
            actor=org.users["sp-b-admin"], customers=[org.customers["b1"]], manager=org.users["sp-b-account_manager"]
        )
    # b1 moves from sp-b to sp-a
    partner_services.associate_customer(
        customer=org.customers["b1"], partner=org.partners["sp-a"], association_type="referral", valid_from=T0
    )
    auth = bearer(client, "sp-a-admin")
    r = call(client, "get", "/customers/b1", auth)
    assert r.status_code == 200
    body = r.json()
    assert body["partner"] == "sp-a"
    assert body["association_type"] == "referral"
    assert body["associations"] == [
        {"partner": "sp-a", "association_type": "referral", "valid_from": "2026-03-10T04:00:00Z", "valid_to": None}
    ]
    assert body["assignments"] == []  # sp-b's manager is none of sp-a's business
    # the operator sees everything
    body = call(client, "get", "/customers/b1", bearer(client, "op")).json()
    assert [a["partner"] for a in body["associations"]] == ["sp-a", "sp-b"]
    assert [a["manager"] for a in body["assignments"]] == ["sp-b-account_manager"]
    # and sp-b no longer sees b1
    assert call(client, "get", "/customers/b1", bearer(client, "sp-b-admin")).status_code == 404


# --- operator-only writes -------------------------------------------------------------------


def test_only_a_platform_operator_creates_partners(org, client):
    body = {"code": "new-sp", "name": "New SP", "kind": "solution_provider"}
    before = counts()
    for username in ("sp-a-admin", "dist-admin", "sp-a-finance"):
        r = call(client, "post", "/partners", bearer(client, username), body)
        assert r.status_code == 403
        assert r.json()["code"] == "forbidden"
    assert counts() == before

    op = bearer(client, "op")
    r = call(client, "post", "/partners", op, body)
    assert r.status_code == 201
    assert r.json() == {"code": "new-sp", "name": "New SP", "kind": "solution_provider", "parent": None}
    r = call(client, "post", "/partners", op, {"code": "sub3", "name": "Sub 3", "kind": "second_level_reseller"})
    assert r.status_code == 422
    assert r.json()["details"] == {"parent": "a second-level reseller needs its distributor (--parent)"}
    r = call(
        client,
        "post",
        "/partners",
        op,
        {"code": "sub3", "name": "S", "kind": "second_level_reseller", "parent": "sp-a"},
    )
    assert r.status_code == 422
    assert r.json()["details"] == {"parent": "'sp-a' is not a distributor"}
    r = call(
        client,
        "post",
        "/partners",
        op,
        {"code": "sub3", "name": "S", "kind": "second_level_reseller", "parent": "dist"},
    )
    assert r.status_code == 201
    assert r.json()["parent"] == "dist"
    assert [p["code"] for p in call(client, "get", "/partners", op).json()] == [
        "dist",
        "new-sp",
        "ref",
        "sp-a",
        "sp-b",
        "sub1",
        "sub2",
        "sub3",
    ]


def test_operator_creates_and_reassociates_customers(org, client):
    body = {
        "account_id": "n1",
        "name": "New Customer",
        "email": "n1@example.com",
        "mobile": "13912345678",
        "partner": "sp-a",
        "association_type": "reseller",
        "valid_from": "2026-03-01",
    }
    before = counts()
    r = call(client, "post", "/customers", bearer(client, "sp-a-admin"), body)
    assert r.status_code == 403
    r = call(
        client,
        "post",
        "/customers/a1/associations",
        bearer(client, "sp-a-admin"),
        {"partner": "sp-b", "association_type": "reseller"},
    )
    assert r.status_code == 403
    assert counts() == before

    op = bearer(client, "op")
    r = call(client, "post", "/customers", op, body)
    assert r.status_code == 201
    assert r.json()["mobile"] == "139****5678"
    assoc = CustomerAssociation.objects.get(customer__account_id="n1")
    assert assoc.valid_from == dt.datetime(2026, 2, 28, 16, 0, tzinfo=dt.UTC)

    r = call(client, "post", "/customers", op, body)
    assert r.status_code == 409
    assert r.json()["code"] == "customer_exists"
    r = call(client, "post", "/customers", op, dict(body, account_id="n2", partner="ref"))
    assert r.status_code == 422
    assert r.json()["details"] == ["association_type: a Referral partner cannot hold reseller customers"]

    r = call(
        client,
        "post",
        "/customers/n1/associations",
        op,
        {"partner": "sp-b", "association_type": "referral", "valid_from": "2026-03-05"},
    )
    assert r.status_code == 201
    assert r.json() == {
        "partner": "sp-b",
        "association_type": "referral",
        "valid_from": "2026-03-04T16:00:00Z",
        "valid_to": None,
    }
    assoc.refresh_from_db()
    assert assoc.valid_to == dt.datetime(2026, 3, 4, 16, 0, tzinfo=dt.UTC)
    r = call(client, "post", "/customers/nope/associations", op, {"partner": "sp-b", "association_type": "referral"})
    assert r.status_code == 404
    r = call(client, "post", "/customers/n1/associations", op, {"partner": "nope", "association_type": "referral"})
    assert r.status_code == 404


# --- assignments ----------------------------------------------------------------------------


def test_assignment_needs_the_menu(org, client):
    r = call(
        client,
        "post",
        "/assignments",
        bearer(client, "sp-a-finance"),
        {"account_ids": ["a1"], "manager": "sp-a-account_manager"},
    )
    assert r.status_code == 403
    assert r.json() == {"code": "menu_forbidden", "message": "You do not have permission for this menu."}
    assert AccountManagerAssignment.objects.count() == 0
    # granted by the admin, the finance user may assign
    admin = bearer(client, "sp-a-admin")
    r = call(client, "put", "/users/sp-a-finance/menus", admin, {"menus": ["customer_assignment"]})
    assert r.status_code == 200
    assert r.json()["menus"] == ["customer_assignment"]
    r = call(
        client,
        "post",
        "/assignments",
        bearer(client, "sp-a-finance"),
        {"account_ids": ["a1"], "manager": "sp-a-account_manager"},
    )
    assert r.status_code == 200
    assert AccountManagerAssignment.objects.count() == 1


def test_assignment_manager_must_be_an_account_manager(org, client):
    auth = bearer(client, "sp-a-admin")
    r = call(client, "post", "/assignments", auth, {"account_ids": ["a1"], "manager": "sp-a-operator"})
    assert r.status_code == 404
    assert r.json() == {"code": "not_found", "message": "No account manager 'sp-a-operator'."}
    assert AccountManagerAssignment.objects.count() == 0


def test_assignment_is_idempotent(org, client):
    auth = bearer(client, "sp-a-admin")
    body = {"account_ids": ["a1", "a2"], "manager": "sp-a-account_manager"}
    with clock.frozen_at(T0):
        first = call(client, "post", "/assignments", auth, body, HTTP_IDEMPOTENCY_KEY="key-1")
    assert first.status_code == 200
    assert AccountManagerAssignment.objects.count() == 2
    # the same key and body a day later: the same answer, no second write
    with clock.frozen_at(T0 + dt.timedelta(days=1)):
        again = call(
            client, "post", "/assignments", auth, dict(body, account_ids=["a2", "a1"]), HTTP_IDEMPOTENCY_KEY="key-1"
        )
        assert again.status_code == 200
        assert again.json() == first.json()
        # the same key with another body is refused
        other = call(
            client,
            "post",
            "/assignments",
            auth,
            {"account_ids": ["a3"], "manager": "sp-a-account_manager"},
            HTTP_IDEMPOTENCY_KEY="key-1",
        )
        assert other.status_code == 409
        assert other.json()["code"] == "idempotency_key_reused"
        # without a key, re-assigning to the current manager changes nothing either
        plain = call(client, "post", "/assignments", auth, body)
        assert plain.json() == first.json()
    assert AccountManagerAssignment.objects.count() == 2
    assert AccountManagerAssignment.objects.filter(ended_at__isnull=False).count() == 0
    # a key is the caller's own: another user's identical key is a new request
    with clock.frozen_at(T0 + dt.timedelta(days=2)):
        r = call(client, "post", "/assignments", bearer(client, "op"), body, HTTP_IDEMPOTENCY_KEY="key-1")
    assert r.status_code == 200
    assert AuditEntry.objects.filter(action="api.idempotency_key").count() == 2


# --- users ----------------------------------------------------------------------------------


def test_users_listing_by_role(org, client):
    r = call(client, "get", "/users", bearer(client, "sp-a-admin"))
    assert [u["username"] for u in r.json()] == [
        "sp-a-account_manager",
        "sp-a-admin",
        "sp-a-finance",
        "sp-a-operator",
    ]
    r = call(client, "get", "/users", bearer(client, "op"))
    assert len(r.json()) == 24 and "op" not in {u["username"] for u in r.json()}
    for username in ("sp-a-operator", "sp-a-finance", "sp-a-account_manager"):
        r = call(client, "get", "/users", bearer(client, username))
        assert r.status_code == 403
    # a distributor admin manages its own users, not its second-level resellers'
    r = call(client, "get", "/users", bearer(client, "dist-admin"))
    assert {u["partner"] for u in r.json()} == {"dist"}


def test_create_user_and_set_menus(org, client):
    body = {
        "username": "sp-a-new",
        "password": "Another-pass-987",
        "partner": "sp-a",
        "role": "operator",
        "first_name": "小明",
        "last_name": "张",
    }
    assert call(client, "post", "/users", bearer(client, "sp-a-admin"), body).status_code == 403
    op = bearer(client, "op")
    r = call(client, "post", "/users", op, body)
    assert r.status_code == 201
    assert r.json() == {
        "username": "sp-a-new",
        "name": "张小明",  # surname first
        "email": "",
        "partner": "sp-a",
        "role": "operator",
        "menus": ["customer_alerts", "customer_expenditure", "customer_management", "exports", "marketplace_links"],
        "is_active": True,
    }
    r = call(client, "post", "/users", op, dict(body, username="x2", password="123"))
    assert r.status_code == 422
    assert set(r.json()["details"]) == {"password"}

    admin = bearer(client, "sp-a-admin")
    r = call(client, "put", "/users/sp-a-new/menus", admin, {"menus": ["partner_bills", "exports"]})
    assert r.status_code == 200
    assert User.objects.get(username="sp-a-new").menus == ["exports", "partner_bills"]
    r = call(client, "put", "/users/sp-a-new/menus", admin, {"menus": ["user_management"]})
    assert r.status_code == 422
    r = call(client, "put", "/users/sp-a-new/menus", admin, {"menus": ["no_such_menu"]})
    assert r.status_code == 422
    assert User.objects.get(username="sp-a-new").menus == ["exports", "partner_bills"]
    # a non-admin may not
    r = call(client, "put", "/users/sp-a-new/menus", bearer(client, "sp-a-operator"), {"menus": []})
    assert r.status_code == 403
    assert call(client, "put", "/users/nobody/menus", admin, {"menus": []}).status_code == 404


# --- malformed requests ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "where"),
    [
        ("post", "/assignments", {"account_ids": "a1", "manager": "sp-a-account_manager"}, "body.account_ids"),
        ("post", "/assignments", {"account_ids": [], "manager": "sp-a-account_manager"}, "body.account_ids"),
        ("post", "/assignments", {"account_ids": ["a1"]}, "body.manager"),
        ("post", "/partners", {"code": "x", "name": "X", "kind": "emperor"}, "body.kind"),
        ("post", "/customers", {"account_id": "z", "name": "Z", "partner": "sp-a"}, "body.association_type"),
        (
            "post",
            "/customers",
            {"account_id": "z", "name": "Z", "partner": "sp-a", "association_type": "reseller", "valid_from": "March"},
            "body.valid_from",
        ),
        ("put", "/users/sp-a-operator/menus", {"menus": "all"}, "body.menus"),
        ("post", "/auth/tokens", {"username": "op"}, "body.password"),
        ("post", "/assignments", [1, 2], "body.manager"),
    ],
)
def test_malformed_bodies_are_422_and_change_nothing(org, client, method, path, body, where):
    auth = bearer(client, "op")
    before = counts()
    menus_before = User.objects.get(username="sp-a-operator").menus
    r = call(client, method, path, auth, body)
    assert r.status_code == 422
    payload = r.json()
    assert payload["code"] == "validation_error"
    assert payload["message"] == "The request is not valid."
    assert where in [d["where"] for d in payload["details"]]
    assert all(set(d) == {"where", "why"} and d["why"] for d in payload["details"])
    assert counts() == before
    assert User.objects.get(username="sp-a-operator").menus == menus_before


@pytest.mark.parametrize("raw", ["{not json", '{"account_ids": ["a1"], ', "\xff", "nul"])
def test_invalid_json_is_a_clear_400(org, client, raw):
    auth = bearer(client, "sp-a-admin")
    before = counts()
    r = call(client, "post", "/assignments", auth, raw)
    assert r.status_code == 400
    payload = r.json()
    assert payload["code"] == "invalid_json"
    assert payload["message"] == "The request body is not valid JSON."
    assert payload["details"][0]["where"] == "body"
    assert counts() == before


def test_unknown_ids_are_404_json(org, client):
    auth = bearer(client, "op")
    for path in ("/partners/nope", "/customers/nope"):
        r = call(client, "get", path, auth)
        assert r.status_code == 404
        assert r.json()["code"] == "not_found"
    r = call(client, "put", "/users/nope/menus", auth, {"menus": []})
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    r = call(
        client, "post", "/assignments", auth, {"account_ids": ["nope", "a1", "zz"], "manager": "sp-a-account_manager"}
    )
    assert r.status_code == 404
    assert r.json()["details"] == ["nope", "zz"]


# --- console session ------------------------------------------------------------------------


def test_console_session_works_and_unsafe_requests_need_csrf(org):
    c = Client(enforce_csrf_checks=True)
    c.force_login(org.users["sp-a-admin"])
    assert c.get(f"{API}/me").json()["username"] == "sp-a-admin"
    body = json.dumps({"account_ids": ["a1"], "manager": "sp-a-account_manager"})
    r = c.post(f"{API}/assignments", body, content_type="application/json")
    assert r.status_code == 401  # no CSRF token: the session does not authenticate the write
    assert r.json()["code"] == "unauthorized"
    assert AccountManagerAssignment.objects.count() == 0
    # the console's pages set the CSRF cookie; a script sends it back as the X-CSRFToken header
    token = "k" * 32
    c.cookies["csrftoken"] = token
    r = c.post(f"{API}/assignments", body, content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert r.status_code == 200, r.content
    assert AccountManagerAssignment.objects.count() == 1


def test_bearer_requests_need_no_csrf(org):
    c = Client(enforce_csrf_checks=True)
    auth = bearer(c, "sp-a-admin")
    r = call(c, "post", "/assignments", auth, {"account_ids": ["a1"], "manager": "sp-a-account_manager"})
    assert r.status_code == 200


# --- docs and health ------------------------------------------------------------------------


def test_openapi_and_docs(client, db):
    r = client.get(f"{API}/openapi.json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    for path in ("/api/v1/auth/tokens", "/api/v1/customers", "/api/v1/assignments", "/api/v1/users/{username}/menus"):
        assert path in paths
    assert client.get(f"{API}/docs").status_code == 200


def test_healthz(client, db):
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"


# --- the generic isolation sweep ------------------------------------------------------------

# Partner B's ids, by the name of the path parameter that carries them.
B_IDS = {"code": "sp-b", "account_id": "b1", "username": "sp-b-operator"}
B_QUERY = {
    "partner": "sp-b",
    "customer": "b1",
    "account_id": "b1",
    "manager": "sp-b-account_manager",
    "username": "sp-b-operator",
}
# Bodies naming partner B's objects; routes not listed get one built from the parameter names.
B_BODIES = {
    ("post", "/assignments"): {"account_ids": ["b1"], "manager": "sp-b-account_manager"},
    ("put", "/users/{username}/menus"): {"menus": ["partner_bills"]},
    ("post", "/customers/{account_id}/associations"): {"partner": "sp-b", "association_type": "reseller"},
    ("post", "/partners"): {"code": "sp-b-2", "name": "B2", "kind": "second_level_reseller", "parent": "sp-b"},
    ("post", "/customers"): {"account_id": "b9", "name": "B9", "partner": "sp-b", "association_type": "reseller"},
    ("post", "/users"): {"username": "sp-b-x", "password": "Another-pass-987", "partner": "sp-b", "role": "admin"},
}
# Routes that answer about the caller only, whatever is sent.
NOT_ABOUT_PARTNERS = {("post", "/auth/tokens"), ("delete", "/auth/tokens/current")}
B_MARKERS = re.compile(r'"(sp-b|b1|sp-b-[a-z_]+|B\*+o)"')


def _b_state():
    return (
        list(AccountManagerAssignment.objects.filter(partner__code="sp-b").values_list("pk", "ended_at")),
        list(CustomerAssociation.objects.filter(partner__code="sp-b").values_list("pk", "valid_to")),
        list(User.objects.filter(partner__code="sp-b").values_list("username", "menus", "is_active")),
        list(Partner.objects.values_list("code", "parent_id")),
        Customer.objects.count(),
    )


def test_sweep_every_route_with_partner_b_ids(org, client):
    """Every operation the API registers, called by partner A with partner B's ids: none may answer
    2xx with partner B's data, and none may change partner B's objects."""
    partner_services.assign_customers(
        actor=org.users["sp-b-admin"], customers=[org.customers["b1"]], manager=org.users["sp-b-account_manager"]
    )
    auth = bearer(client, "sp-a-admin")
    schema = api.get_openapi_schema()
    prefix = "/api/v1"
    operations = [(m, p[len(prefix) :]) for p, ops in schema["paths"].items() for m in ops]
    assert len(operations) >= 13
    before = _b_state()
    seen = set()
    statuses = {}
    for method, path in operations:
        concrete = re.sub(r"\{(\w+)\}", lambda m: B_IDS.get(m.group(1), "b1"), path)
        body = B_BODIES.get((method, path))
        if body is None and method in ("post", "put", "patch"):
            body = {**B_QUERY, "account_ids": ["b1"], "partner_code": "sp-b"}
        # revoking the caller's token would end the sweep: that route gets a token of its own
        token = bearer(client, "sp-a-admin") if (method, path) in NOT_ABOUT_PARTNERS else auth
        for query in (None, B_QUERY):
            r = call(client, method, concrete, token, body, query=query)
            statuses[(method, path, bool(query))] = r.status_code
            assert r.status_code < 500, (method, path, r.status_code)
            assert r["Content-Type"].startswith("application/json") or r.status_code == 204, (method, path)
            if 200 <= r.status_code < 300 and (method, path) not in NOT_ABOUT_PARTNERS:
                assert not B_MARKERS.search(r.content.decode()), (method, path, r.content[:300])
            if method != "get":
                break  # one write attempt is enough
        seen.add((method, path))
        assert _b_state() == before, (method, path)
    assert seen == set(operations)
    # the sweep really ran authenticated, and the lists answered (with partner A's data only)
    assert 401 not in statuses.values(), statuses
    assert statuses[("get", "/customers", False)] == 200
    assert statuses[("get", "/partners", False)] == 200
    assert statuses[("get", "/users", False)] == 200
