"""Share Product Link and the storefront's orders (O5): links carry the partner code; an order
through a link associates a new customer with the link's partner, never replaces an existing
association, and is kept once per order id; refusals change nothing."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.utils import translation

from partnercenter.accounts.models import AuditEntry
from partnercenter.api import api
from partnercenter.core import clock
from partnercenter.marketplace.models import MarketplaceOrder, ProductLink
from partnercenter.partners.models import Customer, CustomerAssociation
from tests.marketplace_fixtures import make_market

API = "/api/v1/marketplace"
NOW = dt.datetime(2026, 3, 10, 4, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def now():
    with clock.frozen_at(NOW):
        yield NOW


@pytest.fixture
def market(org):
    return make_market(org)


def as_user(org, username: str) -> Client:
    c = Client()
    c.force_login(org.users[username])
    return c


def post(c: Client, path: str, body: dict | None = None):
    return c.post(f"{API}{path}", json.dumps(body or {}), content_type="application/json")


def link_of(org, username: str = "sp-b-operator", product: str = "waf") -> dict:
    r = post(as_user(org, username), f"/products/{product}/link")
    assert r.status_code in (200, 201), r.content
    return r.json()


def order(link: dict, **over) -> dict:
    body = {
        "order_id": "ORD-1",
        "product": link["product"],
        "ref": link["ref"],
        "partner": link["partner"],
        "account_id": "new-1",
        "customer_name": "王新客",
        "email": "new-1@example.com",
        "mobile": "13900000000",
        "amount": "699.00",
        "currency": "CNY",
    }
    body.update(over)
    return body


def snapshot() -> tuple:
    return (
        list(MarketplaceOrder.objects.values_list("order_id", "association")),
        list(Customer.objects.order_by("pk").values_list("account_id", flat=True)),
        list(CustomerAssociation.objects.order_by("pk").values_list("customer_id", "partner_id", "valid_to")),
        AuditEntry.objects.count(),
    )


def test_link_carries_partner_code_and_is_made_once(org, market):
    c = as_user(org, "sp-b-operator")
    first = post(c, "/products/waf/link")
    assert first.status_code == 201
    link = first.json()
    url = urlsplit(link["url"])
    assert url.path == "/marketplace/p/waf"
    assert parse_qs(url.query) == {"partner": ["sp-b"], "ref": [link["ref"]]}
    again = post(c, "/products/waf/link")
    assert again.status_code == 200 and again.json() == link
    assert ProductLink.objects.count() == 1
    listed = {p["code"]: p["link"] for p in c.get(f"{API}/products").json()}
    assert listed == {"bi": None, "scan": None, "waf": link["url"]}
    landing = Client().get(f"/marketplace/p/waf?partner=sp-b&ref={link['ref']}")
    assert landing.status_code == 200 and "SecureWAF Pro" in landing.content.decode()


def test_links_refused_to_non_enrolled_partners_and_operators(org, market):
    before = snapshot()
    r = post(as_user(org, "sp-a-operator"), "/products/waf/link")
    assert r.status_code == 403 and r.json()["code"] == "not_enrolled"
    assert post(as_user(org, "op"), "/products/waf/link").status_code == 403
    assert post(as_user(org, "sp-b-operator"), "/products/nope/link").status_code == 404
    assert post(as_user(org, "sp-b-finance"), "/products/waf/link").status_code == 403  # no menu
    assert snapshot() == before and ProductLink.objects.count() == 0


def test_order_associates_a_new_customer_with_the_links_partner(org, market):
    link = link_of(org)
    op = as_user(org, "op")
    r = post(op, "/orders", order(link))
    assert r.status_code == 201, r.content
    body = r.json()
    assert (body["association"], body["partner"], body["customer"], body["amount"], body["currency"]) == (
        "created",
        "sp-b",
        "new-1",
        "699",
        "CNY",
    )
    assert body["reason"] == "new customer associated with 'sp-b' as a reseller customer"
    assoc = CustomerAssociation.objects.get(customer__account_id="new-1")
    assert (assoc.partner.code, assoc.association_type, assoc.valid_from, assoc.valid_to) == (
        "sp-b",
        "reseller",
        NOW,
        None,
    )
    # The same order id again: the first answer, nothing new.
    before = snapshot()
    repeat = post(op, "/orders", order(link, account_id="other", amount="1"))
    assert repeat.status_code == 200 and repeat.json() == body
    assert snapshot() == before
    # The new customer now shows in the partner's Customer Management.
    page = as_user(org, "sp-b-admin").get("/customers/")
    assert "new-1" in page.content.decode()


def test_existing_association_is_never_replaced(org, market):
    link = link_of(org)
    op = as_user(org, "op")
    before = list(CustomerAssociation.objects.order_by("pk").values_list("pk", "partner_id", "valid_to"))
    r = post(op, "/orders", order(link, account_id="a1", customer_name="张小明"))
    assert r.status_code == 201
    body = r.json()
    assert (body["association"], body["partner"], body["customer"]) == ("unchanged", "sp-b", "a1")
    assert body["reason"] == (
        "the customer is already associated with another partner (reseller); "
        "an order through a link never replaces an existing association"
    )
    assert list(CustomerAssociation.objects.order_by("pk").values_list("pk", "partner_id", "valid_to")) == before
    own = post(op, "/orders", order(link, order_id="ORD-2", account_id="b1", customer_name="Bob Co"))
    assert own.json()["association"] == "unchanged"
    assert own.json()["reason"] == "the customer is already associated with 'sp-b' (reseller)"


@pytest.mark.parametrize(
    ("over", "where"),
    [
        ({"ref": "nope"}, "ref: no link 'nope' of product 'waf'"),
        ({"product": "bi"}, "ref: no link"),
        ({"partner": "sp-a"}, "partner: the link belongs to 'sp-b', not 'sp-a'"),
        ({"amount": "1e3"}, "amount: '1e3' is not a decimal amount"),
        ({"amount": "1.001"}, "amount: '1.001' has more decimals than CNY allows"),
        ({"currency": "XX1"}, "currency:"),
    ],
)
def test_invalid_orders_change_nothing(org, market, over, where):
    link = link_of(org)
    before = snapshot()
    r = post(as_user(org, "op"), "/orders", order(link, **over))
    assert r.status_code == 422, r.content
    assert any(d.startswith(where) for d in r.json()["details"]), r.json()
    assert snapshot() == before


def test_invalid_customer_fields_change_nothing(org, market):
    link = link_of(org)
    before = snapshot()
    r = post(as_user(org, "op"), "/orders", order(link, email="not-an-email"))
    assert r.status_code == 422
    assert snapshot() == before


def test_only_the_platform_operator_records_orders(org, market):
    link = link_of(org)
    before = snapshot()
    for username in ("sp-b-admin", "sp-b-operator"):
        r = post(as_user(org, username), "/orders", order(link))
        assert r.status_code == 403
    assert Client().post(f"{API}/orders", "{}", content_type="application/json").status_code == 401
    assert snapshot() == before


def test_share_page(org, market):
    link = link_of(org)
    html = as_user(org, "sp-b-operator").get("/marketplace/").content.decode()
    assert "<h1>Share Product Link</h1>" in html
    assert f'value="http://testserver/marketplace/p/waf?partner=sp-b&amp;ref={link["ref"]}"' in html
    assert html.count("copy-link") == 1 and html.count("Get link") == 2
    assert "marketplace/links.js" in html and "<script>" not in html
    not_enrolled = as_user(org, "sp-a-operator").get("/marketplace/").content.decode()
    assert "is not enrolled as a marketplace customer service provider" in not_enrolled
    assert "copy-link" not in not_enrolled and "Get link" not in not_enrolled
    assert as_user(org, "sp-b-finance").get("/marketplace/").status_code == 403
    operator = as_user(org, "op").get("/marketplace/").content.decode()
    assert "only a partner's users share product links" in operator and "Get link" not in operator
    assert Client().get("/marketplace/").status_code == 302


def test_share_page_makes_a_link_by_post(org, market):
    c = as_user(org, "dist-operator")
    assert c.get("/marketplace/products/bi/link/").status_code == 405
    r = c.post("/marketplace/products/bi/link/")
    assert r.status_code == 302
    assert ProductLink.objects.get().partner.code == "dist"
    assert as_user(org, "sp-a-operator").post("/marketplace/products/bi/link/").status_code == 403
    assert c.post("/marketplace/products/nope/link/").status_code == 404


def test_share_page_in_simplified_chinese(org, market):
    c = as_user(org, "sp-a-operator")
    with translation.override("zh-hans"):
        html = c.get("/marketplace/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "<h1>分享云商店商品链接</h1>" in html
    assert "未登记为云商店客户服务商" in html


def test_every_status_code_is_documented():
    paths = api.get_openapi_schema()["paths"]
    ops = {(m, p): op for p, methods in paths.items() if p.startswith(API) for m, op in methods.items()}
    assert set(ops) == {
        ("get", f"{API}/products"),
        ("post", f"{API}/products/{{code}}/link"),
        ("post", f"{API}/orders"),
        ("get", f"{API}/statements"),
        ("get", f"{API}/statements/details"),
    }
    menus_of = {p: op["x-menu"] for (_m, p), op in ops.items()}
    assert menus_of == {
        f"{API}/products": "marketplace_links",
        f"{API}/products/{{code}}/link": "marketplace_links",
        f"{API}/orders": "platform_operator",
        f"{API}/statements": "revenue_sharing",
        f"{API}/statements/details": "revenue_sharing",
    }
    for op in ops.values():
        assert {"401", "403", "404", "422"} <= {str(c) for c in op["responses"]}
