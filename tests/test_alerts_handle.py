"""Customer alerts (O3): handling with a note, once; who sees and who handles what; the API with
its status codes; the console page with its dialogs; the dashboard panel; both languages."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import Client
from django.utils import translation

from partnercenter.accounts.models import AuditEntry
from partnercenter.alerts import dashboard
from partnercenter.alerts import selectors as sel
from partnercenter.alerts import services as svc
from partnercenter.alerts.models import CustomerAlert
from partnercenter.core import clock, menus
from partnercenter.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from partnercenter.partners import services as partner_services
from tests.test_billing_close import DUE, ingest, on
from tests.test_customer_confirm import RECORDS
from tests.test_customer_credit import close_march

API = "/api/v1/customer-alerts"
PAGE = "/customer-alerts/"
RAISED = DUE + dt.timedelta(days=16)
HANDLED = RAISED + dt.timedelta(hours=2)


@pytest.fixture
def raised(org):
    ingest(RECORDS, on(2, month=4))
    close_march(DUE)
    assert svc.raise_due(RAISED) == 5  # unpaid: a1, a3 (sp-a), d1 (dist), s1 (sub1), s2 (sub2)
    return org


def alert_of(account: str) -> CustomerAlert:
    return CustomerAlert.objects.get(customer__account_id=account)


def state() -> list[tuple]:
    return list(CustomerAlert.objects.order_by("pk").values_list("pk", "handled_at", "handled_by", "note"))


def handle(org, account: str, note: str = "Reminded the customer", user: str = "sp-a-admin", key: str = ""):
    with clock.frozen_at(HANDLED):
        return svc.handle(actor=org.users[user], alert_id=alert_of(account).pk, note=note, idempotency_key=key)


def seen(user) -> list[str]:
    return sorted(sel.alerts_for(user).values_list("customer__account_id", flat=True))


# --- handling ------------------------------------------------------------------------------------


def test_handling_records_who_when_and_the_note_once(raised):
    a = handle(raised, "a1", "  Customer pays on Friday  ")
    assert (a.handled_at, a.handled_by.username, a.note) == (HANDLED, "sp-a-admin", "Customer pays on Friday")
    entry = AuditEntry.objects.get(action="alert.handle")
    assert (entry.actor.username, entry.partner.code, entry.target) == ("sp-a-admin", "sp-a", a.condition_key)
    before = state()
    with pytest.raises(Conflict) as e:
        handle(raised, "a1", "again", user="sp-a-operator")
    assert e.value.code == "already_handled"
    assert state() == before
    assert [x.customer.account_id for x in sel.search(raised.users["sp-a-admin"], sel.filters("history"))] == ["a1"]
    assert [x.customer.account_id for x in sel.search(raised.users["sp-a-admin"], sel.filters("open"))] == ["a3"]


@pytest.mark.parametrize(
    ("note", "code"),
    [("", "note_required"), ("   ", "note_required"), (None, "note_required"), ("x" * 501, "note_too_long")],
)
def test_a_bad_note_is_refused_and_changes_nothing(raised, note, code):
    before = state()
    with pytest.raises(ValidationFailed) as e:
        handle(raised, "a1", note)
    assert e.value.code == code
    assert state() == before
    assert not AuditEntry.objects.filter(action="alert.handle").exists()


def test_a_note_of_500_characters_is_accepted(raised):
    assert handle(raised, "a1", "字" * 500).note == "字" * 500


def test_the_same_idempotency_key_answers_the_handled_alert_again(raised):
    first = handle(raised, "a1", "done", key="k1")
    again = handle(raised, "a1", "done", key="k1")
    assert (again.pk, again.handled_at, again.note) == (first.pk, HANDLED, "done")
    with pytest.raises(Conflict):
        handle(raised, "a1", "other", key="k1")
    assert AuditEntry.objects.filter(action="alert.handle").count() == 1


# --- scope ---------------------------------------------------------------------------------------


def test_each_user_sees_their_scope_and_handles_only_their_partners_alerts(raised):
    u = raised.users
    assert seen(u["sp-a-admin"]) == ["a1", "a3"]
    assert seen(u["sp-a-operator"]) == ["a1", "a3"]
    assert seen(u["sp-b-admin"]) == []
    assert seen(u["dist-admin"]) == ["d1", "s1", "s2"]
    assert seen(u["sub1-admin"]) == ["s1"]
    assert seen(u["op"]) == ["a1", "a3", "d1", "s1", "s2"]
    before = state()
    with pytest.raises(NotFound):
        handle(raised, "a1", user="sp-b-admin")
    with pytest.raises(Forbidden) as e:
        handle(raised, "s1", user="dist-admin")  # the distributor views its second-level resellers' alerts only
    assert e.value.code == "handle_forbidden"
    with pytest.raises(Forbidden):
        handle(raised, "a1", user="op")
    assert state() == before
    assert handle(raised, "d1", user="dist-admin").note == "Reminded the customer"
    assert handle(raised, "s1", user="sub1-operator").handled_by.username == "sub1-operator"


def test_an_account_manager_sees_and_handles_only_assigned_customers(raised):
    manager = raised.users["sp-a-account_manager"]
    assert seen(manager) == []
    with clock.frozen_at(DUE):
        partner_services.assign_customers(
            actor=raised.users["sp-a-admin"], customers=[raised.customers["a1"]], manager=manager
        )
    assert seen(manager) == ["a1"]
    with pytest.raises(NotFound):
        handle(raised, "a3", user="sp-a-account_manager")
    assert handle(raised, "a1", user="sp-a-account_manager").handled_by == manager


def test_filters_by_rule_and_customer_and_refuses_unknown_ones(raised):
    admin = raised.users["op"]
    assert [a.customer.account_id for a in sel.search(admin, sel.filters("open", "unpaid_bill", "s2"))] == ["s2"]
    assert list(sel.search(admin, sel.filters("open", "spend_spike"))) == []
    for args, code in [(("closed",), "invalid_status"), (("open", "nope"), "invalid_rule")]:
        with pytest.raises(ValidationFailed) as e:
            sel.filters(*args)
        assert e.value.code == code


# --- the API -------------------------------------------------------------------------------------


def as_user(org, username: str, csrf: bool = False) -> Client:
    c = Client(enforce_csrf_checks=csrf)
    c.force_login(org.users[username])
    return c


def post(c: Client, path: str, body: dict, **headers):
    return c.post(f"{API}{path}", json.dumps(body), content_type="application/json", headers=headers)


def test_api_lists_gets_and_handles(raised):
    c = as_user(raised, "sp-a-operator")
    r = c.get(f"{API}/alerts")
    assert r.status_code == 200, r.content
    body = r.json()
    assert (body["total"], [(i["customer"], i["rule"], i["may_handle"]) for i in body["items"]]) == (
        2, [("a3", "unpaid_bill", True), ("a1", "unpaid_bill", True)]
    )  # fmt: skip
    a1 = alert_of("a1").pk
    r = c.get(f"{API}/alerts/{a1}")
    assert (r.status_code, r.json()["figures"]["remaining"], r.json()["customer_name"]) == (200, "100.5", "张*明")
    with clock.frozen_at(HANDLED):
        r = post(c, f"/alerts/{a1}/handle", {"note": "Paid tomorrow"}, **{"Idempotency-Key": "h1"})
        assert r.status_code == 200, r.content
        assert (r.json()["note"], r.json()["handled_by"], r.json()["may_handle"]) == (
            "Paid tomorrow",
            "sp-a-operator",
            False,
        )
        again = post(c, f"/alerts/{a1}/handle", {"note": "Paid tomorrow"}, **{"Idempotency-Key": "h1"})
        assert (again.status_code, again.json()["id"]) == (200, a1)
        r = post(c, f"/alerts/{a1}/handle", {"note": "Paid tomorrow"})
        assert (r.status_code, r.json()["code"]) == (409, "already_handled")
    r = c.get(f"{API}/alerts", {"status": "history"})
    assert [(i["customer"], i["note"]) for i in r.json()["items"]] == [("a1", "Paid tomorrow")]
    assert c.get(f"{API}/alerts", {"customer": "a3", "rule": "unpaid_bill"}).json()["total"] == 1


def test_api_refusals_answer_their_status_codes_and_change_nothing(raised):
    before = state()
    c = as_user(raised, "sp-a-admin")
    a1, s1 = alert_of("a1").pk, alert_of("s1").pk
    r = post(c, f"/alerts/{a1}/handle", {"note": " "})
    assert (r.status_code, r.json()["code"]) == (422, "note_required")
    assert post(c, f"/alerts/{a1}/handle", {"note": "x" * 501}).json()["code"] == "note_too_long"
    assert c.get(f"{API}/alerts", {"status": "closed"}).status_code == 422
    assert c.get(f"{API}/alerts", {"rule": "nope"}).status_code == 422
    assert c.get(f"{API}/alerts/{s1}").status_code == 404
    assert post(c, f"/alerts/{s1}/handle", {"note": "n"}).status_code == 404
    assert c.get(f"{API}/alerts/0").status_code == 422
    dist = as_user(raised, "dist-admin")
    assert dist.get(f"{API}/alerts/{s1}").json()["may_handle"] is False
    r = post(dist, f"/alerts/{s1}/handle", {"note": "n"})
    assert (r.status_code, r.json()["code"]) == (403, "handle_forbidden")
    finance = as_user(raised, "sp-a-finance")  # no customer alerts menu
    assert finance.get(f"{API}/alerts").json()["code"] == "menu_forbidden"
    assert Client().get(f"{API}/alerts").status_code == 401
    assert state() == before


def test_api_routes_declare_the_menu_and_every_status_code(raised):
    paths = as_user(raised, "op").get("/api/v1/openapi.json").json()["paths"]
    for path, method, codes in [
        ("/alerts", "get", {"200", "401", "403", "404", "422"}),
        ("/alerts/{alert_id}", "get", {"200", "401", "403", "404", "422"}),
        ("/alerts/{alert_id}/handle", "post", {"200", "401", "403", "404", "409", "422"}),
    ]:
        op = paths[f"{API}{path}"][method]
        assert op["x-menu"] == menus.CUSTOMER_ALERTS
        assert codes <= set(op["responses"])


# --- the console ---------------------------------------------------------------------------------


def test_console_lists_open_alerts_views_and_handles_one(raised):
    c = as_user(raised, "sp-a-admin")
    r = c.get(PAGE)
    html = r.content.decode()
    assert r.status_code == 200
    assert "<h1>Customer Alerts</h1>" in html
    assert html.count('data-testid="handle"') == 2
    assert "<script>" not in html and "onclick" not in html
    assert "张*明" in html and "张小明" not in html  # customer names masked on screen
    a1 = alert_of("a1").pk
    r = c.get(f"{PAGE}{a1}/")
    assert 'data-figure="remaining" data-exact="100.5">100.50 USD' in r.content.decode()
    r = c.get(f"{PAGE}{a1}/", headers={"HX-Request": "true"})
    assert r.content.decode().lstrip().startswith("<section")
    r = c.get(f"{PAGE}{a1}/handle/")
    assert 'name="csrfmiddlewaretoken"' in r.content.decode() and 'data-testid="handle-form"' in r.content.decode()
    before = state()
    r = c.post(f"{PAGE}{a1}/handle/", {"note": "  "})
    assert r.status_code == 422
    assert "Note: required" in r.content.decode()
    assert state() == before
    with clock.frozen_at(HANDLED):
        r = c.post(f"{PAGE}{a1}/handle/?status=open", {"note": "Paid by transfer", "form_key": "f1"})
    assert (r.status_code, r["Location"]) == (302, "/customer-alerts/?status=open")
    history = c.get(PAGE, {"status": "history"}).content.decode()
    assert "Paid by transfer" in history and "2026-04-21 02:00" in history  # handled, in billing time
    assert alert_of("a1").idempotency_key == "form:f1"


def test_console_htmx_handle_redirects_and_refusals_stay_in_the_dialog(raised):
    c = as_user(raised, "sp-a-admin")
    a3 = alert_of("a3").pk
    hx = {"HX-Request": "true"}
    r = c.post(f"{PAGE}{a3}/handle/", {"note": ""}, headers=hx)
    assert r.status_code == 200 and 'data-testid="handle-error"' in r.content.decode()
    r = c.post(f"{PAGE}{a3}/handle/", {"note": "ok"}, headers=hx)
    assert (r.status_code, r["HX-Redirect"]) == (204, "/customer-alerts/?")
    r = c.post(f"{PAGE}{a3}/handle/", {"note": "again"})
    assert r.status_code == 409


def test_console_needs_csrf(raised):
    c = as_user(raised, "sp-a-admin", csrf=True)
    r = c.post(f"{PAGE}{alert_of('a1').pk}/handle/", {"note": "x"})
    assert r.status_code == 403
    assert alert_of("a1").handled_at is None


def test_console_isolation(raised):
    a1, s1 = alert_of("a1").pk, alert_of("s1").pk
    other = as_user(raised, "sp-b-admin")
    assert other.get(f"{PAGE}{a1}/").status_code == 404
    assert other.post(f"{PAGE}{a1}/handle/", {"note": "x"}).status_code == 404
    assert "a1" not in other.get(PAGE).content.decode().split("<tbody>")[1]
    finance = as_user(raised, "sp-a-finance")
    assert finance.get(PAGE).status_code == 403
    assert finance.get(f"{PAGE}{a1}/").status_code == 403
    dist = as_user(raised, "dist-admin")
    page = dist.get(PAGE).content.decode()
    assert page.count('data-testid="handle"') == 1 and "View only" in page  # d1 its own; s1, s2 view only
    assert dist.get(f"{PAGE}{s1}/").status_code == 200
    assert dist.post(f"{PAGE}{s1}/handle/", {"note": "x"}).status_code == 403
    assert dist.get(f"{PAGE}{s1}/handle/").status_code == 403
    assert as_user(raised, "op").post(f"{PAGE}{a1}/handle/", {"note": "x"}).status_code == 403
    assert CustomerAlert.objects.filter(handled_at__isnull=False).count() == 0
    assert Client().get(PAGE).status_code == 302
    bad = as_user(raised, "sp-a-admin").get(PAGE, {"rule": "nope"})
    assert bad.status_code == 400


def test_console_in_simplified_chinese(raised):
    c = as_user(raised, "sp-a-admin")
    html = c.get(PAGE, headers={"Accept-Language": "zh-hans"}).content.decode()
    assert "<h1>客户预警</h1>" in html
    assert "未付客户账单" in html and "处理" in html
    view = c.get(f"{PAGE}{alert_of('a1').pk}/", headers={"Accept-Language": "zh-hans"}).content.decode()
    assert "待确认金额" in view


# --- the dashboard panel -------------------------------------------------------------------------


def test_dashboard_panel_counts_open_alerts_and_shows_the_latest_three(raised):
    ctx = dashboard.panel_context(raised.users["op"])
    assert ctx is not None
    assert ctx["open_count"] == 5
    assert len(ctx["latest"]) == 3
    handle(raised, "a1")
    ctx = dashboard.panel_context(raised.users["sp-a-admin"])
    assert ctx is not None
    assert (ctx["open_count"], [r["alert"].customer.account_id for r in ctx["latest"]]) == (1, ["a3"])
    assert dashboard.PANEL.menu == menus.CUSTOMER_ALERTS and dashboard.PANEL.order == 40
    with translation.override("en"):
        from django.template.loader import render_to_string

        html = render_to_string(dashboard.PANEL.template, ctx)
    assert 'data-testid="alerts-figure">1<' in html and 'href="/customer-alerts/"' in html
