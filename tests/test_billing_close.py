"""The monthly close (B1, B2, B5, B6): what a bill holds, when it is due, that closing again changes
nothing, that late line items are carried to the next bill, and that nothing edits a bill."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, IntegrityError, connection, transaction

from partnercenter.billing import payment_selectors, payment_services, selectors, services
from partnercenter.billing.models import Bill, BillEstimate, BillLine, Invoice, StatementEntry
from partnercenter.core import clock
from partnercenter.partners import services as partner_services
from partnercenter.usage import services as usage_services
from partnercenter.usage.models import ClosedMonth, LineItem

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
MARCH = dt.date(2026, 3, 1)
APRIL = dt.date(2026, 4, 1)
DUE = dt.datetime(2026, 4, 5, 0, 0, 0, tzinfo=SHANGHAI)  # the 5th of April, 00:00 in Shanghai


def rec(line_id: str, account: str, billed: str, start: dt.datetime, **extra: str) -> dict[str, str]:
    utc = start.astimezone(dt.UTC)
    r = {
        "line_id": line_id,
        "account_id": account,
        "billed_cost": billed,
        "currency": "USD",
        "charge_category": "Usage",
        "charge_period_start": utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "charge_period_end": (utc + dt.timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "service_name": "ECS",
        "service_type": "cloud",
        "region_id": "ap-shanghai",
        "billing_mode": "pay_per_use",
    }
    r.update(extra)
    return r


def ingest(records: list[dict[str, str]], at: dt.datetime) -> None:
    with clock.frozen_at(at):
        report = usage_services.ingest_records(records, fmt="native", source="t")
    assert report.error_count == 0, report.errors


def on(day: int, hour: int = 10, minute: int = 0, second: int = 0, month: int = 3) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, second, tzinfo=SHANGHAI)


MARCH_RECORDS = [
    rec("M1", "a1", "100.123456789012345", on(5)),
    rec("M2", "a1", "-20.5", on(6)),  # a negative usage charge: a refund
    rec("M3", "a1", "3.25", on(7), charge_category="Tax"),
    rec("M4", "a3", "50", on(8), service_name="Market App", service_type="marketplace", region_id=""),
    rec("M5", "a2", "999", on(9)),  # a2 is sp-a's referral customer: never on the bill (B1)
    rec("M6", "b1", "-80", on(10)),  # sp-b's bill is negative
    rec("M7", "b1", "30", on(11)),
    rec("M8", "a1", "7", on(31, 23, 59, 59)),  # the last second of March, Shanghai time
    rec("A1", "a1", "11", on(1, 0, 0, 0, month=4)),  # the first second of April: not March's
    rec("M9", "r1", "5", on(12)),  # referral partner's customer
    rec("M10", "a3", "-1.25", on(13), charge_category="Credit"),  # an adjustment
]


def bill_of(partner: str, month: dt.date = MARCH, currency: str = "USD") -> Bill:
    return Bill.objects.get(partner__code=partner, month=month, currency=currency)


@pytest.fixture
def march(org):
    ingest(MARCH_RECORDS, on(2, month=4))
    return org


def test_bill_holds_the_reseller_charges_of_the_month_with_exact_figures(march):
    services.catch_up(DUE)
    a = bill_of("sp-a")
    assert (a.expenditure, a.refund, a.adjustment, a.tax) == (
        Decimal("157.123456789012345"),
        Decimal("20.5"),
        Decimal("-1.25"),
        Decimal("3.25"),
    )
    assert a.amount == Decimal("138.623456789012345")
    assert a.line_item_count == 6  # M1-M4, M8, M10: not the referral M5, not April's A1
    assert sum(line.amount for line in a.lines.all()) == a.amount
    assert not Bill.objects.filter(partner__code="ref").exists()
    lines = {(line.customer.account_id, line.service_name, line.classification) for line in a.lines.all()}
    assert ("a2", "ECS", "expenditure") not in lines
    assert ("a1", "ECS", "expenditure") in lines


def test_a_negative_bill_has_no_invoice_and_positive_bills_are_numbered_without_gaps(march):
    services.catch_up(DUE)
    b = bill_of("sp-b")
    assert b.amount == Decimal("-50")
    assert not Invoice.objects.filter(bill=b).exists()
    numbers = list(Invoice.objects.order_by("number").values_list("number", flat=True))
    # Only sp-a's bill is positive: one invoice, the first number of the issuer.
    assert numbers == ["PC-0000000001"]
    assert selectors.figures(b).amount_due == Decimal("0")
    assert selectors.figures(bill_of("sp-a")).amount_due == Decimal("138.623456789012345")


def test_a_negative_bill_returns_its_amount_to_the_prepaid_balance_once(march):
    services.catch_up(DUE)
    b = bill_of("sp-b")
    entries = list(
        StatementEntry.objects.filter(partner__code="sp-b").values_list("kind", "amount", "balance_after", "bill")
    )
    assert entries == [("refund", Decimal("50"), Decimal("50"), b.pk)]
    assert payment_selectors.balance(b.partner, "USD") == Decimal("50")
    assert not StatementEntry.objects.filter(partner__code="sp-a").exists()  # a positive bill returns nothing
    services.catch_up(DUE + dt.timedelta(days=1))
    assert StatementEntry.objects.filter(partner__code="sp-b").count() == 1
    assert payment_services.refund_negative_bills([b]) == []  # once per bill, whoever asks again
    (record,) = payment_selectors.statement(b.partner)
    assert (record.kind, record.amount, record.description) == (
        "refund",
        Decimal("50"),
        "Negative amount of the bill of 2026-03 returned",
    )


def test_the_bill_figures_are_exact_beyond_28_digits(org):
    big = "999999999999.999999999999999"  # the largest accepted amount: 27 digits
    ingest([rec(f"X{i}", "a1", big, on(3 + i), service_name=f"P{i}") for i in range(11)], on(2, month=4))
    services.catch_up(DUE)
    a = bill_of("sp-a")
    assert a.expenditure == a.amount == Decimal("10999999999999.999999999999989")  # 29 digits


@pytest.mark.parametrize(
    ("at", "closed"),
    [
        (dt.datetime(2026, 4, 4, 23, 59, 59, tzinfo=SHANGHAI), False),
        (dt.datetime(2026, 4, 5, 0, 0, 0, tzinfo=SHANGHAI), True),
    ],
)
def test_the_bill_is_due_from_the_5th_at_midnight_billing_time(march, at, closed):
    result = services.catch_up(at)
    assert Bill.objects.filter(month=MARCH).exists() is closed
    assert (MARCH in result.months) is closed
    assert not Bill.objects.filter(month=dt.date(2026, 2, 1)).exists()


def test_closing_again_changes_nothing(march):
    first = services.catch_up(DUE)
    snapshot = list(Bill.objects.order_by("pk").values())
    lines = BillLine.objects.count()
    again = services.catch_up(DUE + dt.timedelta(hours=3))
    assert first.bills == 2  # sp-a and sp-b; the others had no reseller charge in March
    assert again.months == [] and again.bills == 0
    assert list(Bill.objects.order_by("pk").values()) == snapshot
    assert BillLine.objects.count() == lines
    assert services.generate_bills(MARCH, at=DUE) == []


def test_a_late_line_item_leaves_the_closed_bill_untouched_and_lands_on_the_next(march):
    services.catch_up(DUE)
    before = list(Bill.objects.order_by("pk").values())
    ingest([rec("LATE", "a1", "4.5", on(20)), rec("A2", "a1", "1", on(3, month=4))], on(6, month=4))
    late = LineItem.objects.get(x_line_id="LATE")
    assert late.is_correction
    services.catch_up(dt.datetime(2026, 5, 5, tzinfo=SHANGHAI))
    assert list(Bill.objects.filter(month=MARCH).order_by("pk").values()) == before
    april = bill_of("sp-a", APRIL)
    carried = april.lines.get(corrects_month=MARCH)
    assert (carried.amount, carried.classification, carried.line_item_count) == (Decimal("4.5"), "expenditure", 1)
    assert april.adjustment == Decimal("4.5")
    assert april.expenditure == Decimal("12")  # A1 and A2
    assert april.amount == Decimal("16.5")
    assert list(selectors.line_items_of(carried).values_list("x_line_id", flat=True)) == ["LATE"]


def test_a_late_line_item_for_a_month_before_the_first_bill_is_carried_too(march):
    services.catch_up(DUE)  # billing starts with March, the ledger's first month
    ingest([rec("FEB", "b1", "9", on(27, month=2))], on(6, month=4))
    assert LineItem.objects.get(x_line_id="FEB").is_correction
    result = services.catch_up(dt.datetime(2026, 5, 5, tzinfo=SHANGHAI))
    assert result.months == [APRIL]
    assert not Bill.objects.filter(month=dt.date(2026, 2, 1)).exists()
    carried = bill_of("sp-b", APRIL).lines.get()
    assert (carried.corrects_month, carried.amount) == (dt.date(2026, 2, 1), Decimal("9"))


def test_every_line_traces_back_to_its_line_items(march):
    services.catch_up(DUE)
    for line in BillLine.objects.all():
        items = selectors.line_items_of(line)
        assert items.count() == line.line_item_count
        assert sum((i.billed_cost for i in items), Decimal(0)) == line.amount


def _refused(action) -> None:
    with pytest.raises((IntegrityError, DatabaseError)), transaction.atomic():
        action()


def test_the_database_refuses_to_edit_or_delete_a_bill(march):
    services.catch_up(DUE)
    bill = bill_of("sp-a")
    _refused(lambda: Bill.objects.filter(pk=bill.pk).update(amount=Decimal("1")))
    _refused(lambda: BillLine.objects.filter(bill=bill).update(amount=Decimal("1")))
    _refused(lambda: Invoice.objects.filter(bill=bill).update(number="X"))
    _refused(lambda: Invoice.objects.filter(bill=bill).delete())
    _refused(lambda: BillLine.objects.filter(bill=bill).delete())

    def raw_update() -> None:
        with connection.cursor() as c:
            c.execute("UPDATE billing_bill SET amount = %s WHERE id = %s", ["0", bill.pk])

    _refused(raw_update)
    assert bill_of("sp-a").amount == Decimal("138.623456789012345")


def test_the_estimate_of_the_current_month_excludes_tax_and_is_refreshed_daily(march):
    ingest([rec("T1", "a1", "2", on(3, month=4), charge_category="Tax")], on(4, month=4))
    at = dt.datetime(2026, 4, 10, 9, tzinfo=SHANGHAI)
    services.catch_up(at)
    est = BillEstimate.objects.get(partner__code="sp-a", month=APRIL)
    assert (est.expenditure, est.refund, est.adjustment, est.amount) == (Decimal("11"), 0, 0, Decimal("11"))
    assert services.catch_up(at + dt.timedelta(hours=14)).estimates == 0  # 23:00, same day
    assert services.catch_up(at + dt.timedelta(hours=15)).estimates == 1  # 00:00 the next day


def test_close_month_command(march, capsys):
    with clock.frozen_at(DUE):
        with pytest.raises(CommandError, match="must be a month as YYYY-MM"):
            call_command("close_month", "--month", "2026-3")
        with pytest.raises(CommandError, match="due from 2026-05-04T16:00:00"):
            call_command("close_month", "--month", "2026-04")
        assert not ClosedMonth.objects.filter(month=APRIL).exists()
        call_command("close_month", "--month", "2026-03")
        call_command("close_month")
    out = capsys.readouterr().out
    assert "2026-03: closed.\n2 bill(s) generated, 1 estimate(s) refreshed." in out
    assert "nothing changed.\n0 bill(s) generated, 0 estimate(s) refreshed." in out


def test_tick_runs_the_catch_up(march, capsys):
    with clock.frozen_at(DUE):
        call_command("tick")
    assert "month(s) closed: 2026-03; 2 bill(s) generated" in capsys.readouterr().out
    assert Bill.objects.filter(month=MARCH).count() == 2


@pytest.mark.django_db(transaction=True)
def test_flushing_the_whole_database_is_allowed_and_keeps_bills_immutable(march):
    services.catch_up(DUE)
    call_command("flush", interactive=False, verbosity=0)
    assert not Bill.objects.exists() and not BillLine.objects.exists()
    # The triggers are back: a bill written after the flush is as immutable as before.
    with clock.frozen_at(on(1, month=1)):
        partner = partner_services.create_partner(code="p", name="P", kind="solution_provider", parent_code=None)
    bill = Bill.objects.create(
        partner=partner,
        month=MARCH,
        currency="USD",
        generated_at=DUE,
        expenditure=1,
        refund=0,
        adjustment=0,
        tax=0,
        amount=1,
    )
    _refused(lambda: Bill.objects.filter(pk=bill.pk).update(amount=Decimal("2")))
