"""Customer alerts raised by the worker from rules, viewed and handled (O3).

An alert is raised once per condition occurrence: ``condition_key`` is unique and names the
occurrence (the credit alert row that recorded a threshold crossing, the customer's day of a spend
spike, the unpaid bill), so a catch-up that runs every minute never raises it twice. An alert is
open until handled; handling records who, when and a note, once (the History tab lists handled
alerts)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AlertRule(models.TextChoices):
    CREDIT_25 = "credit_25", _("Available credit at or below 25%")
    CREDIT_10 = "credit_10", _("Available credit at or below 10%")
    CREDIT_0 = "credit_0", _("Available credit exhausted")
    SPEND_SPIKE = "spend_spike", _("Spend spike")
    UNPAID_BILL = "unpaid_bill", _("Unpaid customer bill")


class CustomerAlert(models.Model):
    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey("partners.Customer", on_delete=models.PROTECT, related_name="+")
    rule = models.CharField(max_length=16, choices=AlertRule.choices)
    currency = models.CharField(max_length=3)
    figures = models.JSONField(default=dict, help_text="the rule's figures; amounts as exact decimal strings")
    condition_key = models.CharField(max_length=120, unique=True)
    source_id = models.BigIntegerField(null=True, blank=True, help_text="the credit alert or bill it came from")
    raised_at = models.DateTimeField()
    handled_at = models.DateTimeField(null=True, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.CharField(max_length=500, blank=True)
    idempotency_key = models.CharField(max_length=200, blank=True, help_text="of the handling request")

    class Meta:
        indexes = [
            models.Index(fields=["partner", "handled_at", "raised_at"], name="alert_partner_open"),
            models.Index(fields=["rule", "source_id"], name="alert_rule_source"),
        ]
        ordering = ["-raised_at", "-pk"]

    def __str__(self) -> str:
        return self.condition_key

    @property
    def is_open(self) -> bool:
        return self.handled_at is None
