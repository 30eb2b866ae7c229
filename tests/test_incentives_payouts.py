"""Payout applications (I7): what is applied for, the amount, the always-included negatives, the
refusal when negatives exceed the earnings, one open application per incentive, review by an
operator into the prepaid balance or paid out, and scoping."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from partnercenter.accounts.models import AuditEntry
from partnercenter.billing import payment_selectors as billing_sel
from partnercenter.billing.models import StatementEntry, StatementEntryKind
from partnercenter.core import clock
from partnercenter.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from partnercenter.incentives import payout_selectors as sel
from partnercenter.incentives import payouts
from partnercenter.incentives.models import (
    Application,
    ApplicationDecision,
    ApplicationItem,
    IncentiveKind,
    State,
    Transition,
)
from tests.incentive_fixtures import JAN, incentive, make_incentives

D = Decimal
NOW = dt.datetime(2026, 3, 10, 4, 0, tzinfo=dt.UTC)
TABLES = (Application, ApplicationItem, ApplicationDecision, StatementEntry, Transition, AuditEntry)


def snapshot() -> dict[str, list]:
    return {m.__name__: list(m.objects.order_by("pk").values()) for m in TABLES}


@pytest.fixture
def made(org):
    return make_incentives(org)


@pytest.fixture
def now():
    with clock.frozen_at(NOW):
        yield NOW


def issued(made, org, number: str, amount_base: str, *, partner: str = "sp-a", kind: str = IncentiveKind.EARNING):
    """An issued incentive of ``partner`` worth ``amount_base`` × 0.1 (one line)."""
    return incentive(
        made.market,
        partner,
        org,
        period=dt.date(2025, 12, 1) if kind == IncentiveKind.EARNING else JAN,
        number=number,
        lines=[("a3" if partner == "sp-a" else "b1", "CS-" + number, "Security", amount_base, "0.1")],
        state=State.ISSUED,
        kind=kind,
    )


def apply(org, numbers, user="sp-a-finance", currency="USD", key=""):
    return payouts.apply(
        actor=org.users[user], partner=org.partners["sp-a"], currency=currency, numbers=numbers, idempotency_key=key
    )


def test_amount_is_the_selected_earnings_plus_every_negative(org, made, now):
    app = apply(org, ["INC-202512-000001"])
    assert app.number == "PAY-20260310-000001"
    assert (app.positive_total, app.negative_total, app.amount) == (D("60.00"), D("-5.00"), D("55.00"))
    items = [(i.incentive.number, i.amount) for i in sel.items(app)]
    assert items == [("INC-202512-000001", D("60.00")), ("INC-202601-000004", D("-5.00"))]
    assert sel.state_of(app) == "submitted"
    assert sel.applicable(org.partners["sp-a"]) == []
    entry = AuditEntry.objects.get(action="incentives.payout.apply")
    assert entry.detail["amount"] == "55" and entry.target == "PAY-20260310-000001"


def test_negatives_are_included_even_when_the_request_omits_or_names_them(org, made, now):
    issued(made, org, "INC-202512-000007", "100.05")  # 10.005 → 10.01 (half-up)
    issued(made, org, "INC-202601-000008", "-0.05", kind=IncentiveKind.CLAWBACK)  # -0.005 → -0.01
    first = apply(org, ["INC-202512-000007"])  # the negatives were not sent
    numbers = [i.incentive.number for i in sel.items(first)]
    assert numbers == ["INC-202512-000007", "INC-202601-000004", "INC-202601-000008"]
    assert (first.positive_total, first.negative_total, first.amount) == (D("10.01"), D("-5.01"), D("5.00"))
    second = apply(org, ["INC-202512-000001", "INC-202601-000004"])  # naming a taken negative changes nothing
    assert [i.incentive.number for i in sel.items(second)] == ["INC-202512-000001"]
    assert (second.negative_total, second.amount) == (D("0"), D("60.00"))


def test_refused_when_negatives_exceed_the_earnings_and_nothing_is_written(org, made, now):
    issued(made, org, "INC-202512-000007", "33.35")  # 3.34 < 5.00
    before = snapshot()
    with pytest.raises(ValidationFailed) as e:
        apply(org, ["INC-202512-000007"])
    assert e.value.code == "negatives_exceed_positives"
    assert "5.00 USD" in e.value.message and "3.34 USD" in e.value.message
    assert snapshot() == before
    app = apply(org, ["INC-202512-000007", "INC-202512-000001"])
    assert (app.positive_total, app.negative_total, app.amount) == (D("63.34"), D("-5.00"), D("58.34"))


def test_exactly_balanced_is_allowed_with_amount_zero(org, made, now):
    issued(made, org, "INC-202512-000007", "50")  # 5.00 = the negative
    app = apply(org, ["INC-202512-000007"])
    assert app.amount == D("0")
    decision = payouts.decide(actor=org.users["op"], number=app.number, state="approved", payout_method="balance")
    assert decision.statement_entry is None  # nothing to credit


def test_bad_requests_change_nothing(org, made, now):
    before = snapshot()
    cases = [
        ([], "USD", "nothing_selected"),
        (["INC-202601-000004"], "USD", "nothing_selected"),  # only the negative: no earning selected
        (["INC-202512-000001"], "EUR", "currency_mismatch"),
        (["INC-202601-000001"], "USD", "not_applicable"),  # pending confirmation
        (["INC-202512-000001"], "XX", "validation_error"),
    ]
    for numbers, currency, code in cases:
        with pytest.raises(ValidationFailed) as e:
            apply(org, numbers, currency=currency)
        assert e.value.code == code, (numbers, e.value.code)
    with pytest.raises(NotFound) as nf:
        apply(org, ["INC-202601-000003"])  # sp-b's
    assert nf.value.code == "incentive_not_found"
    assert snapshot() == before


def test_an_incentive_is_in_one_open_application_only(org, made, now):
    issued(made, org, "INC-202512-000007", "100")
    apply(org, ["INC-202512-000001"])
    before = snapshot()
    with pytest.raises(Conflict) as e:
        apply(org, ["INC-202512-000001", "INC-202512-000007"])
    assert e.value.code == "already_in_application"
    assert snapshot() == before
    # The negative went with the first application, so the second one carries none.
    second = apply(org, ["INC-202512-000007"])
    assert (second.amount, second.negative_total) == (D("10.00"), D("0"))


def test_rejected_makes_the_incentives_applicable_again(org, made, now):
    app = apply(org, ["INC-202512-000001"])
    decision = payouts.decide(actor=org.users["op"], number=app.number, state="rejected", remark="wrong bank")
    assert (decision.state, decision.payout_method, decision.statement_entry) == ("rejected", "", None)
    [usd] = sel.applicable(org.partners["sp-a"])
    assert ([a.incentive.number for a in usd.positives], usd.negative_numbers) == (
        ["INC-202512-000001"],
        ["INC-202601-000004"],
    )
    again = apply(org, ["INC-202512-000001"])
    assert again.number == "PAY-20260310-000002" and again.amount == D("55.00")


def test_approval_into_the_balance_tops_it_up_by_exactly_the_amount(org, made, now):
    sp_a = org.partners["sp-a"]
    from partnercenter.billing import payment_services

    payment_services.top_up(actor=org.users["op"], partner=sp_a, currency="USD", amount="12.34")
    app = apply(org, ["INC-202512-000001"])
    decision = payouts.decide(actor=org.users["op"], number=app.number, state="approved", payout_method="balance")
    entry = decision.statement_entry
    assert entry is not None
    assert (entry.kind, entry.amount, entry.balance_after, entry.remark) == (
        StatementEntryKind.TOP_UP,
        D("55.00"),
        D("67.34"),
        "Incentive payout PAY-20260310-000001",
    )
    assert billing_sel.balance(sp_a, "USD") == D("67.34")
    assert AuditEntry.objects.filter(action="billing.incentive_payout", target=str(entry.pk)).count() == 1
    assert sel.state_of(Application.objects.get(pk=app.pk)) == "approved"
    before = snapshot()
    with pytest.raises(Conflict) as e:
        payouts.decide(actor=org.users["op"], number=app.number, state="rejected")
    assert e.value.code == "already_decided"
    assert snapshot() == before
    # Approved incentives stay taken.
    assert sel.applicable(sp_a) == []


def test_paid_out_writes_no_statement_entry(org, made, now):
    app = apply(org, ["INC-202512-000001"])
    decision = payouts.decide(actor=org.users["op"], number=app.number, state="approved", payout_method="paid_out")
    assert (decision.payout_method, decision.statement_entry) == ("paid_out", None)
    assert StatementEntry.objects.count() == 0


def test_decision_input_is_checked_first(org, made, now):
    app = apply(org, ["INC-202512-000001"])
    before = snapshot()
    for state, method in (("approved", ""), ("approved", "cash"), ("maybe", "balance")):
        with pytest.raises(ValidationFailed):
            payouts.decide(actor=org.users["op"], number=app.number, state=state, payout_method=method)
    with pytest.raises(NotFound):
        payouts.decide(actor=org.users["op"], number="PAY-20260310-999999", state="rejected")
    assert snapshot() == before


def test_isolation(org, made, now):
    app = apply(org, ["INC-202512-000001"])
    before = snapshot()
    with pytest.raises(NotFound):
        sel.application(org.users["sp-b-finance"], app.number)
    assert sel.applications(org.users["sp-b-finance"]) == []
    with pytest.raises(NotFound):  # another partner cannot apply for sp-a
        payouts.apply(
            actor=org.users["sp-b-admin"], partner=org.partners["sp-a"], currency="USD", numbers=["INC-202512-000001"]
        )
    for user in ("sp-a-finance", "sp-a-admin", "dist-admin"):
        with pytest.raises(Forbidden):
            payouts.decide(actor=org.users[user], number=app.number, state="rejected")
    assert snapshot() == before
    assert sel.application(org.users["op"], app.number).pk == app.pk


def test_a_distributor_views_but_cannot_apply_for_its_sub_reseller(org, made, now):
    sub1 = org.partners["sub1"]
    incentive(
        made.cloud,
        "sub1",
        org,
        period=dt.date(2025, 12, 1),
        number="INC-202512-000009",
        lines=[("s1", "CS-S1", "Compute", "100", "0.03")],
        state=State.ISSUED,
    )
    dist = org.users["dist-admin"]
    [usd] = sel.applicable(sel.partner_for(dist, "sub1"))
    assert [a.incentive.number for a in usd.positives] == ["INC-202512-000009"]
    before = snapshot()
    with pytest.raises(NotFound):
        payouts.apply(actor=dist, partner=sub1, currency="USD", numbers=["INC-202512-000009"])
    assert snapshot() == before
    app = payouts.apply(actor=org.users["sub1-admin"], partner=sub1, currency="USD", numbers=["INC-202512-000009"])
    assert app.amount == D("3.00")
    assert [a.number for a in sel.applications(dist)] == [app.number]


def test_idempotent_replay_answers_the_first_application(org, made, now):
    issued(made, org, "INC-202512-000007", "100")
    first = apply(org, ["INC-202512-000001"], key="k-1")
    again = apply(org, [" INC-202512-000001 "], key="k-1")
    assert again.pk == first.pk and Application.objects.count() == 1
    before = snapshot()
    with pytest.raises(Conflict) as e:
        apply(org, ["INC-202512-000007"], key="k-1")
    assert e.value.code == "idempotency_key_reused"
    assert snapshot() == before


def test_validity_shown_per_incentive(org, made, now):
    from partnercenter.incentives.models import Enrolment

    Enrolment.objects.filter(program=made.cloud, partner=org.partners["sp-a"]).update(
        left_at=dt.datetime(2026, 2, 1, tzinfo=dt.UTC)
    )
    [usd] = sel.applicable(org.partners["sp-a"])
    [earning] = usd.positives
    [negative] = usd.negatives
    assert earning.valid_from == made.by_number["INC-202512-000001"].issued_at
    assert earning.valid_until == dt.datetime(2027, 2, 1, tzinfo=dt.UTC)
    assert negative.valid_until is None
    assert (usd.positive_total, usd.negative_total) == (D("60.00"), D("-5.00"))


# --- the console pages ---------------------------------------------------------------------------


def client(org, username: str, language: str = "en"):
    from django.test import Client

    c = Client(headers={"accept-language": language})
    c.force_login(org.users[username])
    return c


def text(r) -> str:
    import re

    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", r.content.decode()))


PAGE = "/incentives/payouts/"


def test_page_shows_negatives_checked_and_disabled_and_the_total(org, made, now):
    r = client(org, "sp-a-finance").get(PAGE)
    assert r.status_code == 200
    html = r.content.decode()
    assert 'data-tab="payouts"' in html and 'class="active" aria-current="page" data-tab="payouts"' in html
    assert 'name="numbers" value="INC-202601-000004" checked disabled data-amount="-5"' in html, (
        "the negative is always selected"
    )
    assert 'name="numbers" value="INC-202512-000001" data-amount="60"' in html
    assert 'data-testid="total-USD">-5.00<' in html
    assert "incentives/payouts.js" in html and "<script>" not in html
    assert "INC-202601-000001" not in html  # pending confirmation: not applicable


def test_applying_from_the_page_and_the_refusal_in_it(org, made, now):
    issued(made, org, "INC-202512-000007", "33.35")  # 3.34
    c = client(org, "sp-a-finance")
    before = snapshot()
    r = c.post(PAGE + "apply/", {"currency": "USD", "numbers": ["INC-202512-000007"], "form_key": "f1"})
    assert r.status_code == 422
    assert "The negative incentives (5.00 USD) exceed the selected incentive earnings (3.34 USD)" in text(r)
    assert 'value="INC-202512-000007" checked data-amount="3.34"' in r.content.decode()
    assert 'data-testid="total-USD">-1.66<' in r.content.decode()
    assert snapshot() == before
    r = c.post(
        PAGE + "apply/", {"currency": "USD", "numbers": ["INC-202512-000007", "INC-202512-000001"], "form_key": "f2"}
    )
    assert r.status_code == 302 and r["Location"] == PAGE
    again = c.post(
        PAGE + "apply/", {"currency": "USD", "numbers": ["INC-202512-000007", "INC-202512-000001"], "form_key": "f2"}
    )
    assert again.status_code == 302 and Application.objects.count() == 1  # a double submit applies once
    [app] = Application.objects.all()
    assert app.amount == D("58.34")
    assert [i.incentive.number for i in sel.items(app)] == [
        "INC-202512-000001",
        "INC-202512-000007",
        "INC-202601-000004",
    ]
    page = text(c.get(PAGE))
    assert "PAY-20260310-000001" in page and "Under review" in page and "58.34" in page


def test_operator_reviews_from_the_list_and_the_detail(org, made, now):
    app = apply(org, ["INC-202512-000001"])
    op = client(org, "op")
    r = op.get(PAGE)
    assert r.status_code == 200 and 'data-testid="decide-PAY-20260310-000001"' in r.content.decode()
    r = op.post(f"{PAGE}{app.number}/decide/", {"state": "approved", "payout_method": "balance", "next": "list"})
    assert r.status_code == 302 and r["Location"] == PAGE
    assert billing_sel.balance(org.partners["sp-a"], "USD") == D("55.00")
    r = op.post(f"{PAGE}{app.number}/decide/", {"state": "rejected"})
    assert r.status_code == 409 and "already decided" in text(r)
    detail = text(client(org, "sp-a-finance").get(f"{PAGE}{app.number}/"))
    assert "Approved" in detail and "55.00 USD" in detail and "Top up the prepaid balance" in detail


def test_page_isolation(org, made, now):
    app = apply(org, ["INC-202512-000001"])
    other = client(org, "sp-b-finance")
    assert other.get(f"{PAGE}{app.number}/").status_code == 404
    assert other.get(PAGE + "?partner=sp-a").status_code == 404
    assert "PAY-20260310-000001" not in text(other.get(PAGE))
    before = snapshot()
    assert other.post(f"{PAGE}{app.number}/decide/", {"state": "rejected"}).status_code == 404
    assert client(org, "sp-a-admin").post(f"{PAGE}{app.number}/decide/", {"state": "rejected"}).status_code == 403
    assert client(org, "sp-a-operator").get(PAGE).status_code == 403  # no Incentive Management menu
    assert client(org, "sp-a-operator").post(PAGE + "apply/", {"currency": "USD"}).status_code == 403
    dist = client(org, "dist-admin")
    assert dist.get(PAGE + "?partner=sub1").status_code == 200
    r = dist.post(PAGE + "apply/", {"partner": "sub1", "currency": "USD", "numbers": ["INC-202512-000001"]})
    assert r.status_code == 404
    assert snapshot() == before


def test_page_in_chinese(org, made, now):
    r = client(org, "sp-a-finance", "zh-hans").get(PAGE)
    assert r.status_code == 200
    assert "负激励" in text(r)


def test_distributor_chooses_its_sub_reseller_and_reads_without_applying(org, made, now):
    incentive(
        made.cloud,
        "sub1",
        org,
        period=dt.date(2025, 12, 1),
        number="INC-202512-000009",
        lines=[("s1", "CS-S1", "Compute", "100", "0.03")],
        state=State.ISSUED,
    )
    dist = client(org, "dist-admin")
    html = dist.get(PAGE).content.decode()
    assert '<option value="sub1">SUB1 (sub1)</option>' in html
    html = dist.get(PAGE + "?partner=sub1").content.decode()
    assert 'value="INC-202512-000009" data-amount="3" aria-label="INC-202512-000009" disabled' in html
    assert 'data-testid="apply-USD"' not in html
    assert 'data-testid="choose-partner"' not in client(org, "sp-a-finance").get(PAGE).content.decode()


def test_detail_page_decide_and_chinese(org, made, now):
    app = apply(org, ["INC-202512-000001"])
    op = client(org, "op", "zh-hans")
    r = op.get(f"{PAGE}{app.number}/")
    assert r.status_code == 200
    page = text(r)
    assert "审核中" in page and "55.00 USD" in page and "负激励" in page and "-5.00" in page
    assert f'action="/incentives/payouts/{app.number}/decide/"' in r.content.decode()
    r = op.post(f"{PAGE}{app.number}/decide/", {"state": "approved", "payout_method": "paid_out", "remark": "bank"})
    assert r.status_code == 302 and r["Location"] == f"{PAGE}{app.number}/"
    page = text(op.get(r["Location"]))
    assert "已通过" in page
    assert "已打款" in page and "bank" in page
    assert "decide/" not in op.get(r["Location"]).content.decode()
    assert StatementEntry.objects.count() == 0
