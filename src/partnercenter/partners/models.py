from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class PartnerKind(models.TextChoices):
    SOLUTION_PROVIDER = "solution_provider", _("Solution provider")
    REFERRAL = "referral", _("Referral partner")
    DISTRIBUTOR = "distributor", _("Distributor")
    SECOND_LEVEL_RESELLER = "second_level_reseller", _("Second-level reseller")


class AssociationType(models.TextChoices):
    RESELLER = "reseller", _("Reseller")
    REFERRAL = "referral", _("Referral")


class Partner(models.Model):
    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=32, choices=PartnerKind.choices)
    # A second-level reseller belongs to exactly one distributor; nobody else has a parent.
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="second_level_resellers"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="second_level_reseller", parent__isnull=False)
                | (~Q(kind="second_level_reseller") & Q(parent__isnull=True)),
                name="partner_parent_iff_second_level",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class Customer(models.Model):
    """A cloud customer account. Name, email and mobile are sensitive (rule E5, X2)."""

    account_id = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    email = models.EmailField(max_length=254, blank=True)
    mobile = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["account_id"]

    def __str__(self) -> str:
        return self.account_id


class CustomerAssociation(models.Model):
    """Which partner a customer belongs to, and how, over [valid_from, valid_to). History is kept:
    ending an association sets ``valid_to`` once; a new association is a new row."""

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="associations")
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="associations")
    association_type = models.CharField(max_length=16, choices=AssociationType.choices)
    valid_from = models.DateTimeField()
    valid_to = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["customer_id", "valid_from"]
        indexes = [models.Index(fields=["partner", "valid_from"])]
        constraints = [
            models.UniqueConstraint(
                fields=["customer"], condition=Q(valid_to__isnull=True), name="one_open_association_per_customer"
            ),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gt=models.F("valid_from")),
                name="association_ends_after_it_starts",
            ),
        ]


class AccountManagerAssignment(models.Model):
    """A customer assigned to an account manager over [effective_from, effective_to).

    ``effective_from`` is 00:00 of the billing-time-zone day after ``assigned_at`` (rule E3):
    the manager sees the customer's expenditure from then on.
    """

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="assignments")
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="assignments")
    manager = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="assignments")
    assigned_at = models.DateTimeField()
    effective_from = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    assigned_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["customer_id", "assigned_at"]
        indexes = [models.Index(fields=["manager", "ended_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["customer"], condition=Q(ended_at__isnull=True), name="one_open_assignment_per_customer"
            ),
        ]
