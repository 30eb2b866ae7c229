"""Rated line items (shaped after FOCUS 1.2 plus our ``x_`` fields), ingestion batches,
daily rollups and data freshness."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from partnercenter.core.money import ExactDecimalField


class Classification(models.TextChoices):
    EXPENDITURE = "expenditure", _("Expenditure")
    REFUND = "refund", _("Refund")
    ADJUSTMENT = "adjustment", _("Adjustment")
    TAX = "tax", _("Tax")


class ServiceType(models.TextChoices):
    CLOUD = "cloud", _("Cloud service")
    MARKETPLACE = "marketplace", _("Marketplace")


class BillingMode(models.TextChoices):
    PREPAID_YEARLY = "prepaid_yearly", _("Yearly (prepaid)")
    PREPAID_MONTHLY = "prepaid_monthly", _("Monthly (prepaid)")
    PAY_PER_USE = "pay_per_use", _("Pay-per-use")
    BANDWIDTH_95 = "monthly_95th_bandwidth", _("Monthly 95th percentile bandwidth")
    OTHER = "other", _("Other")


class IngestBatch(models.Model):
    """One accepted batch. A rejected batch writes nothing, so it has no row (its report goes
    back to the caller)."""

    source = models.CharField(max_length=100)
    file_name = models.CharField(max_length=500, blank=True)
    format = models.CharField(max_length=16)
    checksum = models.CharField(max_length=64, help_text="SHA-256 of the input bytes")
    status = models.CharField(max_length=16, default="accepted")
    rows_total = models.PositiveIntegerField(default=0)
    rows_new = models.PositiveIntegerField(default=0)
    rows_present = models.PositiveIntegerField(default=0)
    rows_corrections = models.PositiveIntegerField(default=0)
    # {"USD": {"expenditure": "12.5", "refund": "0", ...}} over the batch's new rows, exact strings.
    totals = models.JSONField(default=dict)
    errors = models.JSONField(default=list, blank=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "ingest batches"

    def __str__(self) -> str:
        return f"#{self.pk} {self.source} {self.file_name}"


class LineItem(models.Model):
    """One rated charge. Append-only: corrections arrive as new rows."""

    # 16-byte digest of the row's identity (native line id, or FOCUS identifying columns).
    identity = models.BinaryField(max_length=16, unique=True)
    # No single-column indexes on the foreign keys (each would be written for every row ingested):
    # no read selects line items by batch (batches are never deleted), and the (customer, day) and
    # (partner, day) indexes below serve every read by customer or partner. No database constraint
    # either: ingestion resolves every row's customer and partner before writing, and PostgreSQL's
    # deferred checks cost more at COMMIT than the insert itself (migration 0007).
    batch = models.ForeignKey(
        IngestBatch, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    customer = models.ForeignKey(
        "partners.Customer", on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    # The partner and association in force when the charge happened.
    partner = models.ForeignKey(
        "partners.Partner", on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    association_type = models.CharField(max_length=16)

    charge_period_start = models.DateTimeField()
    charge_period_end = models.DateTimeField()
    charge_day = models.DateField(help_text="ChargePeriodStart's day in the billing time zone")
    charge_month = models.DateField(help_text="first day of ChargePeriodStart's month in the billing time zone")
    billing_period_start = models.DateTimeField(null=True, blank=True)
    billing_period_end = models.DateTimeField(null=True, blank=True)

    charge_category = models.CharField(max_length=16)
    charge_class = models.CharField(max_length=16, blank=True)
    classification = models.CharField(max_length=16, choices=Classification.choices)
    charge_description = models.CharField(max_length=500, blank=True)
    charge_frequency = models.CharField(max_length=32, blank=True)
    pricing_category = models.CharField(max_length=32, blank=True)

    billed_cost = ExactDecimalField()
    list_cost = ExactDecimalField(null=True, blank=True)
    effective_cost = ExactDecimalField(null=True, blank=True)
    billing_currency = models.CharField(max_length=3)
    pricing_quantity = ExactDecimalField(null=True, blank=True)
    pricing_unit = models.CharField(max_length=64, blank=True)

    provider_name = models.CharField(max_length=100, blank=True)
    publisher_name = models.CharField(max_length=100, blank=True)
    service_type = models.CharField(max_length=16, choices=ServiceType.choices)
    service_name = models.CharField(max_length=200, blank=True)
    service_category = models.CharField(max_length=100, blank=True)
    sku_id = models.CharField(max_length=200, blank=True)
    region_id = models.CharField(max_length=64, blank=True)
    region_name = models.CharField(max_length=100, blank=True)
    resource_id = models.CharField(max_length=500, blank=True)
    resource_name = models.CharField(max_length=200, blank=True)
    resource_type = models.CharField(max_length=100, blank=True)

    x_project = models.CharField(max_length=100, blank=True)
    x_billing_mode = models.CharField(max_length=32, choices=BillingMode.choices)
    x_order_id = models.CharField(max_length=100, blank=True)
    x_line_id = models.CharField(max_length=200, blank=True)
    is_correction = models.BooleanField(default=False)
    # The row's number in its batch, as errors name it (CSV: the header is row 1); unknown for rows
    # stored before it was kept. Lets a clashing line id name the row it clashes with.
    source_row = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["customer", "charge_day"], name="lineitem_customer_day"),
            models.Index(fields=["partner", "charge_day"], name="lineitem_partner_day"),
        ]


class DailyRollup(models.Model):
    """Sum of line items per day and key, maintained in the ingesting transaction."""

    day = models.DateField()
    # No database constraints on the foreign keys, as on line items: rollups are derived from line
    # items whose customer and partner ingestion has resolved, and PostgreSQL's deferred checks of
    # a batch's rollups (two per row) cost more at COMMIT than writing them (migration 0008).
    # Indexed alone: account managers' reads select a customer's rollups without a day.
    customer = models.ForeignKey("partners.Customer", on_delete=models.PROTECT, related_name="+", db_constraint=False)
    # The (partner, day) index serves reads by partner.
    partner = models.ForeignKey(
        "partners.Partner", on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    association_type = models.CharField(max_length=16)
    service_name = models.CharField(max_length=200)
    service_type = models.CharField(max_length=16)
    region_id = models.CharField(max_length=64)
    x_project = models.CharField(max_length=100)
    x_billing_mode = models.CharField(max_length=32)
    classification = models.CharField(max_length=16)
    currency = models.CharField(max_length=3)
    amount = ExactDecimalField()
    line_count = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "day",
                    "customer",
                    "partner",
                    "association_type",
                    "service_name",
                    "service_type",
                    "region_id",
                    "x_project",
                    "x_billing_mode",
                    "classification",
                    "currency",
                ],
                name="daily_rollup_key",
            )
        ]
        indexes = [models.Index(fields=["partner", "day"], name="rollup_partner_day")]


class Freshness(models.Model):
    """Up to when usage is complete, per source: everything before ``complete_until`` (exclusive,
    UTC) has been ingested."""

    source = models.CharField(max_length=100, unique=True)
    complete_until = models.DateTimeField()
    updated_at = models.DateTimeField()


class ClosedMonth(models.Model):
    """A partner's month whose partner bill has been generated: later rows for it are corrections
    that the next bill carries (rule B2). Written by billing when it generates a bill."""

    # The unique (partner, month) index serves reads by partner.
    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="+", db_index=False)
    month = models.DateField()
    closed_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["partner", "month"], name="closed_month_once")]


class CustomerTotalKey(models.Model):
    """One line of the expenditure summary: a customer under a partner and association type (as in
    force at charge time), in one currency."""

    # The unique key leads with the customer and ctk_partner_customer with the partner: no
    # single-column indexes needed.
    customer = models.ForeignKey("partners.Customer", on_delete=models.PROTECT, related_name="+", db_index=False)
    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="+", db_index=False)
    association_type = models.CharField(max_length=16)
    currency = models.CharField(max_length=3)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "partner", "association_type", "currency"], name="customer_total_key"
            )
        ]
        indexes = [models.Index(fields=["partner", "customer"], name="ctk_partner_customer")]


class CustomerRunningTotal(models.Model):
    """Running totals of one :class:`CustomerTotalKey` from its first charge through ``day``
    (billing time zone), written for each day the key has charges.

    The total over [d1, d2] is the latest row on or before d2 minus the latest row before d1: two
    index seeks per customer, however long the period, so the summary stays fast on millions of
    line items. Amounts are split integers (core.money.split): subtraction and sums are exact
    integer arithmetic in SQL. Maintained by ingestion in the same transaction (usage/running.py).
    """

    # The unique (key, day) index serves every read by key. No database constraint: ingestion
    # writes each key before its days in the same statement sequence (running.finish), and the
    # deferred check of every day written cost seconds at COMMIT (migration 0008).
    key = models.ForeignKey(
        CustomerTotalKey, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    day = models.DateField()
    expenditure_units = models.BigIntegerField(default=0)
    expenditure_hi = models.BigIntegerField(default=0)
    expenditure_lo = models.BigIntegerField(default=0)
    refund_units = models.BigIntegerField(default=0)
    refund_hi = models.BigIntegerField(default=0)
    refund_lo = models.BigIntegerField(default=0)
    adjustment_units = models.BigIntegerField(default=0)
    adjustment_hi = models.BigIntegerField(default=0)
    adjustment_lo = models.BigIntegerField(default=0)
    tax_units = models.BigIntegerField(default=0)
    tax_hi = models.BigIntegerField(default=0)
    tax_lo = models.BigIntegerField(default=0)
    line_count = models.BigIntegerField(default=0)

    CLASSES = ("expenditure", "refund", "adjustment", "tax")
    VALUE_FIELDS = tuple(f"{c}_{p}" for c in CLASSES for p in ("units", "hi", "lo")) + ("line_count",)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["key", "day"], name="customer_running_total_day")]


class LedgerVersion(models.Model):
    """A counter that every accepted ingestion batch increments in its own transaction. Readers
    key caches of derived figures on it (a cached summary is valid while the version holds)."""

    version = models.BigIntegerField(default=0)


class ResourceMonth(models.Model):
    """One resource's month: the Bill by Instance row of customer bills (C2).

    Derived from the line items of ``month`` charged on or before ``through_day`` (the whole month
    once it is over; up to yesterday for the current month), grouped by customer and resource.
    Rebuilt per month by ``usage.services.build_resource_months`` when the ledger has moved since
    the last build (``ResourceMonthBuild``), so the page reads stored rows instead of grouping a
    month of line items per request. A cache of the ledger, never history: rebuilding replaces it.
    """

    month = models.DateField(help_text="first day of the month (billing time zone)")
    # resmonth_partner_month serves reads by partner.
    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="+", db_index=False)
    association_type = models.CharField(max_length=16)
    customer = models.ForeignKey("partners.Customer", on_delete=models.PROTECT, related_name="+")
    currency = models.CharField(max_length=3)
    service_type = models.CharField(max_length=16)
    service_name = models.CharField(max_length=200, blank=True)
    x_project = models.CharField(max_length=100, blank=True)
    region_id = models.CharField(max_length=64, blank=True)
    resource_id = models.CharField(max_length=500, blank=True)
    resource_name = models.CharField(max_length=200, blank=True)
    x_billing_mode = models.CharField(max_length=32)
    expenditure = ExactDecimalField()
    refund = ExactDecimalField(help_text="positive amount returned")
    adjustment = ExactDecimalField()
    tax = ExactDecimalField()
    amount = ExactDecimalField(help_text="expenditure − refund + adjustment + tax")
    line_item_count = models.PositiveIntegerField(default=0)
    first_day = models.DateField()
    last_day = models.DateField()

    class Meta:
        indexes = [
            models.Index(fields=["partner", "month", "customer", "id"], name="resmonth_partner_month"),
            models.Index(fields=["month"], name="resmonth_month"),
        ]


class ResourceMonthBuild(models.Model):
    """When a month's :class:`ResourceMonth` rows were built, from which ledger version and
    through which day: a build is current while both still hold."""

    month = models.DateField(unique=True)
    ledger_version = models.BigIntegerField()
    through_day = models.DateField()
    built_at = models.DateTimeField()
    rows = models.PositiveIntegerField(default=0)
