"""Amount due, the prepaid balance and payments (B4, B9): the services and selectors."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from partnercenter.accounts.models import AuditEntry
from partnercenter.billing import payment_selectors as sel
from partnercenter.billing import payment_services as svc
from partnercenter.billing.models import (
    Bill,
    Payment,
    PaymentAgreement,
    PaymentAgreementDecision,
    PaymentAllocation,
    StatementEntry,
)
from partnercenter.core import clock
from partnercenter.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from tests.conftest import T0

D = Decimal
TABLES = (StatementEntry, Payment, PaymentAllocation, PaymentAgreement, PaymentAgreementDecision, AuditEntry)


def make_bill(partner, month: str, amount: str, currency: str = "CNY") -> Bill:
    a = D(amount)
    return Bill.objects.create(
        partner=partner,
        month=dt.date.fromisoformat(f"{month}-01"),
        currency=currency,
        generated_at=T0,
        expenditure=max(a, D(0)),
        refund=max(-a, D(0)),
        adjustment=D(0),
        tax=D(0),
        amount=a,
    )


def snapshot() -> dict[str, list]:
    return {m.__name__: list(m.objects.order_by("pk").values()) for m in TABLES}


@pytest.fixture
def now():
    with clock.frozen_at(T0):
        yield T0


@pytest.fixture
def sp_a(org):
    return org.partners["sp-a"]


@pytest.fixture
def bills(sp_a):
    """January 100.00, February −30.00 (owes nothing), March 250.50, a USD bill of 40 in February."""
    return {
        "jan": make_bill(sp_a, "2026-01", "100.00"),
        "feb": make_bill(sp_a, "2026-02", "-30.00"),
        "mar": make_bill(sp_a, "2026-03", "250.50"),
        "usd": make_bill(sp_a, "2026-02", "40", "USD"),
    }


def top_up(org, amount: str, currency: str = "CNY", partner: str = "sp-a", **kw):
    return svc.top_up(actor=org.users["op"], partner=org.partners[partner], currency=currency, amount=amount, **kw)


def pay(org, amount=None, user: str = "sp-a-admin", **kw):
    return svc.pay_from_balance(actor=org.users[user], partner=org.partners["sp-a"], amount=amount, **kw)


# ---- amount due (B4, B5) ----------------------------------------------------------------------


def test_amount_due_is_per_currency_and_a_negative_bill_owes_nothing(org, sp_a, bills):
    assert sel.amount_due(sp_a) == {"CNY": D("350.50"), "USD": D("40")}
    assert [d.bill.pk for d in sel.unpaid_bills(sp_a)] == [bills["jan"].pk, bills["usd"].pk, bills["mar"].pk]
    assert sel.bill_state(bills["feb"]) == sel.BillState.NOTHING_DUE
    assert sel.amount_due(org.partners["sp-b"]) == {}


def test_paying_settles_the_oldest_bill_first_and_states_are_derived(org, now, sp_a, bills):
    top_up(org, "500")
    payment = pay(org, "130", currency="CNY")
    allocations = [(a.bill_id, a.amount) for a in payment.allocations.order_by("pk")]
    assert allocations == [(bills["jan"].pk, D("100")), (bills["mar"].pk, D("30"))]
    assert sel.bill_state(bills["jan"]) == sel.BillState.PAID
    assert sel.bill_state(bills["mar"]) == sel.BillState.PARTLY_PAID
    assert sel.bill_state(bills["usd"]) == sel.BillState.UNPAID
    assert sel.amount_due(sp_a) == {"CNY": D("220.50"), "USD": D("40")}
    assert sel.balance(sp_a, "CNY") == D("370")


def test_paying_a_chosen_bill_and_pay_all(org, now, sp_a, bills):
    top_up(org, "1000")
    chosen = pay(org, None, bill_id=bills["mar"].pk)
    assert chosen.amount == D("250.50")
    assert [(a.bill_id, a.amount) for a in chosen.allocations.all()] == [(bills["mar"].pk, D("250.50"))]
    rest = pay(org, None, currency="CNY")
    assert rest.amount == D("100.00")
    assert sel.amount_due(sp_a) == {"USD": D("40")}
    assert sel.balance(sp_a, "CNY") == D("649.50")
    with pytest.raises(ValidationFailed) as e:
        pay(org, None, currency="CNY")
    assert e.value.code == "nothing_due"


def test_balance_after_of_every_entry_is_the_running_sum(org, now, sp_a, bills):
    top_up(org, "120.25")
    pay(org, "100", currency="CNY")
    top_up(org, "300")
    pay(org, "0.25", currency="CNY")
    svc.record_transfer(
        actor=org.users["op"],
        partner=sp_a,
        currency="CNY",
        amount="500",
        payer_name="SP-A",
        received_on="2026-03-09",
        reference="TRX-1",
    )
    entries = list(StatementEntry.objects.filter(partner=sp_a, currency="CNY").order_by("pk"))
    running = D(0)
    for e in entries:
        running += e.amount
        assert e.balance_after == running
    assert [e.amount for e in entries] == [D("120.25"), D("-100"), D("300"), D("-0.25"), D("249.75")]
    assert sel.balance(sp_a, "CNY") == running == D("569.75")


# ---- refusals change nothing ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "why"),
    [
        ("0", "must be greater than zero"),
        ("-5", "must be greater than zero"),
        ("1.001", "has more decimal places than CNY allows (2)"),
        ("abc", "must be a decimal number such as 100.00"),
        ("NaN", "must be a decimal number such as 100.00"),
        ("1e13", "is larger than the accepted maximum of 10^12"),
    ],
)
def test_bad_amounts_are_refused_and_nothing_changes(org, now, bills, amount, why):
    top_up(org, "500")
    before = snapshot()
    for call in (lambda: pay(org, amount, currency="CNY"), lambda: top_up(org, amount)):
        with pytest.raises(ValidationFailed) as e:
            call()
        assert e.value.details == [{"where": "amount", "why": why}]
    assert snapshot() == before


def test_jpy_has_no_minor_unit(org, now):
    with pytest.raises(ValidationFailed) as e:
        top_up(org, "10.5", "JPY")
    assert e.value.details == [{"where": "amount", "why": "has more decimal places than JPY allows (0)"}]
    assert top_up(org, "10.00", "JPY").amount == D("10")


def test_more_than_due_or_than_the_balance_is_refused(org, now, sp_a, bills):
    top_up(org, "200")
    before = snapshot()
    with pytest.raises(ValidationFailed) as e:
        pay(org, "100.01", bill_id=bills["jan"].pk)
    assert e.value.code == "more_than_due"
    assert e.value.message == "The amount is more than the amount due (100.00 CNY); nothing was paid."
    with pytest.raises(ValidationFailed) as e:
        pay(org, "200.01", currency="CNY")
    assert e.value.code == "insufficient_balance"
    assert e.value.message == "The prepaid balance (200.00 CNY) is not enough; nothing was paid."
    with pytest.raises(ValidationFailed) as e:
        pay(org, None, currency="CNY")  # all of 350.50
    assert e.value.code == "insufficient_balance"
    assert snapshot() == before


def test_unknown_bill_or_another_partners_bill_is_not_found(org, now, bills):
    other = make_bill(org.partners["sp-b"], "2026-01", "10")
    top_up(org, "200")
    before = snapshot()
    for bill_id in (other.pk, 999999):
        with pytest.raises(NotFound) as e:
            pay(org, "1", bill_id=bill_id)
        assert e.value.details == [{"where": "bill", "why": "no such bill for this partner"}]
    with pytest.raises(ValidationFailed):
        pay(org, "1", bill_id="x")
    with pytest.raises(ValidationFailed) as e:
        pay(org, "1", bill_id=bills["usd"].pk, currency="CNY")
    assert e.value.details[0]["where"] == "currency"
    with pytest.raises(ValidationFailed):
        pay(org, "1", currency="XYZ")
    assert snapshot() == before


# ---- idempotency ------------------------------------------------------------------------------


def test_the_same_idempotency_key_pays_once(org, now, sp_a, bills):
    top_up(org, "500")
    first = pay(org, "50", currency="CNY", idempotency_key="k1")
    again = pay(org, "50", currency="CNY", idempotency_key="k1")
    assert again.pk == first.pk
    assert Payment.objects.count() == 1
    assert sel.balance(sp_a, "CNY") == D("450")
    with pytest.raises(Conflict) as e:
        pay(org, "60", currency="CNY", idempotency_key="k1")
    assert e.value.code == "idempotency_key_reused"
    assert top_up(org, "5", idempotency_key="t1").pk == top_up(org, "5", idempotency_key="t1").pk
    assert sel.balance(sp_a, "CNY") == D("455")


# ---- bank transfers ---------------------------------------------------------------------------


def transfer(org, amount: str, payer: str = "SP-A", reference: str = "TRX-1", **kw):
    return svc.record_transfer(
        actor=org.users["op"],
        partner=org.partners["sp-a"],
        currency=kw.pop("currency", "CNY"),
        amount=amount,
        payer_name=payer,
        received_on=kw.pop("received_on", "2026-03-09"),
        reference=reference,
        **kw,
    )


def test_a_transfer_settles_oldest_first_and_the_overpayment_tops_up_the_balance(org, now, sp_a, bills):
    payment = transfer(org, "400")
    assert payment.amount == D("350.50")
    assert [(a.bill_id, a.amount) for a in payment.allocations.order_by("pk")] == [
        (bills["jan"].pk, D("100.00")),
        (bills["mar"].pk, D("250.50")),
    ]
    assert payment.statement_entry.kind == "top_up"
    assert payment.statement_entry.amount == D("49.50")
    assert payment.statement_entry.remark == "Overpayment of bank transfer TRX-1"
    assert sel.amount_due(sp_a) == {"USD": D("40")}
    assert sel.balance(sp_a, "CNY") == D("49.50")
    records = sel.statement(sp_a)
    assert [(r.kind, r.amount, r.balance_after) for r in records] == [
        ("top_up", D("49.50"), D("49.50")),
        ("bank_transfer", D("400"), None),
    ]
    assert records[1].bills == ("2026-01 CNY", "2026-03 CNY")


def test_a_transfer_for_a_chosen_bill_credits_the_rest_to_the_balance(org, now, sp_a, bills):
    payment = transfer(org, "300", bill_id=bills["mar"].pk)
    assert [(a.bill_id, a.amount) for a in payment.allocations.all()] == [(bills["mar"].pk, D("250.50"))]
    assert sel.balance(sp_a, "CNY") == D("49.50")
    assert sel.bill_state(bills["jan"]) == sel.BillState.UNPAID


def test_a_transfer_reference_is_recorded_once(org, now, bills):
    transfer(org, "10")
    before = snapshot()
    with pytest.raises(Conflict) as e:
        transfer(org, "20")
    assert e.value.code == "transfer_already_recorded"
    assert snapshot() == before


def test_a_third_party_payer_needs_an_approved_agreement(org, now, sp_a, bills):
    before = snapshot()
    with pytest.raises(ValidationFailed) as e:
        transfer(org, "10", payer="Zhang Wei Trading")
    assert e.value.code == "no_payment_agreement"
    assert e.value.message.startswith("The payer Zhang Wei Trading is not the partner SP-A")
    assert snapshot() == before
    agreement = svc.create_agreement(
        actor=org.users["sp-a-admin"], partner=sp_a, principal="Zhang Wei Trading", principal_type="company"
    )
    with pytest.raises(ValidationFailed):  # pending is not approved
        transfer(org, "10", payer="Zhang Wei Trading")
    svc.decide_agreement(actor=org.users["op"], agreement_id=agreement.pk, status="approved")
    payment = transfer(org, "10", payer="  zhang  wei trading ")
    assert payment.agreement_id == agreement.pk and payment.payer_name == "zhang wei trading"
    svc.decide_agreement(actor=org.users["op"], agreement_id=agreement.pk, status="rejected", remark="withdrawn")
    with pytest.raises(ValidationFailed):
        transfer(org, "10", payer="Zhang Wei Trading", reference="TRX-2")


def test_transfers_are_for_operators_and_checked_first(org, now, sp_a, bills):
    with pytest.raises(Forbidden):
        svc.record_transfer(
            actor=org.users["sp-a-admin"],
            partner=sp_a,
            currency="CNY",
            amount="1",
            payer_name="SP-A",
            received_on="2026-03-09",
            reference="x",
        )
    before = snapshot()
    for kw, where in [
        ({"received_on": "2026-03-11"}, "received_on"),
        ({"received_on": "09/03/2026"}, "received_on"),
        ({"reference": " "}, "reference"),
        ({"payer": ""}, "payer_name"),
        ({"currency": "usd", "bill_id": bills["jan"].pk}, "currency"),
    ]:
        with pytest.raises(ValidationFailed) as e:
            transfer(org, "10", **kw)
        assert e.value.details[0]["where"] == where
    assert snapshot() == before


# ---- agreements -------------------------------------------------------------------------------


def test_agreement_status_is_the_latest_decision(org, now, sp_a):
    a = svc.create_agreement(
        actor=org.users["sp-a-admin"], partner=sp_a, principal="Li Na", principal_type="individual"
    )
    assert [x.status for x in sel.agreements(sp_a)] == ["pending"]
    with pytest.raises(Conflict):
        svc.create_agreement(
            actor=org.users["sp-a-admin"], partner=sp_a, principal="li na", principal_type="individual"
        )
    svc.decide_agreement(actor=org.users["op"], agreement_id=a.pk, status="rejected")
    assert [x.status for x in sel.agreements(sp_a)] == ["rejected"]
    with pytest.raises(Conflict) as e:
        svc.decide_agreement(actor=org.users["op"], agreement_id=a.pk, status="approved")
    assert e.value.code == "decision_not_allowed"
    again = svc.create_agreement(
        actor=org.users["sp-a-admin"], partner=sp_a, principal="Li Na", principal_type="individual"
    )
    assert [(x.pk, x.status) for x in sel.agreements(sp_a)] == [(again.pk, "pending"), (a.pk, "rejected")]
    assert PaymentAgreementDecision.objects.count() == 1


def test_only_the_partner_admin_creates_and_only_an_operator_decides(org, now, sp_a):
    for user in ("sp-a-finance", "sp-b-admin", "op"):
        with pytest.raises(Forbidden):
            svc.create_agreement(actor=org.users[user], partner=sp_a, principal="X", principal_type="company")
    a = svc.create_agreement(actor=org.users["sp-a-admin"], partner=sp_a, principal="X", principal_type="company")
    with pytest.raises(Forbidden):
        svc.decide_agreement(actor=org.users["sp-a-admin"], agreement_id=a.pk, status="approved")
    with pytest.raises(ValidationFailed):
        svc.create_agreement(actor=org.users["sp-a-admin"], partner=sp_a, principal="Y", principal_type="robot")
    with pytest.raises(NotFound):
        svc.decide_agreement(actor=org.users["op"], agreement_id=999999, status="approved")


def test_every_write_is_audited(org, now, sp_a, bills):
    top_up(org, "100")
    pay(org, "10", currency="CNY")
    transfer(org, "5")
    a = svc.create_agreement(actor=org.users["sp-a-admin"], partner=sp_a, principal="X", principal_type="company")
    svc.decide_agreement(actor=org.users["op"], agreement_id=a.pk, status="approved")
    actions = list(
        AuditEntry.objects.filter(action__startswith="billing.").order_by("pk").values_list("action", flat=True)
    )
    assert actions == [
        "billing.top_up",
        "billing.pay",
        "billing.transfer",
        "billing.agreement.create",
        "billing.agreement.decide",
    ]
    entry = AuditEntry.objects.get(action="billing.pay")
    assert entry.detail == {"currency": "CNY", "amount": "10", "bills": [bills["jan"].pk], "balance_after": "90"}
