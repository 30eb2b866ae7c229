"""Leads from the platform, dispatched to the partner's staff and recalled (O2)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class LeadStatus(models.TextChoices):
    NEW = "new", _("New")
    CONTACTING = "contacting", _("Contacting")
    QUALIFIED = "qualified", _("Qualified")
    CONVERTED = "converted", _("Converted")
    LOST = "lost", _("Lost")


# A converted or lost lead is finished: nobody dispatches or recalls it any more.
CLOSED = frozenset({LeadStatus.CONVERTED, LeadStatus.LOST})


class Lead(models.Model):
    """A prospect the platform hands to a partner. Contact name, phone and email are sensitive."""

    # LEAD-nnnnnn, from the primary key once it exists.
    number = models.CharField(max_length=16, unique=True, null=True)
    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="+")
    company = models.CharField(max_length=200)
    contact_name = models.CharField(max_length=100)
    phone = models.CharField(max_length=32, blank=True)
    email = models.CharField(max_length=254, blank=True)
    source = models.CharField(max_length=100, blank=True)
    product_interest = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=16, choices=LeadStatus.choices, default=LeadStatus.NEW)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    dispatched_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["partner", "status"]), models.Index(fields=["assignee", "status"])]

    def __str__(self) -> str:
        return f"{self.number} {self.company}"


class EventKind(models.TextChoices):
    CREATED = "created", _("Created")
    DISPATCHED = "dispatched", _("Dispatched")
    RECALLED = "recalled", _("Recalled")
    STATUS_CHANGED = "status_changed", _("Status changed")


class LeadEvent(models.Model):
    """Append-only history of a lead: who did what, when, and to whom."""

    lead = models.ForeignKey(Lead, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=16, choices=EventKind.choices)
    at = models.DateTimeField()
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    # Dispatched: the new assignee; recalled: the one it was taken from.
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16, blank=True)
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.lead_id} {self.kind} {self.at:%Y-%m-%d %H:%M}"


class LeadRequest(models.Model):
    """An Idempotency-Key already answered: the same key and request answer the same leads again."""

    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    key = models.CharField(max_length=200)
    fingerprint = models.CharField(max_length=64)
    lead_ids = models.JSONField(default=list)
    at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["actor", "key"], name="lead_request_unique_key")]
