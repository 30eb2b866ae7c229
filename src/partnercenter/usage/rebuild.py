"""The ledger's derived totals rebuilt from its line items: one definition of each projection.

Ingestion maintains two tables as batches arrive (``usage/ingest.py``): the daily rollups (exact
sum of ``billed_cost`` and line count per :data:`ingest.ROLLUP_KEY`) and the per-customer running
totals (``usage/running.py``). Here each is deleted and computed again from ``usage_lineitem``,
in one transaction, under the lock ingestion takes (no batch lands half-way through), and the
ledger version moves so that cached figures expire. The benchmark loader builds its totals this
way too.

Exactness: rollups are one ``INSERT … SELECT … GROUP BY`` whose sum is PostgreSQL's numeric SUM or,
on SQLite where amounts are text, the ``exact_sum`` aggregate of core.money. Running totals stream
the exact sums per key, day and classification (a server-side cursor on PostgreSQL), split them
(core.money.split) and accumulate per key in Python integers, so memory holds one key at a time.

A running total's integers are not unique (ingestion adds the split parts of each batch's sums, so
``hi`` and ``lo`` may exceed their ranges); a rebuild writes the split of each day's exact sum.
What the integers stand for (core.money.join) is the same either way.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from django.db import connection, transaction
from django.db.models import Count

from partnercenter.core.money import ExactSum, split

from . import selectors
from .ingest import ROLLUP_KEY, bump_ledger_version
from .models import CustomerRunningTotal, CustomerTotalKey, DailyRollup, LineItem

DAILY_ROLLUPS = "daily_rollups"
CUSTOMER_TOTALS = "customer_totals"
PROJECTIONS = (DAILY_ROLLUPS, CUSTOMER_TOTALS)
WRITE_CHUNK = 5_000  # running-total rows sent per executemany
READ_CHUNK = 20_000  # grouped rows fetched per round trip

# A rollup column and the line-item column it groups.
_LINE_COLUMN = {"day": "charge_day", "currency": "billing_currency"}
_CLASSES = CustomerRunningTotal.CLASSES
_OFFSET = {c: 3 * i for i, c in enumerate(_CLASSES)}
_VALUES = CustomerRunningTotal.VALUE_FIELDS
_WIDTH = len(_VALUES)  # 12 split integers and the line count
# The running totals' key and day, as line-item columns: the order the stream is read in.
_TOTAL_KEY = ("customer_id", "partner_id", "association_type", "billing_currency")


class UnknownProjection(ValueError):
    pass


def rebuild_daily_rollups() -> int:
    """Recompute ``usage_dailyrollup`` from the line items; returns the number of rollup rows."""
    return rebuild_totals([DAILY_ROLLUPS])[DAILY_ROLLUPS]


def rebuild_customer_totals() -> int:
    """Recompute the customer total keys and running totals; returns the number of running-total rows."""
    return rebuild_totals([CUSTOMER_TOTALS])[CUSTOMER_TOTALS]


def rebuild_totals(names: Sequence[str] | None = None) -> dict[str, int]:
    """Recompute the named projections (all by default) in one transaction; rows written per name."""
    chosen = list(PROJECTIONS if names is None else dict.fromkeys(names))
    unknown = [n for n in chosen if n not in PROJECTIONS]
    if unknown:
        raise UnknownProjection(f"unknown projection(s) {', '.join(unknown)}; known: {', '.join(PROJECTIONS)}")
    builders = {DAILY_ROLLUPS: _rollups, CUSTOMER_TOTALS: _customer_totals}
    with transaction.atomic():
        # Ingestion's serialisation: SQLite's BEGIN IMMEDIATE (settings) or the advisory lock.
        selectors.hold_ledger_still()
        counts = {name: builders[name]() for name in chosen}
        bump_ledger_version()
    return counts


def _rollups() -> int:
    table = DailyRollup._meta.db_table
    cols = ", ".join((*ROLLUP_KEY, "amount", "line_count"))
    key = ", ".join(_LINE_COLUMN.get(c, c) for c in ROLLUP_KEY)
    total = "SUM(billed_cost)" if connection.vendor == "postgresql" else "exact_sum(billed_cost)"
    with connection.cursor() as cur:
        cur.execute(f"DELETE FROM {table}")  # noqa: S608 - table and column names are this module's constants
        # In key order, so that the rollup's unique index is filled from left to right.
        cur.execute(
            f"INSERT INTO {table} ({cols}) SELECT {key}, {total}, COUNT(*) "  # noqa: S608
            f"FROM {LineItem._meta.db_table} GROUP BY {key} ORDER BY {key}"
        )
        return int(cur.rowcount)


def _customer_totals() -> int:
    CustomerRunningTotal.objects.all().delete()
    CustomerTotalKey.objects.all().delete()
    keys = (
        LineItem.objects.order_by(*_TOTAL_KEY).values_list(*_TOTAL_KEY).distinct().iterator(chunk_size=READ_CHUNK)
    )
    CustomerTotalKey.objects.bulk_create(
        (CustomerTotalKey(customer_id=c, partner_id=p, association_type=a, currency=cur) for c, p, a, cur in keys),
        batch_size=1000,
    )
    ids = {
        (c, p, a, cur): pk
        for pk, c, p, a, cur in CustomerTotalKey.objects.values_list(
            "pk", "customer_id", "partner_id", "association_type", "currency"
        ).iterator(chunk_size=READ_CHUNK)
    }
    pg = connection.vendor == "postgresql"
    cols = ", ".join(_VALUES)
    sql = (
        f"INSERT INTO {CustomerRunningTotal._meta.db_table} (key_id, day, {cols}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * (_WIDTH + 2))})"
    )
    written = 0
    batch: list[tuple[Any, ...]] = []
    with connection.cursor() as cur:
        for key, day, values in _running_rows():
            batch.append((ids[key], day if pg else day.isoformat(), *values))
            if len(batch) >= WRITE_CHUNK:
                cur.executemany(sql, batch)
                written += len(batch)
                batch.clear()
        if batch:
            cur.executemany(sql, batch)
            written += len(batch)
    return written


def _running_rows() -> Iterator[tuple[tuple[Any, ...], Any, list[int]]]:
    """(key, day, the 13 running values through that day) for each key and day with charges, from
    the exact sums per key, day and classification read in that order."""
    groups = (
        LineItem.objects.values(*_TOTAL_KEY, "charge_day", "classification")
        .annotate(s=ExactSum("billed_cost"), n=Count("pk"))
        .order_by(*_TOTAL_KEY, "charge_day", "classification")
        .values_list(*_TOTAL_KEY, "charge_day", "classification", "s", "n")
        .iterator(chunk_size=READ_CHUNK)
    )
    key: tuple[Any, ...] | None = None
    day: Any = None
    running = [0] * _WIDTH
    for c, p, a, currency, charge_day, cls, amount, count in groups:
        this = (c, p, a, currency)
        if this != key or charge_day != day:
            if key is not None:
                yield key, day, list(running)
            if this != key:
                running = [0] * _WIDTH
            key, day = this, charge_day
        o = _OFFSET[cls]
        units, hi, lo = split(amount)
        running[o] += units
        running[o + 1] += hi
        running[o + 2] += lo
        running[12] += count
    if key is not None:
        yield key, day, list(running)
