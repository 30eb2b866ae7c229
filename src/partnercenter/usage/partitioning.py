"""Line items on PostgreSQL as a table partitioned by month (docs/scaling.md).

Opt-in for operators (``partnercenter partition-line-items``), never run by a migration: the
conversion copies every line item under the ingestion lock, which on a large ledger is a planned
maintenance window, not a side effect of deploying.

The partition key is ``charge_day`` with monthly bounds, so each partition holds exactly one charge
month (``charge_month`` is the first day of ``charge_day``'s month) and the selectors' month filters,
which are ``charge_day`` ranges, prune to the months they read. PostgreSQL requires every unique
constraint of a partitioned table to include the key; the customer is included as well so that
the same constraints hold when the table is distributed by customer (Citus):

* primary key ``(id, customer_id, charge_day)``: ``id`` still comes from one sequence and stays
  unique in practice; reads by id use the index's leading column;
* unique ``(identity, customer_id, charge_day)`` instead of unique ``(identity)``: ingestion's
  existence check by identity (under its lock, one batch at a time) is what deduplicates, as it
  already is on every engine; the index still leads with the identity for that check.

SQLite is never partitioned: every function here is a no-op or refuses there.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper

from partnercenter.core import clock

from .models import LineItem

TABLE = LineItem._meta.db_table
DEFAULT_PARTITION = f"{TABLE}_default"
_OLD = f"{TABLE}_unpartitioned"
_BOUNDS = re.compile(r"FROM \('(\d{4}-\d{2}-\d{2})'\) TO \('(\d{4}-\d{2}-\d{2})'\)")
PRIMARY_KEY = ("id", "customer_id", "charge_day")
IDENTITY_KEY = ("identity", "customer_id", "charge_day")
# The model's indexes, rebuilt on the partitioned table under their own names.
INDEXES = {
    index.name: [f"{field}_id" if field in ("customer", "partner") else field for field in index.fields]
    for index in LineItem._meta.indexes
}


class PartitioningError(Exception):
    """The operation cannot be done on this database; the message says why."""


def _month(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _next_month(month: dt.date) -> dt.date:
    return (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def partition_name(month: dt.date) -> str:
    return f"{TABLE}_y{month.year:04d}m{month.month:02d}"


def _columns() -> str:
    return ", ".join(connection.ops.quote_name(str(f.column)) for f in LineItem._meta.concrete_fields)


def _hold_ledger() -> None:
    # Imported here: ingestion calls ensure_months, and the selectors import ingestion.
    from .selectors import hold_ledger_still

    hold_ledger_still()


def is_partitioned() -> bool:
    """Whether the line items table is a partitioned table (PostgreSQL only)."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cur:
        cur.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", [TABLE])
        row = cur.fetchone()
    return row is not None and row[0] == "p"


def partitions() -> dict[dt.date, str]:
    """The monthly partitions attached now: first day of each month they cover → table name."""
    if not is_partitioned():
        return {}
    with connection.cursor() as cur:
        cur.execute(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass(%s)",
            [TABLE],
        )
        rows = cur.fetchall()
    found: dict[dt.date, str] = {}
    for name, bound in rows:
        match = _BOUNDS.search(bound)
        if match is None:  # the DEFAULT partition
            continue
        month, end = dt.date.fromisoformat(match[1]), dt.date.fromisoformat(match[2])
        while month < end:
            found[month] = name
            month = _next_month(month)
    return found


