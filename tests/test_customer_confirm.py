"""Confirm bill and return credit (C5, C6): partial and full confirmations, batches, refusals that
change nothing, idempotency, the three distributor perspectives, and the API."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.test import Client

from partnercenter.accounts import services as account_services
from partnercenter.core import clock, menus
from partnercenter.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from partnercenter.customer_bills import selectors as sel
from partnercenter.customer_bills import services as svc
from partnercenter.customer_bills.models import Confirmation, CreditEntry, CustomerBill
from partnercenter.exports.models import ExportTask
from partnercenter.partners import services as partner_services
from tests.test_billing_close import DUE, MARCH, ingest, on, rec
from tests.test_customer_credit import close_march, snapshot

D = Decimal
API = "/api/v1/customer-bills"

RECORDS = [
    rec("A1", "a1", "100.50", on(5)),
    rec("A3", "a3", "40", on(6)),
    rec("B1", "b1", "-3", on(7)),
    rec("D1", "d1", "70", on(8)),
    rec("S1", "s1", "25.25", on(9)),
    rec("S2", "s2", "12", on(10)),
]


@pytest.fixture
def bills(org):
    ingest(RECORDS, on(2, month=4))
    close_march()
    return org


def bill(account: str) -> CustomerBill:
    return CustomerBill.objects.get(customer__account_id=account, month=MARCH)


def confirm(org, account: str, amount=None, user: str = "sp-a-finance", key: str = ""):
    return svc.confirm(actor=org.users[user], bill_id=bill(account).pk, amount=amount, idempotency_key=key)


def test_partial_confirmations_then_the_rest(bills):
    b = bill("a1")
    first = confirm(bills, "a1", "30.25")
    assert (first.amount, first.is_full, sel.remaining(b)) == (D("30.25"), False, D("70.25"))
    second = confirm(bills, "a1", "70")
    assert sel.remaining(b) == D("0.25")
    rest = confirm(bills, "a1")
    assert (rest.amount, rest.is_full, sel.remaining(b)) == (D("0.25"), True, D(0))
    entries = list(
        CreditEntry.objects.filter(customer__account_id="a1").order_by("pk").values_list("kind", "amount", "used_after", "available_after")
    )  # fmt: skip
    assert entries == [
        ("consumption", D("100.50"), D("100.50"), D("-100.50")),
        ("confirmation", D("30.25"), D("70.25"), D("-70.25")),
        ("confirmation", D("70"), D("0.25"), D("-0.25")),
        ("confirmation", D("0.25"), D(0), D(0)),
    ]
    assert second.credit_entry.confirmation_id == second.pk
    with pytest.raises(ValidationFailed) as e:
        confirm(bills, "a1", "0.01")
    assert e.value.code == "nothing_to_confirm"


@pytest.mark.parametrize(
    ("amount", "code", "text"),
    [
        ("100.51", "more_than_remaining", "more than the amount to be confirmed (100.50 USD)"),
        ("0", "invalid_amount", "greater than zero"),
        ("-1", "invalid_amount", "greater than zero"),
        ("1.005", "invalid_amount", "more decimal places than USD allows (2)"),
        ("ten", "invalid_amount", "must be a decimal number"),
        ("", None, None),  # empty: all that remains (accepted)
    ],
)
def test_refused_amounts_change_nothing(bills, amount, code, text):
    if code is None:
        assert confirm(bills, "a1", amount).amount == D("100.50")
        return
    state = snapshot()
    with pytest.raises(ValidationFailed) as e:
        confirm(bills, "a1", amount)
    assert e.value.code == code and text in e.value.message
    assert snapshot() == state


def test_a_negative_bill_has_nothing_to_confirm(bills):
    assert sel.remaining(bill("b1")) == D(0)
    with pytest.raises(ValidationFailed) as e:
        confirm(bills, "b1", user="sp-b-finance")
    assert e.value.code == "nothing_to_confirm"


def test_confirmations_are_idempotent(bills):
    first = confirm(bills, "a1", "10", key="k")
    assert confirm(bills, "a1", "10", key="k").pk == first.pk
    state = snapshot()
    with pytest.raises(Conflict):
        confirm(bills, "a1", "11", key="k")
    with pytest.raises(Conflict):
        confirm(bills, "a3", "10", key="k")
    with pytest.raises(Conflict):
        svc.batch_confirm(actor=bills.users["sp-a-finance"], bill_ids=[bill("a3").pk], idempotency_key="k")
    assert snapshot() == state


def test_batch_confirms_each_bill_in_full(bills):
    confirm(bills, "a1", "0.50")
    confs = svc.batch_confirm(
        actor=bills.users["sp-a-admin"], bill_ids=[bill("a3").pk, bill("a1").pk], idempotency_key="b"
    )
    assert sorted((c.bill.customer.account_id, c.amount, c.is_full) for c in confs) == [
        ("a1", D(100), True), ("a3", D(40), True)]  # fmt: skip
    assert len({c.batch for c in confs}) == 1
    again = svc.batch_confirm(
        actor=bills.users["sp-a-admin"], bill_ids=[bill("a1").pk, bill("a3").pk], idempotency_key="b"
    )
    assert [c.pk for c in again] == sorted(c.pk for c in confs)
    assert sel.remaining(bill("a1")) == sel.remaining(bill("a3")) == D(0)


def test_a_batch_is_all_or_nothing(bills):
    confirm(bills, "a3")
    state = snapshot()
    with pytest.raises(ValidationFailed) as e:
        svc.batch_confirm(actor=bills.users["sp-a-finance"], bill_ids=[bill("a1").pk, bill("a3").pk])
    assert e.value.code == "nothing_to_confirm" and "a3" in e.value.message
    with pytest.raises(NotFound):
        svc.batch_confirm(actor=bills.users["sp-a-finance"], bill_ids=[bill("a1").pk, bill("b1").pk])
    with pytest.raises(ValidationFailed):
        svc.batch_confirm(actor=bills.users["sp-a-finance"], bill_ids=[])
    assert snapshot() == state


# --- who may confirm (C6) --------------------------------------------------------------------------


def test_another_partners_bill_is_not_found(bills):
    state = snapshot()
    with pytest.raises(NotFound):
        confirm(bills, "b1", user="sp-a-finance")
    with pytest.raises(NotFound):
        sel.get_bill(bills.users["sp-a-finance"], bill("b1").pk)
    assert snapshot() == state


def test_the_distributor_views_its_second_level_customers_bills_but_confirms_only_its_direct_ones(bills):
    dist = bills.users["dist-admin"]
    rows = {r.bill.customer.account_id: r.may_confirm for r in sel.bills_to_confirm(dist, MARCH)}
    assert rows == {"d1": True, "s1": False, "s2": False}
    state = snapshot()
    with pytest.raises(Forbidden) as e:
        confirm(bills, "s1", user="dist-admin")
    assert e.value.code == "confirm_forbidden"
    with pytest.raises(Forbidden):
        svc.batch_confirm(actor=dist, bill_ids=[bill("d1").pk, bill("s1").pk])
    assert snapshot() == state
    assert confirm(bills, "d1", user="dist-admin").amount == D(70)


def test_a_second_level_reseller_confirms_its_own_customers_bills_only(bills):
    sub1 = bills.users["sub1-admin"]
    assert [(r.bill.customer.account_id, r.may_confirm) for r in sel.bills_to_confirm(sub1, MARCH)] == [("s1", True)]
    assert confirm(bills, "s1", "5.25", user="sub1-finance").amount == D("5.25")
    with pytest.raises(NotFound):
        confirm(bills, "s2", user="sub1-admin")
    with pytest.raises(NotFound):
        confirm(bills, "d1", user="sub1-admin")


def test_a_platform_operator_views_everything_and_confirms_nothing(bills):
    op = bills.users["op"]
    assert len(sel.bills_to_confirm(op, MARCH)) == 6
    assert not any(r.may_confirm for r in sel.bills_to_confirm(op, MARCH))
    with pytest.raises(Forbidden):
        confirm(bills, "a1", user="op")
    assert not Confirmation.objects.exists()


def test_an_account_manager_confirms_only_assigned_customers(bills):
    manager = bills.users["sp-a-account_manager"]
    with clock.frozen_at(DUE):
        partner_services.assign_customers(
            actor=bills.users["sp-a-admin"], customers=[bills.customers["a1"]], manager=manager
        )
    assert [r.bill.customer.account_id for r in sel.bills_to_confirm(manager, MARCH)] == ["a1"]
    assert confirm(bills, "a1", "1", user="sp-a-account_manager").amount == D(1)
    with pytest.raises(NotFound):
        confirm(bills, "a3", user="sp-a-account_manager")


# --- the API -----------------------------------------------------------------------------------


def as_user(org, username: str) -> Client:
    c = Client()
    c.force_login(org.users[username])
    return c


def post(c: Client, path: str, body: dict, **headers):
    return c.post(f"{API}{path}", json.dumps(body), content_type="application/json", headers=headers)


def test_api_bills_to_confirm_and_confirmations(bills):
    c = as_user(bills, "sp-a-finance")
    r = c.get(f"{API}/bills-to-confirm", {"month": "2026-03"})
    assert r.status_code == 200, r.content
    assert [(b["customer"], b["total"], b["remaining"], b["may_confirm"]) for b in r.json()] == [
        ("a1", "100.5", "100.5", True), ("a3", "40", "40", True)]  # fmt: skip
    a1 = bill("a1").pk
    r = post(c, f"/bills/{a1}/confirmations", {"amount": "0.5"}, **{"Idempotency-Key": "x"})
    assert r.status_code == 200, r.content
    body = r.json()
    assert (body["amount"], body["remaining"], body["available_after"], body["is_full"]) == (
        "0.5",
        "100",
        "-100",
        False,
    )
    again = post(c, f"/bills/{a1}/confirmations", {"amount": "0.5"}, **{"Idempotency-Key": "x"})
    assert again.json()["id"] == body["id"]
    reused = post(c, f"/bills/{a1}/confirmations", {"amount": "0.6"}, **{"Idempotency-Key": "x"})
    assert (reused.status_code, reused.json()["code"]) == (409, "idempotency_key_reused")
    too_much = post(c, f"/bills/{a1}/confirmations", {"amount": "100.01"})
    assert (too_much.status_code, too_much.json()["code"]) == (422, "more_than_remaining")
    assert post(c, f"/bills/{bill('b1').pk}/confirmations", {}).status_code == 404
    r = post(c, "/confirmations/batch", {"bill_ids": [a1, bill("a3").pk]}, **{"Idempotency-Key": "y"})
    assert r.status_code == 200, r.content
    assert [(x["amount"], x["is_full"], x["remaining"]) for x in r.json()] == [("100", True, "0"), ("40", True, "0")]


def test_api_distributor_and_operator_are_refused_with_403(bills):
    dist = as_user(bills, "dist-admin")
    r = post(dist, f"/bills/{bill('s1').pk}/confirmations", {})
    assert (r.status_code, r.json()["code"]) == (403, "confirm_forbidden")
    op = as_user(bills, "op")
    assert post(op, f"/bills/{bill('a1').pk}/confirmations", {}).status_code == 403
    assert not Confirmation.objects.exists()


def test_api_credit_grants_reclaims_and_records(bills):
    admin = as_user(bills, "sp-a-admin")
    r = post(admin, "/credit/grants", {"customer": "a1", "currency": "USD", "amount": "500", "remark": "x"},
             **{"Idempotency-Key": "g"})  # fmt: skip
    assert r.status_code == 200, r.content
    assert (r.json()["limit_after"], r.json()["available_after"]) == ("500", "399.5")
    r = post(admin, "/credit/reclaims", {"customer": "a1", "currency": "USD", "amount": "400"})
    assert (r.status_code, r.json()["code"]) == (422, "more_than_available")
    r = post(admin, "/credit/reclaims", {"customer": "a1", "currency": "USD", "amount": "99.5"})
    assert r.json()["available_after"] == "300"
    assert admin.get(f"{API}/credit", {"customer": "a1"}).json() == [
        {"partner": "sp-a", "customer": "a1", "currency": "USD", "limit": "400.5", "used": "100.5", "available": "300"}
    ]
    r = admin.get(f"{API}/adjustment-records", {"customer": "a1", "kind": "grant"})
    assert [(e["kind"], e["amount"], e["created_by"]) for e in r.json()["items"]] == [("grant", "500", "sp-a-admin")]
    assert admin.get(f"{API}/adjustment-records").json()["total"] == 4  # 2 consumptions, grant, reclaim
    finance = as_user(bills, "sp-a-finance")  # no customer management menu
    assert finance.get(f"{API}/credit", {"customer": "a1"}).json()["code"] == "menu_forbidden"
    operator = as_user(bills, "sp-a-operator")  # the menu, not the admin
    r = post(operator, "/credit/grants", {"customer": "a1", "currency": "USD", "amount": "1"})
    assert (r.status_code, r.json()["code"]) == (403, "credit_forbidden")
    assert admin.get(f"{API}/credit", {"customer": "b1"}).status_code == 404


def test_api_menus_are_declared(bills):
    schema = as_user(bills, "op").get("/api/v1/openapi.json").json()["paths"]
    assert schema[f"{API}/bills-to-confirm"]["get"]["x-menu"] == menus.CUSTOMER_BILLS
    assert schema[f"{API}/bills/{{bill_id}}/confirmations"]["post"]["x-menu"] == menus.CUSTOMER_BILLS
    assert schema[f"{API}/credit/grants"]["post"]["x-menu"] == menus.CUSTOMER_MANAGEMENT
    assert schema[f"{API}/adjustment-records"]["get"]["x-menu"] == menus.CUSTOMER_MANAGEMENT
    codes = set(schema[f"{API}/confirmations/batch"]["post"]["responses"])
    assert {"200", "401", "403", "404", "409", "422"} <= codes


def test_api_account_manager_needs_the_menu(bills):
    manager = bills.users["sp-a-account_manager"]
    c = as_user(bills, "sp-a-account_manager")
    assert c.get(f"{API}/bills-to-confirm", {"month": "2026-03"}).status_code == 403
    account_services.set_menus(actor=bills.users["sp-a-admin"], user=manager, menu_codes=[menus.CUSTOMER_BILLS])
    r = c.get(f"{API}/bills-to-confirm", {"month": "2026-03"})
    assert (r.status_code, r.json()) == (200, [])


# --- the console ---------------------------------------------------------------------------------

PAGE = "/customer-bills/confirm/"


def test_console_confirm_page_lists_the_month_and_opens_a_form(bills):
    c = as_user(bills, "sp-a-finance")
    with clock.frozen_at(DUE):
        r = c.get(PAGE)  # the latest due month by default
    assert r.status_code == 200
    html = r.content.decode()
    assert "Confirm Bill and Return Credit" in html and 'value="2026-03"' in html
    assert f'data-bill="{bill("a1").pk}"' in html and f'data-bill="{bill("b1").pk}"' not in html
    r = c.get(PAGE, {"month": "2026-03", "customer": "a1", "bill": bill("a1").pk})
    html = r.content.decode()
    assert "Total amount to be confirmed" in html and "Partial amount" in html and "100.50 USD" in html
    assert 'name="form_key"' in html and "csrfmiddlewaretoken" in html


def test_console_not_due_month_says_so(bills):
    c = as_user(bills, "sp-a-finance")
    with clock.frozen_at(DUE):
        r = c.get(PAGE, {"month": "2026-04"})
    assert 'data-testid="not-due"' in r.content.decode()
    assert "2026-05-05 00:00" in r.content.decode()
    assert c.get(PAGE, {"month": "March"}).status_code == 400


def test_console_partial_then_total_and_a_double_click_confirms_once(bills):
    c = as_user(bills, "sp-a-finance")
    a1 = bill("a1").pk
    form = {"action": "confirm", "bill": a1, "mode": "partial", "amount": "20.50", "month": "2026-03", "form_key": "f1"}
    r = c.post(PAGE, form)
    assert r.status_code == 302 and r["Location"] == f"{PAGE}?month=2026-03&customer="
    assert c.post(PAGE, form).status_code == 302  # the same form again: nothing more
    assert list(Confirmation.objects.values_list("amount", flat=True)) == [D("20.50")]
    r = c.post(PAGE, {"action": "confirm", "bill": a1, "mode": "total", "month": "2026-03", "form_key": "f2"})
    assert r.status_code == 302
    assert sel.remaining(bill("a1")) == D(0)
    page = c.get(PAGE, {"month": "2026-03"}).content.decode()
    assert "Confirmed 80.00 USD" in page


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("100.51", "The amount is more than the amount to be confirmed (100.50 USD); nothing was confirmed."),
        ("0", "amount: must be greater than zero."),
        ("-3", "amount: must be greater than zero."),
        ("", "amount: must be greater than zero."),
        ("1.001", "amount: has more decimal places than USD allows (2)."),
    ],
)
def test_console_refusals_are_clear_and_change_nothing(bills, amount, message):
    c = as_user(bills, "sp-a-finance")
    state = snapshot()
    r = c.post(PAGE, {"action": "confirm", "bill": bill("a1").pk, "mode": "partial", "amount": amount,
                      "month": "2026-03", "form_key": "x"})  # fmt: skip
    assert r.status_code == 400
    assert message in r.content.decode()
    assert snapshot() == state


def test_console_batch_confirm(bills):
    c = as_user(bills, "sp-a-admin")
    r = c.post(PAGE, {"action": "batch", "bills": [bill("a1").pk, bill("a3").pk], "month": "2026-03", "form_key": "b"})
    assert r.status_code == 302
    assert sorted(Confirmation.objects.values_list("amount", "is_full")) == [(D(40), True), (D("100.50"), True)]
    assert c.get(r["Location"]).content.decode().count("Confirmed 2 bill(s) in full") == 1


def test_console_distributor_sees_view_only_rows_and_is_refused(bills):
    c = as_user(bills, "dist-admin")
    html = c.get(PAGE, {"month": "2026-03"}).content.decode()
    assert html.count("View only") == 2
    state = snapshot()
    r = c.post(PAGE, {"action": "confirm", "bill": bill("s1").pk, "mode": "total", "month": "2026-03"})
    assert r.status_code == 403
    assert snapshot() == state


ADJ = "/customer-bills/adjustments/"


def test_console_adjustments_grant_search_and_export(bills):
    c = as_user(bills, "sp-a-admin")
    form = {
        "operation": "grant",
        "customer": "a1",
        "currency": "USD",
        "amount": "300",
        "remark": "start",
        "form_key": "g",
    }
    assert c.post(ADJ, form).status_code == 302
    assert c.post(ADJ, form).status_code == 302  # a double click grants once
    r = c.post(ADJ, {**form, "operation": "reclaim", "amount": "250", "form_key": "r"})
    assert r.status_code == 400
    assert "The amount is more than the available credit (199.50 USD); nothing was reclaimed." in r.content.decode()
    assert CreditEntry.objects.filter(kind="grant").count() == 1 and not CreditEntry.objects.filter(kind="reclaim")
    html = c.get(ADJ, {"customer": "a1", "kind": "grant"}).content.decode()
    assert html.count('data-kind="grant"') == 1 and 'data-kind="consumption"' not in html
    assert 'data-export-kind="credit_adjustments"' in html
    r = c.post("/exports/create/", {"kind": "credit_adjustments", "format": "csv", "customer": "a1"})
    assert r.status_code == 302
    task = ExportTask.objects.get()
    assert (task.kind, task.params) == (
        "credit_adjustments",
        {"customer": "a1", "kind": "", "start": None, "end": None},
    )
    assert c.get(ADJ, {"start": "2026-04-09", "end": "2026-04-01"}).status_code == 400


def test_console_adjustments_gates(bills):
    assert as_user(bills, "sp-a-finance").get(ADJ).status_code == 403  # no customer management menu
    operator = as_user(bills, "sp-a-operator")
    assert operator.get(ADJ).status_code == 200
    assert 'data-testid="credit-form"' not in operator.get(ADJ).content.decode()
    r = operator.post(ADJ, {"operation": "grant", "customer": "a1", "currency": "USD", "amount": "1"})
    assert r.status_code == 403
    r = as_user(bills, "sp-a-admin").post(
        ADJ, {"operation": "grant", "customer": "b1", "currency": "USD", "amount": "1"}
    )
    assert r.status_code == 400 and not CreditEntry.objects.filter(kind="grant").exists()
