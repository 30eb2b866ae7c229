"""Bills made directly in the tables (Bill, BillLine, Invoice, and the stored summaries) for the
document and export tests."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.apps import apps as django_apps
from django.utils.module_loading import import_string

from partnercenter.accounts import services as account_services
from partnercenter.billing.models import Bill, BillLine, Invoice
from partnercenter.core import clock
from partnercenter.partners import services as partner_services
from partnercenter.partners.models import Customer
from tests.conftest import PASSWORD, T0, Org

# Figures chosen so that each one rounds half up at the third decimal or beyond.
FIGURES = {
    "expenditure": Decimal("1234.565"),
    "refund": Decimal("10.005"),
    "adjustment": Decimal("-0.125"),
    "tax": Decimal("74.0739"),
    "amount": Decimal("1298.5089"),
}
# (customer, service type, product, region, classification, amount, line items, corrects month)
LINES = [
    ("lt1", "cloud", "云服务器", "cn-north-1", "expenditure", Decimal("1000.565"), 3, None),
    ("lt2", "cloud", "Object Storage", "cn-east-2", "expenditure", Decimal("234.000"), 2, None),
    ("lt1", "cloud", "云服务器", "cn-north-1", "refund", Decimal("-10.005"), 1, None),
    ("lt2", "marketplace", "Security Scan", "", "adjustment", Decimal("-0.125"), 1, dt.date(2026, 1, 1)),
    ("lt1", "cloud", "云服务器", "cn-north-1", "tax", Decimal("74.0739"), 1, None),
]


@dataclass
class Bills:
    feb: Bill  # positive, with an invoice
    jan: Bill  # negative, no invoice
    other: Bill  # another partner's (sp-a)
    customers: dict[str, Customer]


def _bill(partner, month: dt.date, **figures: Decimal) -> Bill:
    return Bill.objects.create(
        partner=partner,
        month=month,
        currency="CNY",
        generated_at=dt.datetime(month.year, month.month, 28, 20, 0, tzinfo=dt.UTC),
        after_line_item_id=0,
        through_line_item_id=100,
        line_item_count=sum(n for *_x, n, _c in LINES),
        **figures,
    )


def make_bills(org: Org) -> Bills:
    with clock.frozen_at(T0 - dt.timedelta(days=90)):
        partner = partner_services.create_partner(code="bluesky", name="蓝天云科技", kind="solution_provider")
        for role in ("admin", "finance", "operator"):
            org.users[f"bluesky-{role}"] = account_services.create_user(
                username=f"bluesky-{role}", password=PASSWORD, partner_code="bluesky", role=role
            )
    customers = {}
    with clock.frozen_at(T0 - dt.timedelta(days=60)):
        for account_id, name in (("lt1", "张小明"), ("lt2", "Bright Future Ltd")):
            customers[account_id] = partner_services.create_customer(
                account_id=account_id,
                name=name,
                partner_code="bluesky",
                association_type="reseller",
                valid_from=T0 - dt.timedelta(days=60),
            )
    feb = _bill(partner, dt.date(2026, 2, 1), **FIGURES)
    for account_id, service_type, product, region, classification, amount, count, corrects in LINES:
        BillLine.objects.create(
            bill=feb,
            customer=customers[account_id],
            service_type=service_type,
            service_name=product,
            region_id=region,
            classification=classification,
            amount=amount,
            line_item_count=count,
            corrects_month=corrects,
        )
    Invoice.objects.create(bill=feb, issuer="partnercenter", number="PC-2026-000042", issued_at=feb.generated_at)
    zero = Decimal(0)
    jan = _bill(
        partner,
        dt.date(2026, 1, 1),
        expenditure=zero,
        refund=Decimal("5.5"),
        adjustment=zero,
        tax=zero,
        amount=Decimal("-5.5"),
    )
    BillLine.objects.create(
        bill=jan,
        customer=customers["lt1"],
        service_type="cloud",
        service_name="云服务器",
        classification="refund",
        amount=Decimal("-5.5"),
        line_item_count=1,
    )
    other = _bill(
        org.partners["sp-a"],
        dt.date(2026, 2, 1),
        expenditure=Decimal("7"),
        refund=zero,
        adjustment=zero,
        tax=zero,
        amount=Decimal("7"),
    )
    BillLine.objects.create(
        bill=other,
        customer=org.customers["a1"],
        service_type="cloud",
        service_name="云服务器",
        classification="expenditure",
        amount=Decimal("7"),
        line_item_count=1,
    )
    Invoice.objects.create(bill=other, issuer="partnercenter", number="PC-2026-000043", issued_at=other.generated_at)
    # The close stores each bill's totals by product and by customer with its lines: so here.
    import_string("partnercenter.billing.migrations.0005_bill_summaries.summarise_existing_bills")(django_apps, None)
    return Bills(feb=feb, jan=jan, other=other, customers=customers)