def _attach_month(cur: CursorWrapper, month: dt.date) -> int:
    """Create ``month``'s partition, move the month's rows the DEFAULT partition holds into it,
    and attach it; returns how many rows moved.

    Attaching a table (rather than ``CREATE TABLE … PARTITION OF``) takes only a SHARE UPDATE
    EXCLUSIVE lock on the line items: reads go on meanwhile. PostgreSQL would refuse to attach a
    month while the DEFAULT partition holds rows of it, hence the move first."""
    qn = connection.ops.quote_name
    name, end = partition_name(month), _next_month(month)
    cols = _columns()
    cur.execute(f"CREATE TABLE {qn(name)} (LIKE {qn(TABLE)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
    # The partition's own bounds as a CHECK let ATTACH skip scanning it.
    cur.execute(
        f"ALTER TABLE {qn(name)} ADD CONSTRAINT {qn(name + '_bounds')} "
        "CHECK (charge_day IS NOT NULL AND charge_day >= %s AND charge_day < %s)",
        [month, end],
    )
    taken = f"DELETE FROM {qn(DEFAULT_PARTITION)} WHERE charge_day >= %s AND charge_day < %s RETURNING {cols}"  # noqa: S608
    cur.execute(f"WITH moved AS ({taken}) INSERT INTO {qn(name)} ({cols}) SELECT {cols} FROM moved", [month, end])  # noqa: S608
    moved: int = cur.rowcount
    cur.execute(f"ALTER TABLE {qn(TABLE)} ATTACH PARTITION {qn(name)} FOR VALUES FROM (%s) TO (%s)", [month, end])
    cur.execute(f"ALTER TABLE {qn(name)} DROP CONSTRAINT {qn(name + '_bounds')}")
    return moved


def ensure_months(months: Iterable[dt.date]) -> None:
    """Make sure each month (any day of it) has its own partition; a no-op unless the line items
    are partitioned. Rows of such a month already in the DEFAULT partition move into the new one.

    Creating a partition locks the DEFAULT partition until the transaction ends: call this before
    the batch's transaction (it commits on its own when called outside one) rather than inside it."""
    if not is_partitioned():
        return
    wanted = {_month(m) for m in months}
    with transaction.atomic():
        _hold_ledger()
        missing = sorted(wanted - partitions().keys())
        with connection.cursor() as cur:
            for month in missing:
                cur.execute("SELECT to_regclass(%s)", [partition_name(month)])
                if cur.fetchone()[0] is not None:
                    # A detached month: new rows of it would miss the deduplication against its rows.
                    raise PartitioningError(
                        f"{month:%Y-%m} was detached (table {partition_name(month)}): reattach it to take "
                        "line items of that month."
                    )
                _attach_month(cur, month)


def _foreign_keys(cur: CursorWrapper) -> list[tuple[str, str]]:
    cur.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = to_regclass(%s) AND contype = 'f' ORDER BY conname",
        [TABLE],
    )
    return list(cur.fetchall())


def _copy_into_partitions(cur: CursorWrapper, months: list[dt.date]) -> None:
    """The new partitioned table, its partitions and the rows of the old table."""
    qn = connection.ops.quote_name
    cur.execute(f"ALTER TABLE {qn(TABLE)} RENAME TO {qn(_OLD)}")
    cur.execute(
        f"CREATE TABLE {qn(TABLE)} (LIKE {qn(_OLD)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING IDENTITY) "
        "PARTITION BY RANGE (charge_day)"
    )
    for month in months:
        cur.execute(
            f"CREATE TABLE {qn(partition_name(month))} PARTITION OF {qn(TABLE)} FOR VALUES FROM (%s) TO (%s)",
            [month, _next_month(month)],
        )
    cur.execute(f"CREATE TABLE {qn(DEFAULT_PARTITION)} PARTITION OF {qn(TABLE)} DEFAULT")
    cols = _columns()
    # Ids are copied as they are; the new table's sequence then continues after the highest.
    cur.execute(f"INSERT INTO {qn(TABLE)} ({cols}) SELECT {cols} FROM {qn(_OLD)}")  # noqa: S608 - names from the model
    cur.execute(f"DROP TABLE {qn(_OLD)}")
    cur.execute(
        f"SELECT setval(pg_get_serial_sequence(%s, 'id'), COALESCE(MAX(id), 0) + 1, false) FROM {qn(TABLE)}",  # noqa: S608
        [TABLE],
    )
    cur.execute("SELECT pg_get_serial_sequence(%s, 'id')", [TABLE])
    sequence = str(cur.fetchone()[0])
    if sequence != f"public.{TABLE}_id_seq":  # LIKE named it after the old table's, now dropped
        cur.execute(f"ALTER SEQUENCE {sequence} RENAME TO {qn(TABLE + '_id_seq')}")


