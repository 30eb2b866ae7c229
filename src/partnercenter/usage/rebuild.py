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
(core.money.split) and accumulate per key in Python integers: memory holds one key's running
values, the map of key ids (one per customer, partner, association type and currency) and a chunk
of rows, however many line items there are.

A running total's integers are not unique (ingestion adds the split parts of each batch's sums, so
``hi`` and ``lo`` may exceed their ranges); a rebuild writes the split of each day's exact sum.
What the integers stand for (core.money.join) is the same either way.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from itertools import islice
from typing import Any

from django.db import connection, transaction

from partnercenter.core.money import amount as exact_amount
from partnercenter.core.money import split

from . import selectors
from .ingest import ROLLUP_KEY, bump_ledger_version
from .models import CustomerRunningTotal, CustomerTotalKey, DailyRollup, LineItem

DAILY_ROLLUPS = "daily_rollups"
CUSTOMER_TOTALS = "customer_totals"
PROJECTIONS = (DAILY_ROLLUPS, CUSTOMER_TOTALS)
WRITE_CHUNK = 10_000  # running-total rows per COPY or executemany
READ_CHUNK = 20_000  # grouped rows fetched per round trip
SQLITE_CACHE_KIB = 131_072  # SQLite page cache while rebuilding (the default is 2 MiB)
_LINES = LineItem._meta.db_table
_KEYS = CustomerTotalKey._meta.db_table
_RUNNING = CustomerRunningTotal._meta.db_table

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
        with _sqlite_page_cache():
            counts = {name: builders[name]() for name in chosen}
        bump_ledger_version()
    return counts


def _sum() -> str:
    """The exact SUM of ``billed_cost`` in this engine's SQL."""
    return "SUM(billed_cost)" if connection.vendor == "postgresql" else "exact_sum(billed_cost)"


@contextmanager
def _sqlite_page_cache() -> Iterator[None]:
    """A larger SQLite page cache while the tables are written (as ingestion does): the GROUP BY
    sorts and the unique indexes are filled without spilling a 2 MiB cache all the time."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cur:
        cur.execute("PRAGMA cache_size")
        before = int(cur.fetchone()[0])
        cur.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
        try:
            yield
        finally:
            cur.execute(f"PRAGMA cache_size = {before}")


def _rollups() -> int:
    table = DailyRollup._meta.db_table
    cols = ", ".join((*ROLLUP_KEY, "amount", "line_count"))
    key = ", ".join(_LINE_COLUMN.get(c, c) for c in ROLLUP_KEY)
    with connection.cursor() as cur:
        cur.execute(f"DELETE FROM {table}")  # noqa: S608 - table and column names are this module's constants
        # In key order, so that the rollup's unique index is filled from left to right.
        cur.execute(
            f"INSERT INTO {table} ({cols}) SELECT {key}, {_sum()}, COUNT(*) "  # noqa: S608
            f"FROM {_LINES} GROUP BY {key} ORDER BY {key}"
        )
        return int(cur.rowcount)


def _customer_totals() -> int:
    key = ", ".join(_TOTAL_KEY)
    with connection.cursor() as cur:
        cur.execute(f"DELETE FROM {_RUNNING}")  # noqa: S608
        cur.execute(f"DELETE FROM {_KEYS}")  # noqa: S608
        cur.execute(
            f"INSERT INTO {_KEYS} (customer_id, partner_id, association_type, currency) "  # noqa: S608
            f"SELECT DISTINCT {key} FROM {_LINES} ORDER BY {key}"
        )
        cur.execute(f"SELECT id, customer_id, partner_id, association_type, currency FROM {_KEYS}")  # noqa: S608
        ids = {tuple(row[1:]): row[0] for row in cur.fetchall()}
    rows = ((ids[k], day, *values) for k, day, values in _running_rows())
    return _write_running(rows)


def _write_running(rows: Iterator[tuple[Any, ...]]) -> int:
    """Append running-total rows (key id, day, 13 values) in chunks: a COPY per chunk on
    PostgreSQL (between two, the server-side cursor that ``rows`` reads from may fetch: not during
    one), executemany on SQLite."""
    cols = ", ".join(("key_id", "day", *_VALUES))
    pg = connection.vendor == "postgresql"
    sql = (
        f"COPY {_RUNNING} ({cols}) FROM STDIN"
        if pg
        else f"INSERT INTO {_RUNNING} ({cols}) VALUES ({', '.join(['%s'] * (_WIDTH + 2))})"  # noqa: S608
    )
    written = 0
    while batch := list(islice(rows, WRITE_CHUNK)):
        if pg:
            with connection.connection.cursor() as raw, raw.copy(sql) as copy:
                for row in batch:
                    copy.write_row(row)
        else:
            with connection.cursor() as cur:
                cur.executemany(sql, batch)
        written += len(batch)
    return written


def _running_rows() -> Iterator[tuple[tuple[Any, ...], Any, list[int]]]:
    """(key, day, the 13 running values through that day) for each key and day with charges, from
    the exact sums per key, day and classification read in that order (the sum as the engine's
    exact SUM returns it: numeric, or canonical text on SQLite)."""
    group = ", ".join((*_TOTAL_KEY, "charge_day", "classification"))
    key: tuple[Any, ...] | None = None
    day: Any = None
    running = [0] * _WIDTH
    offset = _OFFSET
    # A server-side cursor on PostgreSQL: the groups stream instead of arriving all at once.
    with connection.chunked_cursor() as cur:
        cur.execute(f"SELECT {group}, {_sum()}, COUNT(*) FROM {_LINES} GROUP BY {group} ORDER BY {group}")  # noqa: S608
        while rows := cur.fetchmany(READ_CHUNK):
            for c, p, a, currency, charge_day, cls, amount, count in rows:
                this = (c, p, a, currency)
                if this != key or charge_day != day:
                    if key is not None:
                        yield key, day, list(running)
                    if this != key:
                        running = [0] * _WIDTH
                    key, day = this, charge_day
                o = offset[cls]
                units, hi, lo = split(exact_amount(amount))  # SQLite gives the exact sum as text
                running[o] += units
                running[o + 1] += hi
                running[o + 2] += lo
                running[12] += count
    if key is not None:
        yield key, day, list(running)
