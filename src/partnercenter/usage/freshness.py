"""Rule E2 and data freshness: the one implementation every feature uses.

Day D's expenditure becomes queryable only after 24:00 of D+1 in the billing time zone, i.e.
from 00:00 of D+2. Independently, a day is only complete once ingestion has covered it.
"""

from __future__ import annotations

import datetime as dt

from partnercenter.core import clock

from .models import Freshness


def last_visible_day(at: dt.datetime | None = None) -> dt.date:
    """The last billing-time-zone day whose data rule E2 lets anyone query at ``at``."""
    at = at or clock.now()
    return clock.billing_date(at) - dt.timedelta(days=2)


def is_day_visible(day: dt.date, at: dt.datetime | None = None) -> bool:
    return day <= last_visible_day(at)


def advance(source: str, until: dt.datetime) -> None:
    """Record that an accepted batch of ``source`` delivered usage up to ``until`` (its latest
    ChargePeriodEnd). Called inside the ingesting transaction, which holds the ingestion lock.

    Freshness never moves back: a source's mark only rises, and a source seen for the first time
    starts no earlier than the overall mark (``complete_until``), so an older or partial batch,
    under its own source or a new one, cannot pull "complete through" back for everyone.
    """
    fresh = Freshness.objects.select_for_update().filter(source=source).first()
    if fresh is None:
        overall = complete_until()
        start = until if overall is None else max(until, overall)
        Freshness.objects.create(source=source, complete_until=start, updated_at=clock.now())
    elif until > fresh.complete_until:
        fresh.complete_until = until
        fresh.updated_at = clock.now()
        fresh.save(update_fields=["complete_until", "updated_at"])


def complete_until() -> dt.datetime | None:
    """Instant (UTC, exclusive) up to which every source has delivered its usage."""
    values = list(Freshness.objects.values_list("complete_until", flat=True))
    return min(values) if values else None


def data_complete_through(at: dt.datetime | None = None) -> dt.date | None:
    """The last day pages may show as complete: visible under E2 and fully ingested."""
    visible = last_visible_day(at)
    until = complete_until()
    if until is None:
        return None
    # The last day that ends at or before ``until`` in the billing time zone.
    local = until.astimezone(clock.billing_tz())
    last_full = local.date() - dt.timedelta(days=1)
    return min(visible, last_full)
