"""Running totals per customer (``CustomerRunningTotal``): maintenance by ingestion and the
two-seek read that the expenditure summary uses.

Every amount is a split integer triple (core.money.split), so a running total is plain integer
addition and the total over a period is an integer subtraction, exact on both engines.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.db import connection

from .models import CustomerRunningTotal, CustomerTotalKey

VALUES = CustomerRunningTotal.VALUE_FIELDS  # 12 split-integer columns and line_count
WIDTH = len(VALUES)
CHUNK = 500
_TABLE = CustomerRunningTotal._meta.db_table
_KEYS = CustomerTotalKey._meta.db_table
_COLS = ", ".join(VALUES)
_UPDATE_SQL = f"UPDATE {_TABLE} SET {', '.join(f'{c} = %s' for c in VALUES)} WHERE id = %s"
_INSERT_SQL = f"INSERT INTO {_TABLE} (key_id, day, {_COLS}) VALUES ({', '.join(['%s'] * (WIDTH + 2))})"
_COPY_SQL = f"COPY {_TABLE} (key_id, day, {_COLS}) FROM STDIN"

KeyTuple = tuple[int, int, str, str]  # customer_id, partner_id, association_type, currency
_Row = tuple[dt.date, int, list[int]]  # a running-total row of a key: day, id, the values


def _key_ids(keys: Iterable[KeyTuple]) -> dict[KeyTuple, int]:
    wanted = set(keys)
    CustomerTotalKey.objects.bulk_create(
        [CustomerTotalKey(customer_id=c, partner_id=p, association_type=a, currency=cur) for c, p, a, cur in wanted],
        ignore_conflicts=True,
        batch_size=1000,
    )
    ids: dict[KeyTuple, int] = {}
    customers = sorted({k[0] for k in wanted})
    for i in range(0, len(customers), CHUNK):
        for pk, c, p, a, cur in CustomerTotalKey.objects.filter(customer_id__in=customers[i : i + CHUNK]).values_list(
            "pk", "customer_id", "partner_id", "association_type", "currency"
        ):
            if (c, p, a, cur) in wanted:
                ids[(c, p, a, cur)] = pk
    return ids


def _day(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)


def _by_key(deltas: Mapping[tuple[Any, ...], Sequence[int]]) -> dict[KeyTuple, dict[dt.date, list[int]]]:
    """The deltas summed per key and day."""
    by_key: dict[KeyTuple, dict[dt.date, list[int]]] = defaultdict(dict)
    for (day, customer, partner, assoc, currency), vec in deltas.items():
        slot = by_key[(customer, partner, assoc, currency)].setdefault(day, [0] * WIDTH)
        for i in range(WIDTH):
            slot[i] += vec[i]
    return by_key


def _current(
    cur: Any, key_ids: list[int], first: dt.date, pg: bool
) -> tuple[dict[int, list[_Row]], dict[int, list[int]]]:
    """Per key: its rows on or after ``first``, by day, and the values of its latest row before it."""
    marks = ", ".join(["%s"] * len(key_ids))
    day_param: Any = first if pg else first.isoformat()
    cur.execute(
        f"SELECT id, key_id, day, {_COLS} FROM {_TABLE} WHERE key_id IN ({marks}) AND day >= %s ORDER BY key_id, day",
        [*key_ids, day_param],
    )
    existing: dict[int, list[_Row]] = defaultdict(list)
    for row in cur.fetchall():
        existing[row[1]].append((_day(row[2]), row[0], list(row[3:])))
    cur.execute(
        f"SELECT k.id, r.{', r.'.join(VALUES)} FROM {_KEYS} k JOIN {_TABLE} r "
        f"ON r.id = (SELECT x.id FROM {_TABLE} x WHERE x.key_id = k.id AND x.day < %s "
        f"ORDER BY x.day DESC LIMIT 1) WHERE k.id IN ({marks})",
        [day_param, *key_ids],
    )
    return existing, {row[0]: list(row[1:]) for row in cur.fetchall()}


def _shifted(
    part: list[tuple[int, dict[dt.date, list[int]]]],
    existing: dict[int, list[_Row]],
    base: dict[int, list[int]],
    pg: bool,
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The UPDATE and INSERT parameters that add each key's deltas (``part``) to its rows."""
    updates: list[tuple[Any, ...]] = []
    inserts: list[tuple[Any, ...]] = []
    for key_id, days in part:
        rows = existing.get(key_id, [])
        row_days = [r[0] for r in rows]
        running = [0] * WIDTH  # cumulative delta so far
        delta_days = sorted(days)
        # Walk the union of existing and delta days in order.
        for day in sorted(set(row_days) | set(delta_days)):
            if day in days:
                vec = days[day]
                for j in range(WIDTH):
                    running[j] += vec[j]
            k = bisect.bisect_right(row_days, day) - 1
            if k >= 0 and row_days[k] == day:
                old = rows[k][2]
                updates.append((*[old[j] + running[j] for j in range(WIDTH)], rows[k][1]))
            else:
                prev = rows[k][2] if k >= 0 else base.get(key_id, [0] * WIDTH)
                inserts.append((key_id, day if pg else day.isoformat(), *[prev[j] + running[j] for j in range(WIDTH)]))
    return updates, inserts


