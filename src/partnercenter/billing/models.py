"""Partner bills (B1–B9): bills and their lines, invoices, the estimate, the prepaid account
statement, payments and third-party payment agreements.

Everything here is append-only. A generated bill and its lines never change: late line items for
a closed month are carried as correction lines on the next bill generated, with the month they
correct. A bill's paid / partly paid / unpaid state is derived from its payment allocations and
the prepaid balance from the statement entries; neither is stored as a mutable field.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from partnercenter.core.money import ExactDecimalField


class Bill(models.Model):
    """The partner bill of one month in one currency (B1, B2, B5).

    It holds the charges of the partner's reseller-model customers (association in force at charge
    time) of ``month`` — line items with ``through_line_item_id`` or lower — plus the corrections
    for already-closed months that arrived since the previous bill (line items with an id in
    ``(after_line_item_id, through_line_item_id]`` flagged ``is_correction``). The figures are the
    sums of its lines, stored once at generation.
    """

    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="bills")
    month = models.DateField(help_text="first day of the billed month (billing time zone)")
    currency = models.CharField(max_length=3)
    generated_at = models.DateTimeField()
    # The ledger watermark the bill was computed from (ingestion is serialised, so ids are in
    # commit order): together with the lines' keys it traces every figure to its line items.
    after_line_item_id = models.BigIntegerField(default=0)
    through_line_item_id = models.BigIntegerField(default=0)
    expenditure = ExactDecimalField()
    refund = ExactDecimalField(help_text="positive amount returned")
    adjustment = ExactDecimalField()
    tax = ExactDecimalField()
    amount = ExactDecimalField(help_text="expenditure − refund + adjustment + tax; may be negative")
    line_item_count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["partner", "month", "currency"], name="bill_once")]
        ordering = ["-month", "currency"]

    def __str__(self) -> str:
        return f"{self.partner_id} {self.month:%Y-%m} {self.currency}"


class BillLine(models.Model):
    """One GROUP BY row of a bill: (customer, product, region, classification), or the same for a
    correction of an earlier month carried on this bill (``corrects_month`` set)."""

    bill = models.ForeignKey(Bill, on_delete=models.PROTECT, related_name="lines")
    corrects_month = models.DateField(null=True, blank=True)
    customer = models.ForeignKey("partners.Customer", on_delete=models.PROTECT, related_name="+")
    service_type = models.CharField(max_length=16)
    service_name = models.CharField(max_length=200, blank=True)
    region_id = models.CharField(max_length=64, blank=True)
    classification = models.CharField(max_length=16)
    amount = ExactDecimalField(help_text="Σ BilledCost of the line items (signed)")
    line_item_count = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=["bill", "customer"], name="billline_bill_customer")]


class BillProductTotal(models.Model):
    """The sum of a bill's lines per product, region, classification and corrected month, written
    once in the closing transaction with the lines (B7 by product reads these, never the lines)."""

    bill = models.ForeignKey(Bill, on_delete=models.PROTECT, related_name="product_totals")
    corrects_month = models.DateField(null=True, blank=True)
    service_type = models.CharField(max_length=16)
    service_name = models.CharField(max_length=200, blank=True)
    region_id = models.CharField(max_length=64, blank=True)
    classification = models.CharField(max_length=16)
    amount = ExactDecimalField(help_text="Σ amount of the bill's lines with this key (signed)")
    line_item_count = models.PositiveIntegerField(help_text="Σ line_item_count of those lines")
    line_count = models.PositiveIntegerField(help_text="how many bill lines")


class BillCustomerTotal(models.Model):
    """One customer's figures on a bill (B7 by customer), written once in the closing transaction
    with the lines: the sums of the customer's lines per classification (a carried correction
    counts as an adjustment, as on the bill). ``position`` is the customer's rank on the bill,
    largest total first, then account id (1, 2, …, no gaps), so that a page of the breakdown is a
    range of positions."""

    bill = models.ForeignKey(Bill, on_delete=models.PROTECT, related_name="customer_totals")
    customer = models.ForeignKey("partners.Customer", on_delete=models.PROTECT, related_name="+")
    position = models.PositiveIntegerField()
    expenditure = ExactDecimalField()
    refund = ExactDecimalField(help_text="positive amount returned")
    adjustment = ExactDecimalField()
    tax = ExactDecimalField()
    total = ExactDecimalField(help_text="expenditure − refund + adjustment + tax")
    line_item_count = models.PositiveIntegerField()
    line_count = models.PositiveIntegerField(help_text="how many bill lines")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["bill", "position"], name="bill_customer_position_once"),
            models.UniqueConstraint(fields=["bill", "customer"], name="bill_customer_once"),
        ]


class InvoiceSequence(models.Model):
    """The next invoice number of one issuer; taken under a row lock so numbers have no gaps and no
    duplicates (B6)."""

    issuer = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=16)
    next_number = models.PositiveBigIntegerField(default=1)


class Invoice(models.Model):
    """The invoice of a generated bill with a positive amount (B6)."""

    bill = models.OneToOneField(Bill, on_delete=models.PROTECT, related_name="invoice")
    issuer = models.CharField(max_length=64)
    number = models.CharField(max_length=32)
    issued_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["issuer", "number"], name="invoice_number_once")]


class BillEstimate(models.Model):
    """The current month's estimate (B3), refreshed daily by the worker: excluding tax, without
    coupon deduction. Each refresh is a new row; the latest is shown with its as-of time."""

    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="+")
    month = models.DateField()
    currency = models.CharField(max_length=3)
    as_of = models.DateTimeField(help_text="data complete up to this moment (E2)")
    computed_at = models.DateTimeField()
    expenditure = ExactDecimalField()
    refund = ExactDecimalField()
    adjustment = ExactDecimalField()
    amount = ExactDecimalField(help_text="expenditure − refund + adjustment (no tax)")

    class Meta:
        indexes = [models.Index(fields=["partner", "month", "-computed_at"], name="estimate_latest")]


class StatementEntryKind(models.TextChoices):
    TOP_UP = "top_up", _("Top-up")
    PAYMENT = "payment", _("Bill payment")
    REFUND = "refund", _("Refund to balance")


class StatementEntry(models.Model):
    """One movement of a partner's prepaid balance (B9): the account statement. ``balance_after``
    is checked against the running sum of ``amount``."""

    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="+")
    currency = models.CharField(max_length=3)
    kind = models.CharField(max_length=16, choices=StatementEntryKind.choices)
    amount = ExactDecimalField(help_text="signed: top-ups positive, payments negative")
    balance_after = ExactDecimalField()
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    remark = models.CharField(max_length=500, blank=True)
    # A top-up repeated with the same key answers the first entry (payment_services.top_up).
    idempotency_key = models.CharField(max_length=200, blank=True)
    request_fingerprint = models.CharField(max_length=64, blank=True)
    # A refund to balance names the negative bill whose amount it returns, once (B5).
    bill = models.ForeignKey(Bill, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="statement_idempotency_once",
            ),
            models.UniqueConstraint(
                fields=["bill"], condition=models.Q(bill__isnull=False), name="statement_refund_of_bill_once"
            ),
        ]
        indexes = [models.Index(fields=["partner", "currency", "id"], name="statement_partner_currency")]


class PaymentMethod(models.TextChoices):
    BALANCE = "balance", _("Prepaid balance")
    BANK_TRANSFER = "bank_transfer", _("Bank transfer")


class AgreementStatus(models.TextChoices):
    PENDING = "pending", _("Pending approval")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")


class PrincipalType(models.TextChoices):
    COMPANY = "company", _("Company")
    INDIVIDUAL = "individual", _("Individual")


class PaymentAgreement(models.Model):
    """A third-party payment agreement (代付协议, seed 002): lets the named principal pay the
    partner's bills by bank transfer."""

    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="+")
    principal = models.CharField(max_length=200)
    principal_type = models.CharField(max_length=16, choices=PrincipalType.choices)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")


