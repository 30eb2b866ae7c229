"""Derived totals kept from the line items, in the batch's transaction. The new rows' sums per
rollup key (:data:`Deltas`) are staged in a scratch table as the batch goes (in steps: memory
stays flat); once its rows are all written, each registered projection adds what it keeps, in a
few set-based statements over the staged sums:

* ``daily_rollups``: ``usage_dailyrollup``, the amount and line count per :data:`ROLLUP_KEY`;
* ``customer_totals``: the per-customer running totals (usage/running.py) the expenditure
  summary reads, from the staged sums split into integers (core.money.split).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.db import connection

from partnercenter.core.money import canonical_sql, split

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
# SQLite stages each sum as its split (core.money.split): SUM adds the integers in C, where an
# aggregate of decimal texts would call Python for every staged row, and the rollups' text is
# made from the summed parts in SQL (money.canonical_sql). PostgreSQL stages numeric sums and
# splits them in SQL for the running totals (running.stage_sums).
_SQLITE_COLS = ", ".join((*ROLLUP_KEY, "line_count", *running.PARTS))
_KEY = ", ".join(ROLLUP_KEY)
_DELTA = "pc_rollup_delta"  # the batch's staged sums, per rollup key
_CREATE_DELTA = {
    "postgresql": f"CREATE TEMP TABLE {_DELTA} ON COMMIT DROP AS SELECT {_COLS} FROM usage_dailyrollup WITH NO DATA",  # noqa: S608
    # No declared types: SQLite keeps each value as it is bound.
    "sqlite": f"CREATE TEMP TABLE {_DELTA} ({_SQLITE_COLS})",
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
        f"INSERT INTO usage_dailyrollup ({_COLS}) SELECT {_KEY}, {canonical_sql(*running.PARTS)}, n "  # noqa: S608
        f"FROM (SELECT {_KEY}, {running.CARRIED_SUMS}, SUM(line_count) AS n FROM {_DELTA} GROUP BY {_KEY} ORDER BY {_KEY}) "
        # WHERE: SQLite reads ON CONFLICT after a bare SELECT ... FROM as a join constraint.
        f"WHERE 1 = 1 ON CONFLICT ({_KEY}) DO UPDATE SET "
        "amount = exact_add(amount, excluded.amount), line_count = line_count + excluded.line_count"
    ),
}


@dataclass(frozen=True)
class Projection:
    name: str
    # Adds the batch's staged sums (the scratch table :data:`_DELTA`) to what the projection keeps.
    finish: Callable[[], None]


def _stage_postgres(deltas: Deltas) -> None:
    with connection.connection.cursor() as cur, cur.copy(f"COPY {_DELTA} ({_COLS}) FROM STDIN") as copy:
        for k, (amount, count) in deltas.items():
            copy.write_row((*k, amount, count))


def stage_csv(data: bytes) -> None:
    """PostgreSQL: stage sums given as the CSV of a COPY (:data:`ROLLUP_KEY`, amount, line count;
    a key may come again: the projections add its sums up)."""
    with connection.connection.cursor() as cur, cur.copy(f"COPY {_DELTA} ({_COLS}) FROM STDIN (FORMAT csv)") as copy:
        copy.write(data)


def stage_rows(rows: Iterable[tuple[Any, ...]]) -> None:
    """SQLite: stage sums given as rows (:data:`ROLLUP_KEY` with the day as ISO text, line count,
    and the amount's split, core.money.split; a key may come again: the projections add its sums)."""
    sql = f"INSERT INTO {_DELTA} ({_SQLITE_COLS}) VALUES ({', '.join('?' * (len(ROLLUP_KEY) + 4))})"  # noqa: S608
    connection.connection.executemany(sql, rows)


def _stage_sqlite(deltas: Deltas) -> None:
    stage_rows((k[0].isoformat(), *k[1:], count, *split(amount)) for k, (amount, count) in deltas.items())


def _rollups_finish() -> None:
    """Add the batch's staged sums to ``usage_dailyrollup``."""
    with connection.cursor() as cur:
        cur.execute(_APPLY_DELTAS[connection.vendor])


def _customer_totals_finish() -> None:
    """Add the batch's staged sums to the per-customer running totals."""
    running.begin()
    running.stage_sums(_DELTA)
    running.finish()


# The names are those of usage/rebuild.py, which recomputes each projection from the line items
# (`partnercenter rebuild-totals --only NAME`).
PROJECTIONS: tuple[Projection, ...] = (
    Projection("daily_rollups", _rollups_finish),
    Projection("customer_totals", _customer_totals_finish),
)


def begin_all() -> None:
    """A batch begins: its empty scratch table of sums."""
    with connection.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {_DELTA}")
        cur.execute(_CREATE_DELTA[connection.vendor])


def apply_all(deltas: Deltas) -> None:
    """One step of new rows' sums, staged for every projection."""
    if not deltas:
        return
    if connection.vendor == "postgresql":
        _stage_postgres(deltas)
    else:
        _stage_sqlite(deltas)


def finish_all() -> None:
    """The batch's rows are all written and their sums all staged: every projection adds them."""
    for projection in PROJECTIONS:
        projection.finish()
    with connection.cursor() as cur:
        cur.execute(f"DROP TABLE {_DELTA}")
