"""Payment contract requests (请款合同, O6): a partner asks the platform for a payment contract
at any time; a platform operator starts processing it, then issues it with its terms or rejects
it with a reason. The request's state is never stored on the request: it is the state of its
latest :class:`ContractEvent`, an append-only history (who, when, what)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from partnercenter.core.money import ExactDecimalField


class ContractState(models.TextChoices):
    REQUESTED = "requested", _("Requested")
    PROCESSING = "processing", _("Processing")
    ISSUED = "issued", _("Issued")
    REJECTED = "rejected", _("Rejected")


OPEN_STATES = (ContractState.REQUESTED, ContractState.PROCESSING)


class PaymentContract(models.Model):
    number = models.CharField(max_length=32, unique=True, help_text="PC-YYYYMM-nnnnnn")
    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="payment_contracts")
    amount = ExactDecimalField()
    currency = models.CharField(max_length=3)
    purpose = models.CharField(max_length=500)
    requested_at = models.DateTimeField()
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    idempotency_key = models.CharField(max_length=200, blank=True, default="")
    request_fingerprint = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="contracts_unique_partner_key",
            )
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def state_label(self) -> str:
        """The label of the ``state`` annotated by the selectors (the latest event's)."""
        return str(ContractState(getattr(self, "state", ContractState.REQUESTED)).label)


class ContractEvent(models.Model):
    contract = models.ForeignKey(PaymentContract, on_delete=models.PROTECT, related_name="events")
    state = models.CharField(max_length=16, choices=ContractState.choices)
    at = models.DateTimeField()
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    terms = models.TextField(blank=True, default="")  # issued: the contract's terms
    reason = models.CharField(max_length=500, blank=True, default="")  # rejected: why
    idempotency_key = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        ordering = ["at", "id"]

    def save(self, *args: object, **kwargs: object) -> None:
        # The history is append-only: an event, once written, is never changed.
        if self.pk is not None:
            raise ValueError("contract events are append-only")
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise ValueError("contract events are append-only")
