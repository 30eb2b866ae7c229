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
_DELTA = "pc_rollup_delta"
_CREATE_DELTA = {
    "postgresql": f"CREATE TEMP TABLE {_DELTA} ON COMMIT DROP AS SELECT {_COLS} FROM usage_dailyrollup WITH NO DATA",  # noqa: S608
    # No declared types: SQLite keeps each value as it is bound (an amount's text stays text).
    "sqlite": f"CREATE TEMP TABLE {_DELTA} ({_COLS})",
}
# One statement when the batch's rows are all written: the steps' deltas summed per key and added
# in key order, so that the rollups' unique index is walked once from left to right (a step at a
# time, each step's keys spread over the whole index).
_APPLY_DELTAS = {
    "postgresql": (
        f"INSERT INTO usage_dailyrollup ({_COLS}) SELECT {_KEY}, SUM(amount), SUM(line_count) FROM {_DELTA} "  # noqa: S608
        f"GROUP BY {_KEY} ORDER BY {_KEY} ON CONFLICT ({_KEY}) DO UPDATE SET "
        "amount = usage_dailyrollup.amount + excluded.amount, line_count = usage_dailyrollup.line_count + excluded.line_count"
    ),
    "sqlite": (
        f"INSERT INTO usage_dailyrollup ({_COLS}) SELECT {_KEY}, exact_sum(amount), SUM(line_count) FROM {_DELTA} "  # noqa: S608
        # WHERE: SQLite reads ON CONFLICT after a bare SELECT ... FROM as a join constraint.
        f"WHERE 1 = 1 GROUP BY {_KEY} ORDER BY {_KEY} ON CONFLICT ({_KEY}) DO UPDATE SET "
        "amount = exact_add(amount, excluded.amount), line_count = line_count + excluded.line_count"
    ),
}
_RUNNING_OFFSETS = {c: 3 * i for i, c in enumerate(("expenditure", "refund", "adjustment", "tax"))}


def _nothing() -> None:
    return None


@dataclass(frozen=True)
class Projection:
    name: str
    apply: Callable[[Deltas], None]
    begin: Callable[[], None] = _nothing
    finish: Callable[[], None] = _nothing


def _rollups_begin() -> None:
    with connection.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {_DELTA}")
        cur.execute(_CREATE_DELTA[connection.vendor])


def _stage_postgres(deltas: Deltas) -> None:
    with connection.connection.cursor() as cur, cur.copy(f"COPY {_DELTA} ({_COLS}) FROM STDIN") as copy:
        for k, v in deltas.items():
            copy.write_row((*k, v[0], v[1]))


def _stage_sqlite(deltas: Deltas) -> None:
    sql = f"INSERT INTO {_DELTA} ({_COLS}) VALUES ({', '.join('?' * (len(ROLLUP_KEY) + 2))})"  # noqa: S608
    rows = [(k[0].isoformat(), *k[1:], canonical(v[0]), v[1]) for k, v in deltas.items()]
    connection.connection.executemany(sql, rows)


def daily_rollups(deltas: Deltas) -> None:
    """Stage the deltas for ``usage_dailyrollup`` (added once the batch is written)."""
    if not deltas:
        return
    if connection.vendor == "postgresql":
        _stage_postgres(deltas)
    else:
        _stage_sqlite(deltas)


def _rollups_finish() -> None:
    """Add the batch's staged deltas to ``usage_dailyrollup``."""
    with connection.cursor() as cur:
        cur.execute(_APPLY_DELTAS[connection.vendor])
        cur.execute(f"DROP TABLE {_DELTA}")


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
    Projection("daily_rollups", daily_rollups, begin=_rollups_begin, finish=_rollups_finish),
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