def _constrain(cur: CursorWrapper, foreign_keys: list[tuple[str, str]]) -> None:
    """Keys, indexes and foreign keys of the partitioned table (each propagates to every partition)."""
    qn = connection.ops.quote_name
    cur.execute(f"ALTER TABLE {qn(TABLE)} ADD CONSTRAINT {qn(TABLE + '_pkey')} PRIMARY KEY ({', '.join(PRIMARY_KEY)})")
    cur.execute(
        f"ALTER TABLE {qn(TABLE)} ADD CONSTRAINT {qn(TABLE + '_identity_key')} UNIQUE ({', '.join(IDENTITY_KEY)})"
    )
    for name, columns in INDEXES.items():
        cur.execute(f"CREATE INDEX {qn(name)} ON {qn(TABLE)} ({', '.join(qn(c) for c in columns)})")
    for name, definition in foreign_keys:
        cur.execute(f"ALTER TABLE {qn(TABLE)} ADD CONSTRAINT {qn(name)} {definition}")
    cur.execute(f"ANALYZE {qn(TABLE)}")


def partition_line_items(*, at: dt.datetime | None = None) -> list[dt.date]:
    """Convert the line items table into one partitioned by month: a partition for each month
    that has line items and for the current and next month (billing time zone), plus a DEFAULT
    partition for any other. Runs in one transaction under the ingestion lock; returns the months
    partitioned. PostgreSQL only; refuses a table already partitioned."""
    if connection.vendor != "postgresql":
        raise PartitioningError("Partitioning line items needs PostgreSQL; this database is " + connection.vendor + ".")
    today = clock.billing_date(at or clock.now())
    with transaction.atomic():
        _hold_ledger()
        if is_partitioned():
            raise PartitioningError(f"{TABLE} is already partitioned.")
        with connection.cursor() as cur:
            foreign_keys = _foreign_keys(cur)
            # Deferred foreign-key checks of rows written earlier in this transaction would forbid
            # altering the table: run them now.
            if foreign_keys:
                cur.execute(
                    f"SET CONSTRAINTS {', '.join(connection.ops.quote_name(n) for n, _ in foreign_keys)} IMMEDIATE"
                )
            cur.execute(
                f"SELECT DISTINCT date_trunc('month', charge_day)::date FROM {connection.ops.quote_name(TABLE)}"  # noqa: S608
            )
            months = sorted({r[0] for r in cur.fetchall()} | {_month(today), _next_month(_month(today))})
            _copy_into_partitions(cur, months)
            _constrain(cur, foreign_keys)
            if foreign_keys:
                cur.execute(
                    f"SET CONSTRAINTS {', '.join(connection.ops.quote_name(n) for n, _ in foreign_keys)} DEFERRED"
                )
    return months


def detach_month(month: dt.date, *, at: dt.datetime | None = None) -> str:
    """Detach ``month``'s partition from the line items and return its table's name: its rows stay
    in that table (to archive or drop) and leave every read of line items, while rollups and running
    totals keep their figures. Refuses the current month (billing time zone) and later ones."""
    month = _month(month)
    if month >= _month(clock.billing_date(at or clock.now())):
        raise PartitioningError(f"{month:%Y-%m} is not over yet: only past months can be detached.")
    with transaction.atomic():
        _hold_ledger()
        name = partitions().get(month)
        if name is None:
            raise PartitioningError(f"{TABLE} has no partition of {month:%Y-%m}.")
        if name != partition_name(month):
            raise PartitioningError(f"{name} holds more than {month:%Y-%m}: detach it by hand.")
        with connection.cursor() as cur:
            cur.execute(f"ALTER TABLE {TABLE} DETACH PARTITION {connection.ops.quote_name(name)}")
    return name
