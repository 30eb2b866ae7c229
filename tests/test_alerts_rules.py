"""Customer alerts (O3): the three rules at their clock boundaries, raised once per condition
however often the catch-up runs, and run by `partnercenter tick`."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.management import call_command

from partnercenter.alerts import services as svc
from partnercenter.alerts.models import AlertRule, CustomerAlert
from partnercenter.core import clock
from partnercenter.customer_bills import services as bill_services
from partnercenter.customer_bills.models import CreditAlert
from tests.test_billing_close import DUE, ingest, on, rec
from tests.test_customer_confirm import RECORDS, bill
from tests.test_customer_credit import close_march

D = Decimal


def alerts(rule: str | None = None) -> list[tuple]:
    qs = CustomerAlert.objects.order_by("pk")
    if rule:
        qs = qs.filter(rule=rule)
    return list(qs.values_list("rule", "customer__account_id", "partner__code", "currency", "figures", "raised_at"))


# --- credit thresholds ---------------------------------------------------------------------------


def credit(org, kind: str, account: str, amount: str, at: dt.datetime) -> None:
    u = org.users["sp-a-admin"]
    fn = bill_services.grant_credit if kind == "grant" else bill_services.reclaim_credit
    with clock.frozen_at(at):
        fn(actor=u, partner=u.partner, customer=org.customers[account], currency="USD", amount=amount)


@pytest.fixture
def credited(org):
    ingest([rec("C3", "a3", "48.75", on(8))], on(2, month=4))
    credit(org, "grant", "a3", "200", DUE - dt.timedelta(days=1))
    close_march(DUE)  # available 151.25 of 200
    return org


def test_credit_thresholds_raise_one_alert_each_from_the_credit_alerts(credited):
    t1 = DUE + dt.timedelta(hours=1)
    credit(credited, "reclaim", "a3", "144", t1)  # limit 56, available 7.25: crosses 25 %
    credit(credited, "reclaim", "a3", "2", t1 + dt.timedelta(minutes=1))  # 5.25 of 54: crosses 10 %
    t3 = t1 + dt.timedelta(minutes=2)
    credit(credited, "reclaim", "a3", "5.25", t3)  # 0 of 48.75: crosses 0 %
    assert CreditAlert.objects.count() == 3
    assert svc.raise_due(t1 + dt.timedelta(seconds=59)) == 1  # only the first credit alert is raised by then
    assert svc.raise_due(t3) == 2
    assert svc.raise_due(t3 + dt.timedelta(days=1)) == 0
    assert [(r[0], r[1], r[2], r[3], r[4]) for r in alerts()] == [
        ("credit_25", "a3", "sp-a", "USD", {"currency": "USD", "threshold_percent": "25", "available": "7.25", "limit": "56"}),
        ("credit_10", "a3", "sp-a", "USD", {"currency": "USD", "threshold_percent": "10", "available": "5.25", "limit": "54"}),
        ("credit_0", "a3", "sp-a", "USD", {"currency": "USD", "threshold_percent": "0", "available": "0", "limit": "48.75"}),
    ]  # fmt: skip
    assert alerts()[0][5] == t1
    keys = list(CustomerAlert.objects.order_by("pk").values_list("condition_key", flat=True))
    assert keys == [f"credit:{pk}" for pk in CreditAlert.objects.order_by("pk").values_list("pk", flat=True)]


def test_a_threshold_beyond_the_three_rules_raises_no_customer_alert(org, settings):
    settings.CREDIT_ALERT_THRESHOLDS = (50, 25)
    ingest([rec("C3", "a3", "48.75", on(8))], on(2, month=4))
    credit(org, "grant", "a3", "60", DUE - dt.timedelta(days=1))
    close_march(DUE)  # 11.25 of 60: crosses 50 and 25
    assert svc.raise_due(DUE) == 1
    assert [r[0] for r in alerts()] == ["credit_25"]


# --- spend spikes --------------------------------------------------------------------------------


def daily(account: str, amounts: dict[int, str]) -> None:
    """Expenditure of ``account`` on March days (Shanghai), one line item each."""
    ingest([rec(f"{account}-{d}", account, a, on(d, 12)) for d, a in amounts.items()], on(28))


def test_a_spike_is_raised_once_the_day_is_complete_in_the_billing_time_zone(org):
    daily("a1", {**{d: "10" for d in range(1, 15)}, 15: "121"})
    assert svc.raise_due(on(15, 23, 59, 59)) == 0  # the 15th is not over yet
    assert svc.raise_due(on(16, 0, 0, 0)) == 1
    assert svc.raise_due(on(16, 0, 1, 0)) == 0
    [(rule, account, partner, currency, figures, raised_at)] = alerts()
    assert (rule, account, partner, currency, raised_at) == ("spend_spike", "a1", "sp-a", "USD", on(16, 0, 0, 0))
    assert figures == {
        "currency": "USD", "day": "2026-03-15", "spend": "121", "previous_total": "140",
        "previous_average": "10", "factor": "3", "floor": "100",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("day", "raised"),
    [("120", False), ("120.000000000000001", True)],  # 3 × the average of 40: above, not equal
)
def test_a_spike_is_strictly_above_three_times_the_average(org, day, raised):
    daily("a1", {**{d: "40" for d in range(1, 15)}, 15: day})
    assert svc.raise_due(on(16, 0, 0, 0)) == int(raised)


@pytest.mark.parametrize(("day", "raised"), [("99.999", False), ("100", True)])
def test_a_spike_needs_the_floor_of_100(org, day, raised):
    daily("a1", {15: day})  # no spend before: any day at or above the floor is a spike
    assert svc.raise_due(on(16, 0, 0, 0)) == int(raised)


def test_days_without_spend_count_as_zero_in_the_average(org):
    daily("a1", {1: "70", 15: "100"})  # average of the 1st–14th: 5; the 1st is in the window
    assert svc.raise_due(on(16)) == 1
    assert alerts()[0][4]["previous_average"] == "5"
    daily("b1", {2: "700", 16: "149.99"})  # window 2nd–15th: average 50, 3× is 150
    assert svc.raise_due(on(17)) == 0


def test_refunds_do_not_count_as_spend_and_each_customer_and_currency_stands_alone(org):
    daily("a1", {15: "150"})
    ingest([rec("R1", "a1", "-100", on(15, 13))], on(28))  # a refund that day does not lower the spend
    ingest([rec("E1", "a3", "80", on(15, 13), currency="EUR")], on(28))
    assert svc.raise_due(on(16)) == 1
    assert [(r[1], r[3], r[4]["spend"]) for r in alerts()] == [("a1", "USD", "150")]


def test_a_spike_is_looked_for_seven_days_back(org):
    daily("a1", {15: "500"})
    assert svc.raise_due(on(23, 0, 0, 0)) == 0  # the 15th is eight days back
    assert svc.raise_due(on(22, 23, 59, 59)) == 1  # the catch-up missed a week: made good
    assert svc.raise_due(on(22, 23, 59, 59)) == 0


# --- unpaid bills --------------------------------------------------------------------------------


@pytest.fixture
def billed(org):
    ingest(RECORDS, on(2, month=4))
    close_march(DUE)
    return org


def test_an_unpaid_bill_is_raised_more_than_15_days_after_its_generation(billed):
    assert bill("a1").generated_at == DUE
    with clock.frozen_at(DUE + dt.timedelta(days=10)):
        bill_services.confirm(actor=billed.users["sp-a-finance"], bill_id=bill("a1").pk, amount="50")
        bill_services.confirm(actor=billed.users["sp-a-finance"], bill_id=bill("a3").pk)  # in full
    assert svc.raise_due(DUE + dt.timedelta(days=15)) == 0  # day 15: not more than 15 days yet
    assert svc.raise_due(DUE + dt.timedelta(days=15, microseconds=1)) == 4
    assert svc.raise_due(DUE + dt.timedelta(days=16)) == 0
    rows = [(r[1], r[2], r[4]["remaining"]) for r in alerts(AlertRule.UNPAID_BILL)]
    assert sorted(rows) == [("a1", "sp-a", "50.5"), ("d1", "dist", "70"), ("s1", "sub1", "25.25"), ("s2", "sub2", "12")]
    a1 = CustomerAlert.objects.get(customer__account_id="a1")
    assert a1.figures == {
        "currency": "USD", "month": "2026-03", "total": "100.5", "confirmed": "50", "remaining": "50.5",
        "generated_at": DUE.astimezone(dt.UTC).isoformat(), "days": "15",
    }  # fmt: skip
    assert (a1.condition_key, a1.source_id) == (f"unpaid:{bill('a1').pk}", bill("a1").pk)


def test_a_bill_paid_before_the_catch_up_runs_is_never_raised(billed):
    with clock.frozen_at(DUE + dt.timedelta(days=20)):
        bill_services.batch_confirm(actor=billed.users["sp-a-finance"], bill_ids=[bill("a1").pk, bill("a3").pk])
    assert svc.raise_due(DUE + dt.timedelta(days=21)) == 3  # d1, s1, s2
    assert not CustomerAlert.objects.filter(partner__code="sp-a").exists()


# --- raised once ---------------------------------------------------------------------------------


def test_repeated_catch_ups_raise_each_condition_once_and_handled_alerts_are_not_raised_again(billed):
    daily("a1", {20: "1000"})
    at = DUE + dt.timedelta(days=16)
    first = svc.raise_due(at)
    assert first == 5  # a1, a3, d1, s1, s2 unpaid
    daily("a3", {dt.date(2026, 3, 25).day: "300"})
    assert [svc.raise_due(at) for _ in range(3)] == [0, 0, 0]  # the spikes are weeks back
    a = CustomerAlert.objects.filter(customer__account_id="a1").first()
    assert a is not None
    svc.handle(actor=billed.users["sp-a-admin"], alert_id=a.pk, note="Called the customer")
    assert svc.raise_due(at + dt.timedelta(minutes=1)) == 0
    assert CustomerAlert.objects.count() == 5


def test_tick_runs_the_catch_up(billed):
    out = io.StringIO()
    with clock.frozen_at(DUE + dt.timedelta(days=16)):
        call_command("tick", stdout=out)
        call_command("tick", stdout=out)
    lines = [ln for ln in out.getvalue().splitlines() if ln.startswith("Customer alerts")]
    assert lines == ["Customer alerts: 5 raised.", "Customer alerts: 0 raised."]
    assert CustomerAlert.objects.count() == 5


def test_is_spike_is_exact():
    assert svc.is_spike(D("100"), D("0"))
    assert not svc.is_spike(D("300"), D("1400"))  # average 100: 3× is 300
    assert svc.is_spike(D("300.000000000000001"), D("1400"))
