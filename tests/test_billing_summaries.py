"""The stored summaries of a bill (totals per product and per customer, B7): written with the bill,
exactly the sums of its lines, numbered largest total first, immutable like the bill, and summed
by migration 0005 for the bills written before it."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal, localcontext

import pytest
from django.apps import apps
from django.utils.module_loading import import_string

from partnercenter.billing import selectors, services, summaries
from partnercenter.billing.models import Bill, BillCustomerTotal, BillLine, BillProductTotal
from partnercenter.core.money import CONTEXT
from tests.test_billing_close import APRIL, DUE, MARCH, MARCH_RECORDS, SHANGHAI, _refused, bill_of, ingest, on, rec

ZERO = Decimal(0)


def _line_sums(bill: Bill) -> tuple[dict, dict]:
    """What the summaries must hold, summed here from the bill's lines."""
    products: dict[tuple, list] = defaultdict(lambda: [ZERO, 0, 0])
    customers: dict[int, dict[str, object]] = {}
    with localcontext(CONTEXT):
        for line in BillLine.objects.filter(bill=bill).select_related("customer"):
            key = (line.service_type, line.service_name, line.region_id, line.classification, line.corrects_month)
            p = products[key]
            p[0], p[1], p[2] = p[0] + line.amount, p[1] + line.line_item_count, p[2] + 1
            c = customers.setdefault(
                line.customer_id,
                {"account": line.customer.account_id, **dict.fromkeys(summaries.CLASSES, ZERO), "items": 0, "n": 0},
            )
            kind = "adjustment" if line.corrects_month else line.classification
            c[kind] = c[kind] + line.amount  # type: ignore[operator]
            c["items"] = c["items"] + line.line_item_count  # type: ignore[operator]
            c["n"] = c["n"] + 1  # type: ignore[operator]
    return {k: tuple(v) for k, v in products.items()}, customers


def assert_summaries_match_lines(bill: Bill) -> None:
    """The stored totals of ``bill`` are the exact sums of its lines, and positions run 1…n in the
    order largest total first, then account id."""
    want_products, want_customers = _line_sums(bill)
    got_products = {
        (t.service_type, t.service_name, t.region_id, t.classification, t.corrects_month): (
            t.amount,
            t.line_item_count,
            t.line_count,
        )
        for t in BillProductTotal.objects.filter(bill=bill)
    }
    assert got_products == want_products
    rows = list(BillCustomerTotal.objects.filter(bill=bill).select_related("customer").order_by("position"))
    assert [r.position for r in rows] == list(range(1, len(want_customers) + 1))
    with localcontext(CONTEXT):
        for r in rows:
            w = want_customers[r.customer_id]
            e, rf, a, t = (w[k] for k in summaries.CLASSES)
            assert (r.expenditure, r.refund, r.adjustment, r.tax) == (e, -rf, a, t)  # type: ignore[operator]
            assert r.total == e + rf + a + t  # type: ignore[operator]
            assert (r.line_item_count, r.line_count) == (w["items"], w["n"])
        assert sum((r.total for r in rows), ZERO) == bill.amount
        assert sum((t[0] for t in want_products.values()), ZERO) == bill.amount
    order = [(-r.total, r.customer.account_id) for r in rows]
    assert order == sorted(order)


@pytest.fixture
def closed(org):
    ingest(MARCH_RECORDS, on(2, month=4))
    services.catch_up(DUE)
    ingest([rec("LATE", "a3", "4.5", on(20)), rec("A2", "a1", "1", on(3, month=4))], on(6, month=4))
    services.catch_up(dt.datetime(2026, 5, 5, tzinfo=SHANGHAI))
    return org


def test_the_close_stores_the_exact_sums_of_the_lines(closed):
    assert Bill.objects.count() == 3
    for bill in Bill.objects.all():
        assert_summaries_match_lines(bill)
    march = bill_of("sp-a")
    rows = list(BillCustomerTotal.objects.filter(bill=march).order_by("position"))
    assert [(r.customer.account_id, r.expenditure, r.refund, r.adjustment, r.tax, r.total) for r in rows] == [
        ("a1", Decimal("107.123456789012345"), Decimal("20.5"), 0, Decimal("3.25"), Decimal("89.873456789012345")),
        ("a3", Decimal("50"), 0, Decimal("-1.25"), 0, Decimal("48.75")),
    ]
    april = BillCustomerTotal.objects.get(bill=bill_of("sp-a", APRIL), customer__account_id="a3")
    assert (april.adjustment, april.total, april.line_count) == (Decimal("4.5"), Decimal("4.5"), 1)  # the correction
    products = BillProductTotal.objects.filter(bill=march, classification="expenditure")
    assert sorted((p.service_name, p.region_id, p.amount, p.line_item_count) for p in products) == [
        ("ECS", "ap-shanghai", Decimal("107.123456789012345"), 2),
        ("Market App", "", Decimal("50"), 1),
    ]


