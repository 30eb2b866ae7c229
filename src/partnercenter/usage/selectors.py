"""Reads for usage: batches, rollup sums. Sums are exact on both engines (ExactSum)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection
from django.db.models import Count, Max, Min, QuerySet

from partnercenter.accounts.models import User
from partnercenter.core import clock

from .ingest import _ADVISORY_LOCK_KEY as INGEST_LOCK_KEY
from .models import ClosedMonth, IngestBatch, LineItem


def batches_for(user: User) -> QuerySet[IngestBatch]:
    """Ingestion batches are operator data: platform operators see them all, partners none."""
    if user.is_authenticated and user.is_active and user.is_platform_operator:
        return IngestBatch.objects.order_by("-id")
    return IngestBatch.objects.none()


@dataclass(frozen=True)
class ChargeSpan:
    """The recorded charges of one customer from a moment on: how many, the first and the last
    ChargePeriodStart (UTC)."""

    count: int
    first: dt.datetime
    last: dt.datetime


def charges_at_or_after(customer_id: int, moment: dt.datetime) -> ChargeSpan | None:
    """The customer's recorded line items whose charge starts at or after ``moment`` (the instant
    ingestion compares with an association's ``valid_from``), or None when there are none."""
    found = LineItem.objects.filter(
        customer_id=customer_id,
        charge_day__gte=clock.billing_date(moment),  # lets the (customer, charge_day) index narrow the scan
        charge_period_start__gte=moment,
    ).aggregate(count=Count("pk"), first=Min("charge_period_start"), last=Max("charge_period_start"))
    if not found["count"]:
        return None
    return ChargeSpan(found["count"], found["first"], found["last"])


def closed_months_from(partner_ids: Iterable[int], month: dt.date) -> list[tuple[int, dt.date]]:
    """``(partner_id, month)`` of the months from ``month`` on (first day of a month in the billing
    time zone) whose partner bill has been generated, oldest first."""
    return list(
        ClosedMonth.objects.filter(partner_id__in=list(partner_ids), month__gte=month.replace(day=1))
        .order_by("month", "partner_id")
        .values_list("partner_id", "month")
    )


def is_month_closed(partner_id: int, month: dt.date) -> bool:
    """Whether the partner's bill for the month holding ``month`` has been generated."""
    return ClosedMonth.objects.filter(partner_id=partner_id, month=month.replace(day=1)).exists()


def hold_ledger_still() -> None:
    """Keep ingestion out until the caller's transaction ends, so that what the caller reads from
    the ledger next stays true until it commits.

    This is the serialisation ingestion itself takes: on PostgreSQL the same transaction-level
    advisory lock; on SQLite every write transaction already begins with ``BEGIN IMMEDIATE``
    (settings), which holds the database's one write lock from its first statement.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("hold_ledger_still() needs a transaction")
    if connection.vendor == "postgresql":
        with connection.cursor() as c:
            c.execute("SELECT pg_advisory_xact_lock(%s)", [INGEST_LOCK_KEY])
