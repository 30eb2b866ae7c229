"""The API enforces the console's menus: every route × every role, against the console's own gate."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client
from django.urls import reverse

from partnercenter.accounts import services as account_services
from partnercenter.api import api
from partnercenter.core import menus

API = "/api/v1"
# admin, operator with the default menus, account manager, finance, and a platform operator.
ROLES = ("sp-a-admin", "sp-a-operator", "sp-a-account_manager", "sp-a-finance", "op")


def _operations() -> list[tuple[str, str, str | None]]:
    schema = api.get_openapi_schema()
    return [(method, path, op.get("x-menu")) for path, ops in schema["paths"].items() for method, op in ops.items()]


def _call(client: Client, method: str, path: str, body: dict | None = None):
    concrete = re.sub(r"\{(\w+)\}", lambda m: "999999" if m.group(1).endswith("_id") else "x", path)
    kwargs = {}
    if method in ("post", "put", "patch"):
        kwargs = {"data": json.dumps(body or {}), "content_type": "application/json"}
    return getattr(client, method)(concrete, **kwargs)


def _console_refuses(client: Client, menu: str) -> bool:
    r = client.get(reverse(menus.BY_CODE[menu].url_name))
    assert r.status_code in (200, 403), (menu, r.status_code)
    return r.status_code == 403


def test_every_route_declares_what_gates_it(db):
    operations = _operations()
    assert len(operations) >= 20
    undeclared = [(m, p) for m, p, menu in operations if menu is None]
    assert undeclared == [], "declare a menu (core/decorators.api_menu or router_menu) for these routes"
    unknown = [(m, p, menu) for m, p, menu in operations if menu not in menus.API_DECLARATIONS]
    assert unknown == []


@pytest.mark.parametrize("username", ROLES)
def test_api_answers_403_exactly_where_the_console_menu_does(org, username):
    client = Client()
    user = org.users[username]
    client.force_login(user)
    checked = 0
    for method, path, menu in _operations():
        r = _call(client, method, path)
        assert r.status_code < 500, (method, path, r.status_code)
        body = r.json() if r.status_code != 204 else None
        code = body.get("code") if isinstance(body, dict) else None
        if menu in menus.CODES:
            refused = _console_refuses(client, menu)
            assert refused == (menu not in user.menu_codes())
            assert (r.status_code == 403 and code == "menu_forbidden") == refused, (method, path, r.status_code, code)
        elif menu == menus.API_PLATFORM_OPERATOR:
            # the console of these is the operator admin, open to platform operators only
            assert (r.status_code == 403) == (not user.is_platform_operator), (method, path, r.status_code)
            assert (client.get(reverse("admin:index")).status_code == 200) == user.is_platform_operator
        else:
            assert menu in (menus.API_SIGNED_IN, menus.API_EXPORT_KIND), (method, path, menu)
            assert r.status_code not in (401, 403), (method, path, r.status_code, code)
        checked += 1
    assert checked == len(_operations())


def test_finance_user_cannot_list_customers_by_api(org, client):
    """The finance role has no Customer Management menu: the console refuses /customers/, so does the API."""
    client.force_login(org.users["sp-a-finance"])
    assert client.get("/customers/").status_code == 403
    r = client.get(f"{API}/customers")
    assert r.status_code == 403
    assert r.json() == {"code": "menu_forbidden", "message": "You do not have permission for this menu."}
    assert client.get(f"{API}/customers/a1").status_code == 403


def test_menu_removed_by_the_admin_closes_the_api_too(org, client):
    operator = org.users["sp-a-operator"]
    client.force_login(operator)
    assert client.get(f"{API}/customers").status_code == 200
    account_services.set_menus(actor=org.users["sp-a-admin"], user=operator, menu_codes=[menus.CUSTOMER_EXPENDITURE])
    assert client.get(f"{API}/customers").status_code == 403
    assert client.get(f"{API}/expenditure/summary").status_code == 200


def test_the_menu_is_checked_before_the_request_is_read(org, client):
    client.force_login(org.users["sp-a-finance"])
    r = client.post(f"{API}/assignments", "not json", content_type="application/json")
    assert r.status_code == 403
    assert r.json()["code"] == "menu_forbidden"


def test_bearer_token_is_gated_like_the_session(org, client):
    r = client.post(
        f"{API}/auth/tokens",
        {"username": "sp-a-finance", "password": "Test-pass-1234"},
        content_type="application/json",
    )
    auth = {"HTTP_AUTHORIZATION": f"Bearer {r.json()['token']}"}
    assert client.get(f"{API}/customers", **auth).status_code == 403
    assert client.get(f"{API}/me", **auth).status_code == 200


def test_openapi_documents_each_routes_menu(client, db):
    paths = client.get(f"{API}/openapi.json").json()["paths"]
    assert paths["/api/v1/customers"]["get"]["x-menu"] == "customer_management"
    assert paths["/api/v1/assignments"]["post"]["x-menu"] == "customer_assignment"
    assert paths["/api/v1/expenditure/summary"]["get"]["x-menu"] == "customer_expenditure"
    assert paths["/api/v1/exports"]["get"]["x-menu"] == "exports"
    assert paths["/api/v1/exports"]["post"]["x-menu"] == "export_kind"
    assert paths["/api/v1/partners"]["post"]["x-menu"] == "platform_operator"
    assert paths["/api/v1/me"]["get"]["x-menu"] == "signed_in"
