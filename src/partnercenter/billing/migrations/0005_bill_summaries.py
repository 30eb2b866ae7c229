"""Each bill's totals per product and per customer, stored once (``billing/summaries.py``): the
bills written before are summed from their lines here, then the new tables refuse UPDATE and
DELETE like the bills themselves (``billing/immutability.py``)."""

from typing import Any

import django.db.models.deletion
import partnercenter.core.money
from django.db import migrations, models


LINE_FIELDS = (
    "corrects_month",
    "customer_id",
    "service_type",
    "service_name",
    "region_id",
    "classification",
    "amount",
    "line_item_count",
)


def summarise_existing_bills(apps: Any, schema_editor: Any) -> None:
    from partnercenter.billing import summaries

    Bill = apps.get_model("billing", "Bill")
    BillLine = apps.get_model("billing", "BillLine")
    ProductTotal = apps.get_model("billing", "BillProductTotal")
    CustomerTotal = apps.get_model("billing", "BillCustomerTotal")
    Customer = apps.get_model("partners", "Customer")
    for bill_id in Bill.objects.order_by("pk").values_list("pk", flat=True).iterator():
        lines = list(BillLine.objects.filter(bill_id=bill_id).values_list(*LINE_FIELDS))
        ids = {line[1] for line in lines}
        account_ids = dict(Customer.objects.filter(pk__in=ids).values_list("pk", "account_id"))
        ProductTotal.objects.bulk_create(
            [ProductTotal(bill_id=bill_id, **p._asdict()) for p in summaries.product_totals(lines)], batch_size=500
        )
        CustomerTotal.objects.bulk_create(
            [CustomerTotal(bill_id=bill_id, **c._asdict()) for c in summaries.customer_totals(lines, account_ids)],
            batch_size=500,
        )


def protect(apps: Any, schema_editor: Any) -> None:
    from partnercenter.billing import immutability

    immutability.install(schema_editor, immutability.SUMMARY_TABLES)


def unprotect(apps: Any, schema_editor: Any) -> None:
    from partnercenter.billing import immutability

    immutability.uninstall(schema_editor, immutability.SUMMARY_TABLES)


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0004_statement_refund_of_bill"),
        ("partners", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="BillProductTotal",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("corrects_month", models.DateField(blank=True, null=True)),
                ("service_type", models.CharField(max_length=16)),
                ("service_name", models.CharField(blank=True, max_length=200)),
                ("region_id", models.CharField(blank=True, max_length=64)),
                ("classification", models.CharField(max_length=16)),
                (
                    "amount",
                    partnercenter.core.money.ExactDecimalField(
                        help_text="Σ amount of the bill's lines with this key (signed)"
                    ),
                ),
                ("line_item_count", models.PositiveIntegerField(help_text="Σ line_item_count of those lines")),
                ("line_count", models.PositiveIntegerField(help_text="how many bill lines")),
                (
                    "bill",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="product_totals", to="billing.bill"
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="BillCustomerTotal",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("position", models.PositiveIntegerField()),
                ("expenditure", partnercenter.core.money.ExactDecimalField()),
                ("refund", partnercenter.core.money.ExactDecimalField(help_text="positive amount returned")),
                ("adjustment", partnercenter.core.money.ExactDecimalField()),
                ("tax", partnercenter.core.money.ExactDecimalField()),
                (
                    "total",
                    partnercenter.core.money.ExactDecimalField(help_text="expenditure − refund + adjustment + tax"),
                ),
                ("line_item_count", models.PositiveIntegerField()),
                ("line_count", models.PositiveIntegerField(help_text="how many bill lines")),
                (
                    "bill",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="customer_totals", to="billing.bill"
                    ),
                ),
                (
                    "customer",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to="partners.customer"
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("bill", "position"), name="bill_customer_position_once"),
                    models.UniqueConstraint(fields=("bill", "customer"), name="bill_customer_once"),
                ],
            },
        ),
        migrations.RunPython(summarise_existing_bills, migrations.RunPython.noop),
        migrations.RunPython(protect, unprotect),
    ]