class PaymentAgreementDecision(models.Model):
    """A state transition of an agreement (append-only); the agreement's status is its latest."""

    agreement = models.ForeignKey(PaymentAgreement, on_delete=models.PROTECT, related_name="decisions")
    status = models.CharField(max_length=16, choices=AgreementStatus.choices)
    decided_at = models.DateTimeField()
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    remark = models.CharField(max_length=500, blank=True)


class Payment(models.Model):
    """Money received for the partner's bills, from the prepaid balance or by bank transfer."""

    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="+")
    currency = models.CharField(max_length=3)
    method = models.CharField(max_length=16, choices=PaymentMethod.choices)
    amount = ExactDecimalField()
    payer_name = models.CharField(max_length=200, blank=True)
    agreement = models.ForeignKey(PaymentAgreement, null=True, blank=True, on_delete=models.PROTECT)
    statement_entry = models.OneToOneField(StatementEntry, null=True, blank=True, on_delete=models.PROTECT)
    idempotency_key = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # What was asked (digest), so that a repeated Idempotency-Key with another request is a 409.
    request_fingerprint = models.CharField(max_length=64, blank=True)
    # Bank transfers: the bank's reference (once per partner) and the day the money arrived.
    reference = models.CharField(max_length=100, blank=True)
    received_on = models.DateField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="payment_idempotency_once",
            ),
            models.UniqueConstraint(
                fields=["partner", "reference"],
                condition=~models.Q(reference=""),
                name="payment_reference_once",
            ),
        ]


class PaymentAllocation(models.Model):
    """The part of a payment applied to one bill."""

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="allocations")
    bill = models.ForeignKey(Bill, on_delete=models.PROTECT, related_name="allocations")
    amount = ExactDecimalField()