def test_the_breakdowns_read_the_summaries_a_page_at_a_time(closed):
    rows = selectors.by_customer(bill_of("sp-a"))
    assert len(rows) == 2
    assert [r.account_id for r in rows[0:1]] == ["a1"]
    assert [(r.account_id, r.masked_name, r.total) for r in rows[1:50]] == [("a3", "A****d", Decimal("48.75"))]
    assert rows[2:50] == [] and rows[10**9 : 10**9 + 50] == []
    april = selectors.by_product(bill_of("sp-a", APRIL))
    assert [(o.kind, o.corrects_month, o.amount) for o in april.others] == [("correction", MARCH, Decimal("4.5"))]
    assert april.total == bill_of("sp-a", APRIL).amount


def test_sums_beyond_28_digits_stay_exact_and_ties_go_by_account_id():
    big = Decimal("999999999999.999999999999999")  # 27 digits: the default context would round the sums
    lines: list[summaries.Line] = [(None, 1, "cloud", "ECS", "r", "expenditure", big, 1) for _ in range(20)]
    lines += [(None, 2, "cloud", "ECS", "r", "expenditure", big * 2, 1) for _ in range(10)]
    lines += [(None, 3, "cloud", "ECS", "r", "refund", Decimal("-0.000000000000001"), 1)]
    lines += [(MARCH, 3, "cloud", "ECS", "r", "refund", Decimal("0.000000000000001"), 1)]
    exact = Decimal("19999999999999.999999999999980")
    [product_exp, product_refund, product_corr] = sorted(
        summaries.product_totals(lines), key=lambda p: (p.classification, p.corrects_month or dt.date.min)
    )
    assert product_exp.amount == Decimal("39999999999999.999999999999960") and product_exp.line_count == 30
    assert (product_refund.amount, product_corr.amount) == (Decimal("-0.000000000000001"), Decimal("0.000000000000001"))
    customers = summaries.customer_totals(lines, {1: "b", 2: "a", 3: "c"})
    assert [(c.customer_id, c.position, c.total) for c in customers] == [(2, 1, exact), (1, 2, exact), (3, 3, 0)]
    assert (customers[2].refund, customers[2].adjustment) == (
        Decimal("0.000000000000001"),
        Decimal("0.000000000000001"),
    )


def test_the_database_refuses_to_edit_or_delete_a_summary(closed):
    bill = bill_of("sp-a")
    _refused(lambda: BillProductTotal.objects.filter(bill=bill).update(amount=Decimal("1")))
    _refused(lambda: BillProductTotal.objects.filter(bill=bill).delete())
    _refused(lambda: BillCustomerTotal.objects.filter(bill=bill).update(total=Decimal("1")))
    _refused(lambda: BillCustomerTotal.objects.filter(bill=bill).delete())
    assert_summaries_match_lines(bill)


def test_migration_0005_sums_the_bills_written_before_it(org):
    sp_a, a1, a3 = org.partners["sp-a"], org.customers["a1"], org.customers["a3"]
    bill = Bill.objects.create(
        partner=sp_a, month=MARCH, currency="USD", generated_at=DUE, expenditure=Decimal("10.5"), refund=Decimal("2"),
        adjustment=Decimal("1"), tax=0, amount=Decimal("9.5"), line_item_count=4,
    )  # fmt: skip
    for customer, cls, amount, corrects in [
        (a1, "expenditure", "10.5", None),
        (a1, "refund", "-2", None),
        (a3, "expenditure", "1", MARCH - dt.timedelta(days=1)),
        (a3, "adjustment", "0", None),
    ]:
        BillLine.objects.create(
            bill=bill, customer=customer, service_type="cloud", service_name="ECS", region_id="", classification=cls,
            amount=Decimal(amount), line_item_count=1, corrects_month=corrects and corrects.replace(day=1),
        )  # fmt: skip
    import_string("partnercenter.billing.migrations.0005_bill_summaries.summarise_existing_bills")(apps, None)
    assert_summaries_match_lines(bill)
    assert list(
        BillCustomerTotal.objects.filter(bill=bill).order_by("position").values_list("customer_id", "total")
    ) == [
        (a1.pk, Decimal("8.5")),
        (a3.pk, Decimal("1")),
    ]
