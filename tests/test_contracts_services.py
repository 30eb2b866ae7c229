"""Payment contract requests (O6): requesting at any time, the operator's steps from the allowed
states only, the append-only history, idempotency, scoping, and nothing written on a refusal."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from partnercenter.accounts.models import AuditEntry
from partnercenter.contracts import selectors, services
from partnercenter.contracts.models import ContractEvent, PaymentContract
from partnercenter.core import clock
from partnercenter.core.errors import Conflict, Forbidden, NotFound, ValidationFailed

pytestmark = pytest.mark.django_db
# 2026-03-31 23:30 in Asia/Shanghai: still March there, April in UTC terms is hours away.
AT = dt.datetime(2026, 3, 31, 15, 30, tzinfo=dt.UTC)


def counts() -> tuple[int, int, int]:
    return PaymentContract.objects.count(), ContractEvent.objects.count(), AuditEntry.objects.count()


def request(org, username="sp-a-finance", **kw):
    args = {"amount": "1234.50", "currency": "CNY", "purpose": "Q1 服务费"} | kw
    with clock.frozen_at(AT):
        return services.request_contract(actor=org.users[username], **args)


def test_a_request_is_numbered_by_the_billing_month_and_starts_requested(org):
    c = request(org)
    again = request(org, "sp-b-admin", amount="10")
    assert (c.number, again.number) == ("PC-202603-000001", "PC-202603-000002")
    got = selectors.get_contract(org.users["sp-a-finance"], c.number)
    assert (got.partner.code, got.amount, got.currency, got.purpose, got.state) == (
        "sp-a",
        Decimal("1234.5"),
        "CNY",
        "Q1 服务费",
        "requested",
    )
    assert (got.requested_at, got.requested_by.username) == (AT, "sp-a-finance")
    assert [(e.state, e.actor.username, e.at) for e in selectors.history(got)] == [("requested", "sp-a-finance", AT)]


@pytest.mark.parametrize(
    ("kw", "where"),
    [
        ({"amount": "0"}, "amount"),
        ({"amount": "-5"}, "amount"),
        ({"amount": "1.234"}, "amount"),
        ({"amount": "abc"}, "amount"),
        ({"currency": "XX"}, "currency"),
        ({"purpose": "   "}, "purpose"),
        ({"purpose": "x" * 501}, "purpose"),
        ({"purpose": "bad\x00"}, "purpose"),
    ],
)
def test_invalid_input_names_the_field_and_writes_nothing(org, kw, where):
    before = counts()
    with pytest.raises(ValidationFailed) as e:
        request(org, **kw)
    assert e.value.details[0]["where"] == where
    assert counts() == before


@pytest.mark.parametrize("username", ["op", "sp-a-operator", "sp-a-account_manager"])
def test_only_partner_users_with_the_menu_request(org, username):
    before = counts()
    with pytest.raises(Forbidden):
        request(org, username)
    assert counts() == before


def test_the_idempotency_key_answers_the_first_contract_or_409(org):
    first = request(org, idempotency_key="k1")
    assert request(org, idempotency_key="k1").pk == first.pk
    before = counts()
    with pytest.raises(Conflict) as e:
        request(org, idempotency_key="k1", amount="99")
    assert e.value.code == "idempotency_key_reused"
    assert counts() == before
    # Another partner's same key is its own.
    assert request(org, "sp-b-finance", idempotency_key="k1").partner.code == "sp-b"


def step(org, fn, number, username="op", **kw):
    with clock.frozen_at(AT + dt.timedelta(hours=1)):
        return fn(actor=org.users[username], number=number, **kw)


def test_the_operator_processes_then_issues_with_terms(org):
    c = request(org)
    step(org, services.start_processing, c.number)
    step(org, services.issue, c.number, terms="Net 30.\nPaid by transfer.")
    got = selectors.get_contract(org.users["sp-a-admin"], c.number)
    assert got.state == "issued"
    assert [(e.state, e.actor.username, e.terms) for e in selectors.history(got)] == [
        ("requested", "sp-a-finance", ""),
        ("processing", "op", ""),
        ("issued", "op", "Net 30.\nPaid by transfer."),
    ]


@pytest.mark.parametrize("processing", [False, True])
def test_reject_from_requested_or_processing_with_a_reason(org, processing):
    c = request(org)
    if processing:
        step(org, services.start_processing, c.number)
    step(org, services.reject, c.number, reason="Amount exceeds the agreement")
    got = selectors.get_contract(org.users["op"], c.number)
    assert (got.state, selectors.history(got)[-1].reason) == ("rejected", "Amount exceeds the agreement")


def test_steps_from_other_states_are_409_and_change_nothing(org):
    c = request(org)
    before = counts()
    with pytest.raises(Conflict) as e:
        step(org, services.issue, c.number, terms="x")
    assert e.value.code == "invalid_state"
    step(org, services.reject, c.number, reason="no")
    before = counts()
    for fn, kw in (
        (services.start_processing, {}),
        (services.issue, {"terms": "x"}),
        (services.reject, {"reason": "y"}),
    ):
        with pytest.raises(Conflict):
            step(org, fn, c.number, **kw)
    assert counts() == before


def test_operator_steps_need_an_operator_and_valid_text(org):
    c = request(org)
    before = counts()
    with pytest.raises(Forbidden):
        step(org, services.start_processing, c.number, "sp-a-admin")
    with pytest.raises(NotFound):
        step(org, services.start_processing, "PC-202603-000099")
    step(org, services.start_processing, c.number)
    before = counts()
    with pytest.raises(ValidationFailed) as e:
        step(org, services.issue, c.number, terms=" ")
    assert e.value.details[0]["where"] == "terms"
    with pytest.raises(ValidationFailed):
        step(org, services.reject, c.number, reason="")
    assert counts() == before


def test_a_repeated_step_with_its_key_changes_nothing(org):
    c = request(org)
    step(org, services.start_processing, c.number, idempotency_key="p1")
    before = counts()
    step(org, services.start_processing, c.number, idempotency_key="p1")
    assert counts() == before


def test_events_are_append_only(org):
    c = request(org)
    event = c.events.get()
    event.reason = "changed"
    with pytest.raises(ValueError, match="append-only"):
        event.save()
    with pytest.raises(ValueError, match="append-only"):
        event.delete()


def test_scope_own_partner_a_distributor_its_resellers_the_operator_all(org):
    a = request(org)
    s = request(org, "sub1-finance", amount="5")
    d = request(org, "dist-finance", amount="7")

    def seen(u):
        return sorted(c.number for c in selectors.contracts_for(org.users[u]))

    assert seen("sp-a-finance") == [a.number]
    assert seen("sp-b-finance") == []
    assert seen("dist-finance") == sorted([s.number, d.number])
    assert seen("sub1-admin") == [s.number]
    assert seen("op") == sorted([a.number, s.number, d.number])
    with pytest.raises(NotFound):
        selectors.get_contract(org.users["sp-b-admin"], a.number)
    assert [c.number for c in selectors.open_contracts(org.users["op"])] == [d.number, s.number, a.number]
    step(org, services.reject, a.number, reason="r")
    assert [c.number for c in selectors.contracts_for(org.users["op"], "rejected")] == [a.number]
