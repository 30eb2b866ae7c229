"""Customer bills, reseller view (C1–C7, E8): the customer bill of a month, its confirmations,
each customer's credit as an append-only ledger, credit alerts, and table display settings.

Append-only: a generated customer bill never changes; a confirmation is a new row; every change
of a customer's credit is a new :class:`CreditEntry` with the figures before and after it. The
amount still to be confirmed and the available credit are derived from those rows.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from partnercenter.core.money import ExactDecimalField


class CustomerBill(models.Model):
    """The bill of one customer of a partner for one month in one currency (C1): the sum of the
    customer's line items of the month under the partner's reseller association (the association
    in force when each charge happened). Generated once the month is due (the 5th of the next
    month, like the partner bill), never changed; ``through_line_item_id`` is the ledger watermark
    it was computed from."""

    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey("partners.Customer", on_delete=models.PROTECT, related_name="+")
    month = models.DateField(help_text="first day of the billed month (billing time zone)")
    currency = models.CharField(max_length=3)
    total = ExactDecimalField(help_text="the month's charges; may be zero or negative")
    line_item_count = models.PositiveIntegerField(default=0)
    generated_at = models.DateTimeField()
    through_line_item_id = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["partner", "customer", "month", "currency"], name="customer_bill_once")
        ]
        indexes = [models.Index(fields=["partner", "month", "customer"], name="custbill_partner_month")]
        ordering = ["-month", "customer_id", "currency"]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.month:%Y-%m} {self.currency}"


class Confirmation(models.Model):
    """One confirmation of a customer bill (C5): an amount of it, confirmed by a partner user,
    returning that amount to the customer's available credit in the same transaction. Partial
    confirmations repeat until nothing remains; a batch confirms each of its bills in full."""

    bill = models.ForeignKey(CustomerBill, on_delete=models.PROTECT, related_name="confirmations")
    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="+")
    amount = ExactDecimalField()
    is_full = models.BooleanField(default=False, help_text="confirmed what remained")
    batch = models.CharField(max_length=64, blank=True, help_text="the batch confirmation it was part of")
    confirmed_at = models.DateTimeField()
    confirmed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    idempotency_key = models.CharField(max_length=200, blank=True)
    request_fingerprint = models.CharField(max_length=64, blank=True)

    class Meta:
        constraints = [
            # A batch shares its key across its bills; a single confirmation has it alone.
            models.UniqueConstraint(
                fields=["partner", "idempotency_key", "bill"],
                condition=~models.Q(idempotency_key=""),
                name="confirmation_idempotency_once",
            )
        ]


class CreditKind(models.TextChoices):
    GRANT = "grant", _("Grant")
    RECLAIM = "reclaim", _("Reclaim")
    CONSUMPTION = "consumption", _("Consumption")
    CONFIRMATION = "confirmation", _("Bill confirmation")


class CreditEntry(models.Model):
    """One change of a customer's credit with its partner in one currency (C7, E8): the
    adjustment records. Grants raise and reclaims lower the limit; consumption (a customer bill
    generated) raises the used credit; a bill confirmation lowers it. Available = limit − used,
    stored before and after every entry and checked against the running sums by the tests."""

    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey("partners.Customer", on_delete=models.PROTECT, related_name="+")
    currency = models.CharField(max_length=3)
    kind = models.CharField(max_length=16, choices=CreditKind.choices)
    amount = ExactDecimalField(help_text="positive: the size of the grant, reclaim, consumption or confirmation")
    limit_after = ExactDecimalField()
    used_after = ExactDecimalField()
    available_before = ExactDecimalField()
    available_after = ExactDecimalField()
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    remark = models.CharField(max_length=500, blank=True)
    bill = models.ForeignKey(CustomerBill, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    confirmation = models.OneToOneField(
        Confirmation, null=True, blank=True, on_delete=models.PROTECT, related_name="credit_entry"
    )
    idempotency_key = models.CharField(max_length=200, blank=True)
    request_fingerprint = models.CharField(max_length=64, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="credit_idempotency_once",
            ),
            models.UniqueConstraint(
                fields=["bill"],
                condition=models.Q(kind="consumption"),
                name="credit_consumption_once_per_bill",
            ),
        ]
        indexes = [
            models.Index(fields=["partner", "customer", "currency", "id"], name="credit_account"),
            models.Index(fields=["partner", "created_at"], name="credit_partner_time"),
        ]


class CreditAlert(models.Model):
    """Available credit fell to or below a threshold (a percentage of the limit; 25, 10 and 0 by
    default) with this entry: raised once per crossing, for the operations' customer alerts."""

    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey("partners.Customer", on_delete=models.PROTECT, related_name="+")
    currency = models.CharField(max_length=3)
    threshold_percent = models.PositiveSmallIntegerField()
    available = ExactDecimalField()
    limit = ExactDecimalField()
    entry = models.ForeignKey(CreditEntry, on_delete=models.PROTECT, related_name="alerts")
    raised_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["partner", "raised_at"], name="creditalert_partner_time")]


class TableSetting(models.Model):
    """A user's saved display fields of a table (C3, "Save selected"): the chosen fields in order.
    An unsaved choice lives in the browser session only."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    table = models.CharField(max_length=32)
    fields = models.JSONField(default=list)
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "table"], name="table_setting_once")]


class GeneratedMonth(models.Model):
    """The customer bills of this month were generated (once, under the ingestion lock): the
    catch-up that runs every minute asks here instead of grouping the month's line items again,
    including for months that had no customer bill at all."""

    month = models.DateField(unique=True)
    generated_at = models.DateTimeField()
    through_line_item_id = models.BigIntegerField(default=0)
    bills = models.PositiveIntegerField(default=0)
