"""Reads for usage: batches, rollup sums. Sums are exact on both engines (ExactSum)."""

from __future__ import annotations

from django.db.models import QuerySet

from partnercenter.accounts.models import User

from .models import IngestBatch


def batches_for(user: User) -> QuerySet[IngestBatch]:
    """Ingestion batches are operator data: platform operators see them all, partners none."""
    if user.is_authenticated and user.is_active and user.is_platform_operator:
        return IngestBatch.objects.order_by("-id")
    return IngestBatch.objects.none()