def _insert(cur: Any, rows: list[tuple[Any, ...]], pg: bool) -> None:
    if not pg:
        cur.executemany(_INSERT_SQL, rows)
        return
    # COPY: a batch of a month adds a row per key and day, and a statement per row costs a round trip.
    with cur.cursor.copy(_COPY_SQL) as copy:
        for row in rows:
            copy.write_row(row)


def apply(deltas: Mapping[tuple[Any, ...], Sequence[int]]) -> None:
    """Add per-day deltas ``{(day, customer, partner, association_type, currency): [13 ints]}``.

    For each key: rows on or after the earliest delta day are shifted by the cumulative delta,
    and a row is inserted for each delta day that has none (its value: the latest earlier row
    plus the cumulative delta). Appending a new day costs one seek and one insert per key.
    """
    if not deltas:
        return
    by_key = _by_key(deltas)
    ids = _key_ids(by_key)
    pg = connection.vendor == "postgresql"
    items = sorted((ids[k], days) for k, days in by_key.items())
    with connection.cursor() as cur:
        for i in range(0, len(items), CHUNK):
            part = items[i : i + CHUNK]
            first = min(min(days) for _, days in part)
            # Rows on or after the chunk's earliest delta day, and each key's latest row before it.
            existing, base = _current(cur, [k for k, _ in part], first, pg)
            updates, inserts = _shifted(part, existing, base, pg)
            # Written per chunk of keys, so memory stays bounded however many keys a batch touches.
            if updates:
                cur.executemany(_UPDATE_SQL, updates)
            if inserts:
                _insert(cur, inserts, pg)


def _visible_from(windows: dict[int, dt.date], start: dt.date, end: dt.date) -> dict[int, dt.date]:
    """Each customer's first day in the period. A customer whose first visible day is after
    ``end`` has nothing to show; seeking it would subtract the days after ``end`` from the
    running total and give a negative: left out."""
    return {c: max(first, start) for c, first in windows.items() if max(first, start) <= end}


def _period_select(windows: dict[int, dt.date] | None, start: dt.date, end: dt.date, pg: bool) -> tuple[str, list[Any]]:
    """The SELECT of each key's running total at ``end`` minus the one before its period's first
    day (``start``, or the customer's day in ``windows``), and its parameters."""

    def p(d: dt.date) -> Any:
        return d if pg else d.isoformat()

    diff = ", ".join(f"a.{c} - COALESCE(b.{c}, 0)" for c in VALUES)
    params: list[Any] = []
    cte = ""
    lower = "%s"
    join_w = ""
    if windows is not None:
        values = ", ".join(["(%s, %s)"] * len(windows))
        cte = f"WITH w (customer_id, start_day) AS (VALUES {values}) "
        for customer_id, first in windows.items():
            params += [customer_id, p(first)]
        join_w = "JOIN w ON w.customer_id = k.customer_id "
        lower = "w.start_day::date" if pg else "w.start_day"
    sql = (
        f"{cte}SELECT k.customer_id, c.account_id, c.name, k.association_type, k.currency, {diff} FROM {_KEYS} k "
        f"JOIN partners_customer c ON c.id = k.customer_id {join_w}"
        f"JOIN {_TABLE} a ON a.id = (SELECT x.id FROM {_TABLE} x WHERE x.key_id = k.id AND x.day <= %s "
        "ORDER BY x.day DESC LIMIT 1) "
        f"LEFT JOIN {_TABLE} b ON b.id = (SELECT y.id FROM {_TABLE} y WHERE y.key_id = k.id AND y.day < {lower} "
        "ORDER BY y.day DESC LIMIT 1) WHERE 1 = 1"
    )
    params.append(p(end))
    if windows is None:
        params.append(p(start))
    else:
        # Narrow the keys first so the seeks run only for the manager's customers.
        sql += f" AND k.customer_id IN ({', '.join(['%s'] * len(windows))})"
        params += list(windows)
    return sql, params


def period_rows(
    partner_ids: list[int] | None,
    start: dt.date,
    end: dt.date,
    *,
    association_type: str = "",
    customer_subqueries: Sequence[tuple[str, Sequence[Any]]] = (),
    windows: dict[int, dt.date] | None = None,
) -> list[tuple[Any, ...]]:
    """Per key with charges in [start, end]:
    (customer_id, account_id, customer name, association_type, currency, 13 ints).

    ``windows`` (account managers, rule E3) maps customer id → first visible day; customers not
    in it are excluded and each one's period starts no earlier than its day.
    """
    if windows is not None:
        windows = _visible_from(windows, start, end)
        if not windows:
            return []
    if partner_ids is not None and not partner_ids:
        return []
    sql, params = _period_select(windows, start, end, connection.vendor == "postgresql")
    if partner_ids is not None:
        sql += f" AND k.partner_id IN ({', '.join(['%s'] * len(partner_ids))})"
        params += partner_ids
    if association_type:
        sql += " AND k.association_type = %s"
        params.append(association_type)
    for sub_sql, sub_params in customer_subqueries:
        sql += f" AND k.customer_id IN ({sub_sql})"
        params += list(sub_params)
    with connection.cursor() as cur:
        cur.execute(sql, params)
        # A key with no charge in the period has an unchanged running total: drop it.
        return [r for r in cur.fetchall() if r[-1]]
