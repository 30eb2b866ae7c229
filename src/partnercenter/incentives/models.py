"""Incentives (I1–I9): programs and their rates, who is enrolled, the incentives generated per
reconciliation period with one detail line per customer and order, the recorded state
transitions, partners' feedback on lines, and payout applications.

Append-only: a generated incentive and its lines never change. Its state is the last of its
:class:`Transition` rows (``Incentive.state`` is a copy, checked against them); a refund after an
incentive was generated is a new *clawback* incentive in a later period, never an edit. An
estimate (the current period so far) is a new :class:`Estimate` row each time it is recomputed.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from partnercenter.core.money import ExactDecimalField


class PeriodKind(models.TextChoices):
    MONTHLY = "monthly", _("Monthly")
    QUARTERLY = "quarterly", _("Quarterly")


class Program(models.Model):
    """An incentive program (policy): which expenditure is eligible and at what rate (I1)."""

    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, help_text="the policy as partners read it")
    period = models.CharField(max_length=16, choices=PeriodKind.choices)
    currency = models.CharField(max_length=3)
    # Eligibility: the association type of the charge (reseller or referral), and the service
    # types (cloud, marketplace) and product types (LineItem.service_category) it covers; an
    # empty list means every one.
    association_type = models.CharField(max_length=16)
    service_types = models.JSONField(default=list, blank=True)
    product_types = models.JSONField(default=list, blank=True)
    # The partner kinds the program was opened to (enrolments are still one row per partner).
    partner_kinds = models.JSONField(default=list, blank=True)
    confirmation_days = models.PositiveSmallIntegerField(default=10, help_text="days after generation to confirm")
    valid_from = models.DateField(help_text="first day of the first reconciliation period")
    valid_to = models.DateField(null=True, blank=True, help_text="last day of the last period, if it ends")
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class Rate(models.Model):
    """A rate of a program for one product type ('' = every product type without its own rate),
    from a tier: it applies when the partner's eligible expenditure of the period is at least
    ``min_base``. The highest tier reached applies to the whole period."""

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="rates")
    product_type = models.CharField(max_length=100, blank=True)
    min_base = ExactDecimalField(default=0)
    rate = ExactDecimalField(help_text="a fraction: 0.05 is 5 %")

    class Meta:
        ordering = ["program_id", "product_type", "min_base"]
        constraints = [
            models.UniqueConstraint(fields=["program", "product_type", "min_base"], name="incentive_rate_once")
        ]


class Enrolment(models.Model):
    """A partner in a program over [joined_at, left_at). Leaving starts the one year after which
    its issued incentives expire (I8)."""

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="enrolments")
    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="+")
    joined_at = models.DateTimeField()
    left_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["program", "partner"], condition=Q(left_at__isnull=True), name="incentive_enrolment_open_once"
            )
        ]


class State(models.TextChoices):
    ESTIMATED = "estimated", _("Estimated")
    PENDING = "pending_confirmation", _("Pending confirmation")
    ISSUING = "issuing", _("Issuing")
    ISSUED = "issued", _("Issued")
    EXPIRED = "expired", _("Expired")


# The only transitions there are (I2, I8): from → to. "" is the generation itself.
TRANSITIONS: dict[str, str] = {
    "": State.PENDING,
    State.PENDING: State.ISSUING,
    State.ISSUING: State.ISSUED,
    State.ISSUED: State.EXPIRED,
}


class IncentiveKind(models.TextChoices):
    EARNING = "earning", _("Earning")
    CLAWBACK = "clawback", _("Negative incentive")


class Incentive(models.Model):
    """One partner's incentive of one program for one reconciliation period and currency: an
    earning, or a clawback (negative incentive) for refunds of orders already rewarded. Its amount
    is the sum of its lines. Generated once the period is due, never changed."""

    number = models.CharField(max_length=32, unique=True, help_text="the incentive ID: INC-YYYYMM-nnnnnn")
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="incentives")
    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="+")
    period_start = models.DateField(help_text="first day of the reconciliation period")
    period_end = models.DateField(help_text="first day after the period")
    currency = models.CharField(max_length=3)
    association_type = models.CharField(max_length=16)
    kind = models.CharField(max_length=16, choices=IncentiveKind.choices)
    base_amount = ExactDecimalField(help_text="eligible expenditure (negative for a clawback)")
    amount = ExactDecimalField(help_text="Σ lines' amounts")
    line_count = models.PositiveIntegerField(default=0)
    generated_at = models.DateTimeField()
    deadline = models.DateTimeField(help_text="confirmed automatically from this instant on (I3)")
    through_line_item_id = models.BigIntegerField(default=0, help_text="ledger watermark it was computed from")
    state = models.CharField(max_length=24, choices=State.choices, help_text="copy of the last transition's")
    issued_at = models.DateTimeField(null=True, blank=True, help_text="valid from here (I8)")

    class Meta:
        ordering = ["-period_start", "program_id", "partner_id", "kind"]
        constraints = [
            models.UniqueConstraint(
                fields=["program", "partner", "period_start", "currency", "kind"], name="incentive_once"
            )
        ]
        indexes = [models.Index(fields=["partner", "period_start"], name="incentive_partner_period")]

    def __str__(self) -> str:
        return self.number


class Line(models.Model):
    """One incentive detail line (I5): a customer's order of one product type, its eligible base,
    the rate applied and the amount, ``round_minor(base × rate)``."""

    incentive = models.ForeignKey(Incentive, on_delete=models.PROTECT, related_name="lines")
    customer = models.ForeignKey("partners.Customer", on_delete=models.PROTECT, related_name="+")
    order_id = models.CharField(max_length=100, blank=True)
    service_type = models.CharField(max_length=16, blank=True)
    product_type = models.CharField(max_length=100, blank=True)
    base_amount = ExactDecimalField()
    rate = ExactDecimalField()
    amount = ExactDecimalField()
    line_item_count = models.PositiveIntegerField(default=0)
    # A clawback line names the period of the earning it takes back.
    corrects_period = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["incentive_id", "customer_id", "order_id", "product_type"]
        indexes = [models.Index(fields=["incentive", "customer"], name="incentive_line_customer")]


class Transition(models.Model):
    """One recorded state change (I2): who, when, from, to and why. One per incentive and
    from-state, so two confirmations racing each other cannot both happen."""

    incentive = models.ForeignKey(Incentive, on_delete=models.PROTECT, related_name="transitions")
    from_state = models.CharField(max_length=24, blank=True)
    to_state = models.CharField(max_length=24)
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["incentive_id", "at", "id"]
        constraints = [models.UniqueConstraint(fields=["incentive", "from_state"], name="incentive_transition_once")]


class Estimate(models.Model):
    """The current period so far for one program, partner and currency (state Estimated),
    recomputed by the worker; the latest row is the one shown."""

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="+")
    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="+")
    period_start = models.DateField()
    period_end = models.DateField()
    currency = models.CharField(max_length=3)
    base_amount = ExactDecimalField()
    amount = ExactDecimalField()
    line_count = models.PositiveIntegerField(default=0)
    as_of = models.DateTimeField()
    computed_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["partner", "period_start", "-computed_at"], name="incentive_estimate_latest")]


class Feedback(models.Model):
    """A partner's feedback (dispute) on a detail line, or an operator's answer to one."""

    line = models.ForeignKey(Line, on_delete=models.PROTECT, related_name="feedback")
    reply_to = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="replies")
    text = models.TextField(max_length=2000)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    idempotency_key = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["line_id", "created_at", "id"]


class ApplicationState(models.TextChoices):
    SUBMITTED = "submitted", _("Under review")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")


class PayoutMethod(models.TextChoices):
    BALANCE = "balance", _("Top up the prepaid balance")
    PAID_OUT = "paid_out", _("Paid out")


class Application(models.Model):
    """A payout application (I7): selected issued earnings with every open negative incentive of
    the partner and currency; ``amount = positive_total + negative_total`` (the negative total is
    ≤ 0) and is never negative. Its state is its decision's, if any."""

    number = models.CharField(max_length=32, unique=True)
    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="+")
    currency = models.CharField(max_length=3)
    positive_total = ExactDecimalField()
    negative_total = ExactDecimalField()
    amount = ExactDecimalField()
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    idempotency_key = models.CharField(max_length=200, blank=True)
    request_fingerprint = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="incentive_application_idempotency_once",
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name="incentive_application_not_negative"),
        ]


class ApplicationItem(models.Model):
    application = models.ForeignKey(Application, on_delete=models.PROTECT, related_name="items")
    incentive = models.ForeignKey(Incentive, on_delete=models.PROTECT, related_name="+")
    amount = ExactDecimalField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["application", "incentive"], name="incentive_application_item_once")
        ]


class ApplicationDecision(models.Model):
    """An operator's review of an application, once. An approval pays out by topping up the
    prepaid balance (the statement entry it wrote) or records it as paid out."""

    application = models.OneToOneField(Application, on_delete=models.PROTECT, related_name="decision")
    state = models.CharField(max_length=16, choices=ApplicationState.choices)
    payout_method = models.CharField(max_length=16, choices=PayoutMethod.choices, blank=True)
    remark = models.CharField(max_length=500, blank=True)
    decided_at = models.DateTimeField()
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    statement_entry = models.ForeignKey(
        "billing.StatementEntry", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
