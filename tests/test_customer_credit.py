"""Customer bills and credit (C1, C7, E8): generation when the month is due, consumption entries,
grants and reclaims with exact figures, credit alerts, and refusals that change nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import call_command

from partnercenter.accounts.models import AuditEntry
from partnercenter.billing import services as billing
from partnercenter.core import clock
from partnercenter.core.errors import Conflict, Forbidden, ValidationFailed
from partnercenter.customer_bills import selectors as sel
from partnercenter.customer_bills import services as svc
from partnercenter.customer_bills.models import (
    Confirmation,
    CreditAlert,
    CreditEntry,
    CustomerBill,
    GeneratedMonth,
)
from tests.test_billing_close import DUE, MARCH, MARCH_RECORDS, ingest, on, rec

D = Decimal
A1_TOTAL = D("89.873456789012345")  # 100.123456789012345 − 20.5 + 3.25 + 7


def snapshot() -> tuple:
    """Everything a refused write must leave as it was."""
    return (
        list(CustomerBill.objects.order_by("pk").values_list("pk", "total")),
        list(Confirmation.objects.order_by("pk").values_list("pk", "amount")),
        list(CreditEntry.objects.order_by("pk").values_list("pk", "kind", "amount", "available_after")),
        CreditAlert.objects.count(),
        AuditEntry.objects.filter(action__startswith="customer_bills.").count(),
    )


def close_march(at: dt.datetime = DUE) -> None:
    billing.catch_up(at)
    svc.catch_up(at)


@pytest.fixture
def march(org):
    ingest(MARCH_RECORDS, on(2, month=4))
    return org


def bill(account: str, month: dt.date = MARCH) -> CustomerBill:
    return CustomerBill.objects.get(customer__account_id=account, month=month)


def grant(org, account: str, amount: str, user: str = "sp-a-admin", key: str = "", **kw) -> CreditEntry:
    u = org.users[user]
    return svc.grant_credit(
        actor=u, partner=u.partner, customer=org.customers[account], currency="USD", amount=amount,
        idempotency_key=key, **kw,
    )  # fmt: skip


def reclaim(org, account: str, amount: str, user: str = "sp-a-admin", key: str = "") -> CreditEntry:
    u = org.users[user]
    return svc.reclaim_credit(
        actor=u, partner=u.partner, customer=org.customers[account], currency="USD", amount=amount, idempotency_key=key
    )


# --- generation ----------------------------------------------------------------------------------


def test_nothing_is_generated_before_the_month_is_due(march):
    before = DUE - dt.timedelta(seconds=1)
    close_march(before)
    assert svc.catch_up(before).months == []
    assert not CustomerBill.objects.exists()
    with pytest.raises(ValueError):
        svc.generate_customer_bills(MARCH, at=before)


def test_customer_bills_hold_the_reseller_charges_of_the_month(march):
    close_march()
    rows = sorted(
        CustomerBill.objects.values_list(
            "partner__code", "customer__account_id", "currency", "total", "line_item_count"
        )
    )
    # a2 and r1 are referral customers; A1 is April's; b1's bill is negative.
    assert rows == [
        ("sp-a", "a1", "USD", A1_TOTAL, 4),
        ("sp-a", "a3", "USD", D("48.75"), 2),
        ("sp-b", "b1", "USD", D("-50"), 2),
    ]
    assert GeneratedMonth.objects.get(month=MARCH).bills == 3


def test_a_positive_bill_consumes_credit_once(march):
    close_march()
    entries = list(CreditEntry.objects.order_by("customer__account_id").values_list(
        "customer__account_id", "kind", "amount", "limit_after", "used_after", "available_before", "available_after"))  # fmt: skip
    assert entries == [
        ("a1", "consumption", A1_TOTAL, D(0), A1_TOTAL, D(0), -A1_TOTAL),
        ("a3", "consumption", D("48.75"), D(0), D("48.75"), D(0), D("-48.75")),
    ]
    assert CreditAlert.objects.count() == 0  # no limit, no alert
    state = snapshot()
    close_march(DUE + dt.timedelta(days=3))  # again: nothing changes
    assert snapshot() == state


def test_late_line_items_are_not_on_the_generated_bill(march):
    close_march()
    ingest([rec("LATE", "a1", "5", on(20))], on(6, month=4))
    svc.catch_up(DUE + dt.timedelta(days=2))
    assert bill("a1").total == A1_TOTAL
    assert CustomerBill.objects.filter(month=MARCH).count() == 3


def test_customer_bills_wait_for_the_partner_bills(march):
    svc.catch_up(DUE)  # the partner bills have not closed March yet
    assert not CustomerBill.objects.exists() and not GeneratedMonth.objects.exists()
    close_march()
    assert CustomerBill.objects.count() == 3


def test_tick_generates_customer_bills_after_partner_bills(march, capsys):
    with clock.frozen_at(DUE):
        call_command("tick")
    out = capsys.readouterr().out
    assert "Customer bills: month(s) generated: 2026-03; 3 bill(s)." in out
    assert CustomerBill.objects.count() == 3


# --- grants, reclaims, alerts --------------------------------------------------------------------


def test_grant_and_reclaim_with_exact_figures(march):
    with clock.frozen_at(on(3, month=4)):
        g = grant(march, "a1", "1000.00", remark="opening")
    assert (g.kind, g.amount, g.limit_after, g.used_after, g.available_before, g.available_after) == (
        "grant", D("1000"), D("1000"), D(0), D(0), D("1000"))  # fmt: skip
    close_march()
    figures = sel.credit_account(march.partners["sp-a"].pk, march.customers["a1"].pk, "USD")
    assert (figures.limit, figures.used, figures.available) == (D(1000), A1_TOTAL, D("910.126543210987655"))
    with clock.frozen_at(DUE + dt.timedelta(hours=1)):
        r = reclaim(march, "a1", "910.12")
    assert (r.limit_after, r.available_before, r.available_after) == (
        D("89.88"),
        D("910.126543210987655"),
        D("0.006543210987655"),
    )
    audit = AuditEntry.objects.filter(action="customer_bills.credit_reclaim").get()
    assert audit.detail["amount"] == "910.12" and audit.detail["customer"] == "a1"


def test_reclaim_beyond_available_is_refused_and_changes_nothing(march):
    grant(march, "a1", "100")
    close_march()  # available 100 − 89.873456789012345
    state = snapshot()
    with pytest.raises(ValidationFailed) as e:
        reclaim(march, "a1", "10.13")
    assert e.value.code == "more_than_available"
    assert "10.13 USD" in e.value.message
    assert snapshot() == state


@pytest.mark.parametrize(
    ("amount", "code"),
    [("0", "invalid_amount"), ("-5", "invalid_amount"), ("1.001", "invalid_amount"), ("abc", "invalid_amount"),
     ("1000000000001", "invalid_amount")],
)  # fmt: skip
def test_bad_amounts_are_refused_and_change_nothing(march, amount, code):
    state = snapshot()
    with pytest.raises(ValidationFailed) as e:
        grant(march, "a1", amount)
    assert e.value.code == code
    assert snapshot() == state


def test_only_the_partner_admin_grants_and_only_to_its_reseller_customers(march):
    state = snapshot()
    with pytest.raises(Forbidden):
        grant(march, "a1", "10", user="sp-a-finance")
    with pytest.raises(Forbidden):
        grant(march, "a1", "10", user="op")
    with pytest.raises(ValidationFailed) as e:
        grant(march, "a2", "10")  # a referral customer
    assert e.value.code == "not_reseller_customer"
    with pytest.raises(ValidationFailed):
        grant(march, "s1", "10", user="dist-admin")  # the distributor's second-level reseller's customer
    assert snapshot() == state


def test_grants_are_idempotent(march):
    first = grant(march, "a1", "10", key="k1")
    assert grant(march, "a1", "10", key="k1").pk == first.pk
    with pytest.raises(Conflict) as e:
        grant(march, "a1", "11", key="k1")
    assert e.value.code == "idempotency_key_reused"
    assert CreditEntry.objects.count() == 1


def test_alerts_when_available_crosses_25_10_and_0_percent_downward(march):
    grant(march, "a3", "200")  # a3's March bill is 48.75: available 151.25 = 75.6 %
    close_march()
    assert CreditAlert.objects.count() == 0
    reclaim(march, "a3", "90")  # limit 110, available 61.25 = 55.7 %
    assert CreditAlert.objects.count() == 0
    reclaim(march, "a3", "35")  # limit 75, available 26.25 = 35 %
    assert CreditAlert.objects.count() == 0
    reclaim(march, "a3", "19")  # limit 56, available 7.25 = 12.9 % : crosses 25 %
    reclaim(march, "a3", "2")  # limit 54, available 5.25 = 9.7 % : crosses 10 %
    reclaim(march, "a3", "5.25")  # limit 48.75, available 0: crosses 0 %
    alerts = list(CreditAlert.objects.order_by("pk").values_list("threshold_percent", "available", "limit"))
    assert alerts == [(25, D("7.25"), D(56)), (10, D("5.25"), D(54)), (0, D(0), D("48.75"))]
    assert CreditAlert.objects.count() == 3


def test_a_consumption_crossing_several_thresholds_raises_each(march, settings):
    settings.CREDIT_ALERT_THRESHOLDS = (50, 25)
    grant(march, "a3", "60")
    close_march()  # available 11.25 of 60 = 18.75 %: crosses 50 and 25
    assert sorted(CreditAlert.objects.values_list("threshold_percent", flat=True)) == [25, 50]
    entry = CreditEntry.objects.get(kind="consumption", customer__account_id="a3")
    assert set(CreditAlert.objects.values_list("entry_id", flat=True)) == {entry.pk}


def test_adjustment_records_are_scoped_and_filtered(march):
    with clock.frozen_at(on(3, month=4)):
        grant(march, "a1", "10")
    with clock.frozen_at(on(4, month=4)):
        grant(march, "d1", "20", user="dist-admin")
    close_march()
    sp_a = sel.adjustment_records(march.users["sp-a-admin"])
    assert sorted(sp_a.values_list("customer__account_id", "kind")) == [
        ("a1", "consumption"), ("a1", "grant"), ("a3", "consumption")]  # fmt: skip
    assert list(sel.adjustment_records(march.users["sp-a-admin"], kind="grant").values_list("amount", flat=True)) == [
        D(10)
    ]
    assert sel.adjustment_records(march.users["sp-b-admin"]).count() == 0
    assert list(sel.adjustment_records(march.users["dist-admin"]).values_list("customer__account_id", flat=True)) == [
        "d1"
    ]
    day = dt.date(2026, 4, 3)
    assert sel.adjustment_records(march.users["op"], start=day, end=day).count() == 1
    assert sel.adjustment_records(march.users["op"], start=dt.date(2026, 4, 4)).count() == 3
    assert sel.adjustment_records(march.users["op"], customer="a3").count() == 1


def test_the_adjustment_records_export_has_exact_amounts_in_scope(march):
    from partnercenter.exports import registry
    from partnercenter.exports.registry import ExportContext

    with clock.frozen_at(on(3, month=4)):
        grant(march, "a1", "10.5", remark="r")
        grant(march, "d1", "20", user="dist-admin")
    close_march()
    kind = registry.get("credit_adjustments")
    params = registry.clean_params(kind, march.users["sp-a-admin"], {"customer": "a1"})
    ctx = ExportContext(user=march.users["sp-a-admin"], params=params, at=DUE + dt.timedelta(hours=1))
    rows = [(r[1], r[2], r[4], r[6], r[7], r[8], r[11], r[12], r[13]) for r in kind.rows(ctx)]
    assert rows == [
        ("sp-a", "a1", "Consumption", A1_TOTAL, D("10.5"), D("10.5") - A1_TOTAL, "", "2026-03", ""),
        ("sp-a", "a1", "Grant", D("10.5"), D(0), D("10.5"), "sp-a-admin", "", "r"),
    ]
    assert kind.has_rows is not None and kind.has_rows(ctx)
    dist_ctx = ExportContext(
        user=march.users["dist-admin"], params=registry.clean_params(kind, march.users["dist-admin"], {}), at=ctx.at
    )
    assert [r[2] for r in kind.rows(dist_ctx)] == ["d1"]
