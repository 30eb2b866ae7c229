"""Derived totals kept from the line items: each a registered projection fed the new rows'
sums per rollup key (:data:`Deltas`), in the batch's transaction: told when the batch begins,
given the sums in steps, told when the batch's rows are all written.

* ``daily_rollups``: ``usage_dailyrollup``, the amount and line count per :data:`ROLLUP_KEY`;
* ``running_totals``: the per-customer running totals (usage/running.py) the expenditure summary
  reads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connection

from partnercenter.core.money import canonical, split

from .. import running

ROLLUP_KEY = (
    "day",
    "customer_id",
    "partner_id",
    "association_type",
    "service_name",
    "service_type",
    "region_id",
    "x_project",
    "x_billing_mode",
    "classification",
    "currency",
)
# Rollup key -> [amount (Decimal), line count] of the rows added.
Deltas = dict[tuple[Any, ...], list[Any]]

_COLS = ", ".join((*ROLLUP_KEY, "amount", "line_count"))
_KEY = ", ".join(ROLLUP_KEY)
_CREATE_DELTA_TABLE = (
    f"CREATE TEMP TABLE IF NOT EXISTS pc_rollup_delta ON COMMIT DROP AS SELECT {_COLS} "  # noqa: S608
    "FROM usage_dailyrollup WITH NO DATA"
)
_RUNNING_OFFSETS = {c: 3 * i for i, c in enumerate(("expenditure", "refund", "adjustment", "tax"))}


def _nothing() -> None:
    return None


@dataclass(frozen=True)
class Projection:
    name: str
    apply: Callable[[Deltas], None]
    begin: Callable[[], None] = _nothing
    finish: Callable[[], None] = _nothing


def _rollups_postgres(deltas: Deltas, keys: list[tuple[Any, ...]]) -> None:
    # COPY into a scratch table, then one INSERT ... ON CONFLICT: a statement per key costs a
    # round trip each.
    with connection.connection.cursor() as cur:
        cur.execute(_CREATE_DELTA_TABLE)
        cur.execute("TRUNCATE pc_rollup_delta")
        with cur.copy(f"COPY pc_rollup_delta ({_COLS}) FROM STDIN") as copy:
            for k in keys:
                v = deltas[k]
                copy.write_row((*k, v[0], v[1]))
        cur.execute(
            f"INSERT INTO usage_dailyrollup ({_COLS}) SELECT {_COLS} FROM pc_rollup_delta "  # noqa: S608
            f"ON CONFLICT ({_KEY}) DO UPDATE SET amount = usage_dailyrollup.amount + excluded.amount, "
            "line_count = usage_dailyrollup.line_count + excluded.line_count"
        )


def _rollups_sqlite(deltas: Deltas, keys: list[tuple[Any, ...]]) -> None:
    sql = (
        f"INSERT INTO usage_dailyrollup ({_COLS}) VALUES ({', '.join('?' * (len(ROLLUP_KEY) + 2))}) "  # noqa: S608
        f"ON CONFLICT ({_KEY}) DO UPDATE SET amount = exact_add(amount, excluded.amount), "
        "line_count = line_count + excluded.line_count"
    )
    rows = []
    for k in keys:
        v = deltas[k]
        rows.append((k[0].isoformat(), *k[1:], canonical(v[0]), v[1]))
    connection.connection.executemany(sql, rows)


def daily_rollups(deltas: Deltas) -> None:
    """Add the deltas to ``usage_dailyrollup``."""
    if not deltas:
        return
    # In key order, so that the rollup's unique index is walked once rather than at random.
    keys = sorted(deltas)
    if connection.vendor == "postgresql":
        _rollups_postgres(deltas, keys)
    else:
        _rollups_sqlite(deltas, keys)


def running_totals(deltas: Deltas) -> None:
    """Stage the deltas for the per-customer running totals (usage/running.py, applied once the
    batch is written): per (day, customer, partner, association type, currency), each
    classification's split amount and the line count."""
    if not deltas:
        return
    per: dict[tuple[Any, ...], list[int]] = {}
    for k, (amount, count) in deltas.items():
        ckey = (k[0], k[1], k[2], k[3], k[10])  # day, customer, partner, association type, currency
        slot = per.get(ckey)
        if slot is None:
            slot = per[ckey] = [0] * 13
        o = _RUNNING_OFFSETS[k[9]]
        units, hi, lo = split(amount)
        slot[o] += units
        slot[o + 1] += hi
        slot[o + 2] += lo
        slot[12] += count
    running.stage(per)


# The names are those of usage/rebuild.py, which recomputes each projection from the line items
# (`partnercenter rebuild-totals --only NAME`).
PROJECTIONS: tuple[Projection, ...] = (
    Projection("daily_rollups", daily_rollups),
    Projection("customer_totals", running_totals, begin=running.begin, finish=running.finish),
)


def begin_all() -> None:
    """A batch begins."""
    for projection in PROJECTIONS:
        projection.begin()


def apply_all(deltas: Deltas) -> None:
    """Feed one step of new rows' sums to every projection."""
    for projection in PROJECTIONS:
        projection.apply(deltas)


def finish_all() -> None:
    """The batch's rows are all written and their sums all fed."""
    for projection in PROJECTIONS:
        projection.finish()
