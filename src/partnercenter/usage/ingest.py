"""The one path by which usage gets in.

A batch is validated completely and written in one transaction: rows are checked and written
chunk by chunk while no error has been seen; after the first error, the remaining rows are only
checked (to report every problem) and the transaction is rolled back at the end. So memory
stays flat, a good batch costs one pass, and a rejected batch writes nothing.

Idempotency: every row has a 16-byte identity (native: the line id; FOCUS: a digest of the
row's non-empty columns by name). Rows whose identity is already stored are counted as
"already present" and skipped; rollups and totals only take the new rows.

Concurrency: one ingestion at a time. SQLite's ``BEGIN IMMEDIATE`` (settings) takes the write
lock at the start of the transaction; on PostgreSQL a transaction-level advisory lock does.
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import json
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import compress
from operator import add as concat
from operator import itemgetter
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F

from partnercenter.core import clock, limits
from partnercenter.core.money import (
    CONTEXT,
    MAX_QUANTITY,
    InvalidAmount,
    canonical,
    is_currency,
    parse_ledger_amount,
    split,
)
from partnercenter.partners.models import Customer, CustomerAssociation

from . import formats, freshness, running
from .models import BillingMode, ClosedMonth, IngestBatch, LedgerVersion

CHUNK = 5_000
ROLLUP_FLUSH = 100_000  # rollup keys held in memory before they are added to the table
SQLITE_CACHE_KIB = 131_072  # SQLite page cache while a batch is written (the default is 2 MiB)
_ZERO = Decimal(0)
MAX_REPORTED_ERRORS = 100
MAX_LISTED_ACCOUNTS = 1_000
PRELOAD_CUSTOMERS = 200_000  # below this, one query loads every customer for a batch
_ADVISORY_LOCK_KEY = 0x50434E47  # "PCNG"

CATEGORIES = {"Usage", "Purchase", "Tax", "Credit", "Adjustment"}
BILLING_MODES = set(BillingMode.values)
SERVICE_TYPES = {"cloud", "marketplace"}

LINE_COLUMNS = (
    "identity",
    "batch_id",
    "customer_id",
    "partner_id",
    "association_type",
    "charge_period_start",
    "charge_period_end",
    "charge_day",
    "charge_month",
    "billing_period_start",
    "billing_period_end",
    "charge_category",
    "charge_class",
    "classification",
    "charge_description",
    "charge_frequency",
    "pricing_category",
    "billed_cost",
    "list_cost",
    "effective_cost",
    "billing_currency",
    "pricing_quantity",
    "pricing_unit",
    "provider_name",
    "publisher_name",
    "service_type",
    "service_name",
    "service_category",
    "sku_id",
    "region_id",
    "region_name",
    "resource_id",
    "resource_name",
    "resource_type",
    "x_project",
    "x_billing_mode",
    "x_order_id",
    "x_line_id",
    "is_correction",
    "source_row",
)
# What a row says, as stored (not what ingestion derived from it, nor when): two native rows with
# one line id must agree on all of these. Stored column -> logical field (formats.FIELDS).
CONTENT_COLUMNS = {
    "customer_id": "account",
    "charge_period_start": "start",
    "charge_period_end": "end",
    "billing_period_start": "billing_period_start",
    "billing_period_end": "billing_period_end",
    "charge_category": "category",
    "charge_class": "charge_class",
    "charge_description": "description",
    "charge_frequency": "frequency",
    "pricing_category": "pricing_category",
    "billed_cost": "billed_cost",
    "list_cost": "list_cost",
    "effective_cost": "effective_cost",
    "billing_currency": "currency",
    "pricing_quantity": "quantity",
    "pricing_unit": "unit",
    "provider_name": "provider",
    "publisher_name": "publisher",
    "service_type": "service_type",
    "service_name": "service_name",
    "service_category": "service_category",
    "sku_id": "sku",
    "region_id": "region_id",
    "region_name": "region_name",
    "resource_id": "resource_id",
    "resource_name": "resource_name",
    "resource_type": "resource_type",
    "x_project": "project",
    "x_billing_mode": "billing_mode",
    "x_order_id": "order_id",
}
_CONTENT_AT = [LINE_COLUMNS.index(c) for c in CONTENT_COLUMNS]
_SOURCE_ROW_AT = LINE_COLUMNS.index("source_row")
_LINE_ID_AT = LINE_COLUMNS.index("x_line_id")
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


@dataclass
class RowError:
    row: int
    column: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "reason": self.reason}


@dataclass
class Report:
    """What a batch did; ``batch_id`` is None when it was rejected."""

    source: str
    file_name: str
    format: str
    checksum: str
    rows_total: int = 0
    rows_new: int = 0
    rows_present: int = 0
    rows_corrections: int = 0
    totals: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0
    unknown_accounts: list[str] = field(default_factory=list)
    batch_id: int | None = None

    @property
    def accepted(self) -> bool:
        return self.error_count == 0

    def totals_as_strings(self) -> dict[str, dict[str, str]]:
        return {cur: {k: format(v, "f") for k, v in sorted(t.items())} for cur, t in sorted(self.totals.items())}

    def as_dict(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "status": "accepted" if self.accepted else "rejected",
            "source": self.source,
            "file_name": self.file_name,
            "format": self.format,
            "checksum": self.checksum,
            "rows_total": self.rows_total,
            "rows_new": self.rows_new,
            "rows_present": self.rows_present,
            "rows_corrections": self.rows_corrections,
            "totals": self.totals_as_strings(),
            "error_count": self.error_count,
            "errors": [e.as_dict() for e in self.errors],
            "unknown_accounts": self.unknown_accounts,
        }


class _Rollback(Exception):
    pass


class _Context:
    """Per-batch caches: customers, associations, time parsing, closed months."""

    def __init__(self) -> None:
        self.tz = settings.BILLING_TIME_ZONE
        self.customers: dict[str, tuple[int, list[dt.datetime], list[tuple[dt.datetime | None, int, str]]] | None] = {}
        self.times: dict[str, tuple[dt.datetime, dt.date, dt.date]] = {}
        self.closed = set(ClosedMonth.objects.values_list("partner_id", "month"))
        self.preloaded = False

    def customer(self, account: str) -> tuple[int, list[dt.datetime], list[tuple[dt.datetime | None, int, str]]] | None:
        if account in self.customers:
            return self.customers[account]
        if not self.preloaded:
            self.preloaded = True
            if self._preload():
                return self.customers.get(account)
        c = Customer.objects.filter(account_id=account).values_list("pk", flat=True).first()
        if c is None:
            self.customers[account] = None
            return None
        assocs = list(
            CustomerAssociation.objects.filter(customer_id=c)
            .order_by("valid_from")
            .values_list("valid_from", "valid_to", "partner_id", "association_type")
        )
        entry = (c, [a[0] for a in assocs], [(a[1], a[2], a[3]) for a in assocs])
        self.customers[account] = entry
        return entry

    def _preload(self) -> bool:
        """Load every customer and association in two queries when there are not too many."""
        if Customer.objects.count() > PRELOAD_CUSTOMERS:
            return False
        ids = dict(Customer.objects.values_list("pk", "account_id"))
        by_customer: dict[int, list[tuple[dt.datetime, dt.datetime | None, int, str]]] = defaultdict(list)
        for row in CustomerAssociation.objects.order_by("customer_id", "valid_from").values_list(
            "customer_id", "valid_from", "valid_to", "partner_id", "association_type"
        ):
            by_customer[row[0]].append(row[1:])
        for pk, account in ids.items():
            assocs = by_customer.get(pk, [])
            self.customers[account] = (pk, [a[0] for a in assocs], [(a[1], a[2], a[3]) for a in assocs])
        return True

    def time(self, text: str) -> tuple[dt.datetime, dt.date, dt.date]:
        hit = self.times.get(text)
        if hit is not None:
            return hit
        value = dt.datetime.fromisoformat(text)
        if value.tzinfo is None:
            raise ValueError("needs a time zone (FOCUS timestamps are UTC, e.g. 2026-05-01T00:00:00Z)")
        value = limits.check_instant(value).astimezone(dt.UTC)
        local = value.astimezone(self.tz).date()
        hit = (value, local, local.replace(day=1))
        if len(self.times) < 200_000:
            self.times[text] = hit
        return hit


def _time_problem(text: str, e: ValueError) -> str:
    if isinstance(e, limits.OutOfRange):
        return f"{text!r} is {e}"
    return f"{text!r} is not an ISO 8601 timestamp ({e})"


def _quantity(text: str) -> Decimal:
    return parse_ledger_amount(text, MAX_QUANTITY)


def _differences(new: tuple[Any, ...], old: tuple[Any, ...] | list[Any], col_name: dict[str, str]) -> list[str]:
    """The columns in which a row's content (``new``, a LINE_COLUMNS tuple) differs from ``old``
    (CONTENT_COLUMNS values). Values compare as values: 1.50 equals 1.5, instants by the instant."""
    names = CONTENT_COLUMNS.values()
    return [col_name[logical] for i, o, logical in zip(_CONTENT_AT, old, names, strict=True) if new[i] != o]


def _content(values: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(values[i] for i in _CONTENT_AT)


def _stored_clashes(
    writer: _Writer, rows: list[tuple[Any, ...]], batch_id: int, col_name: dict[str, str]
) -> tuple[set[bytes], list[tuple[int, str]]]:
    """Native rows whose line id is already stored: their identities, and (row, reason) for each
    one whose content differs from the stored row's."""
    stored = writer.stored([r[0] for r in rows])
    clashes: list[tuple[int, str]] = []
    if not stored:
        return set(), clashes
    names: dict[int, str] = {}
    for r in rows:
        old = stored.get(r[0])
        if old is None:
            continue
        diff = _differences(r, old[2:], col_name)
        if not diff:
            continue
        old_batch, old_row = old[0], old[1]
        if old_batch == batch_id:
            where = f"row {old_row} of this batch"
        else:
            if old_batch not in names:
                names[old_batch] = (
                    IngestBatch.objects.filter(pk=old_batch).values_list("file_name", flat=True).first() or ""
                )
            where = f"batch #{old_batch}" + (f" {names[old_batch]!r}" if names[old_batch] else "")
            where += f", row {old_row}" if old_row else ""
        clashes.append(
            (
                r[_SOURCE_ROW_AT],
                f"line id {r[_LINE_ID_AT]!r} is already stored ({where}) with a different {', '.join(diff)}",
            )
        )
    return set(stored), clashes


def _classify(category: str, billed: Decimal) -> str:
    if category in ("Usage", "Purchase"):
        return "expenditure" if billed >= 0 else "refund"
    if category == "Tax":
        return "tax"
    return "adjustment"


def _billing_mode(explicit: str, frequency: str, category: str) -> str:
    if explicit:
        return explicit
    if frequency == "Usage-Based":
        return "pay_per_use"
    if frequency == "Recurring":
        return "prepaid_monthly"
    if frequency == "One-Time" and category == "Purchase":
        return "prepaid_yearly"
    return "other"


def _project_from_tags(tags: str) -> str:
    if "roject" not in tags:
        return ""
    try:
        parsed = json.loads(tags)
    except ValueError:
        return ""
    if isinstance(parsed, dict):
        for key in ("x_Project", "Project", "project"):
            if parsed.get(key):
                return str(parsed[key])[:100]
    return ""


class _Writer:
    """Engine-specific bulk writes inside the current transaction."""

    def __init__(self) -> None:
        connection.ensure_connection()
        self.vendor = connection.vendor
        self.raw = connection.connection
        q = ", ".join(LINE_COLUMNS)
        self.insert_sql = f"INSERT INTO usage_lineitem ({q}) VALUES ({', '.join('?' * len(LINE_COLUMNS))})"
        self.copy_sql = f"COPY usage_lineitem ({q}) FROM STDIN"

    def lock(self) -> None:
        if self.vendor == "postgresql":
            with connection.cursor() as c:
                c.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_LOCK_KEY])

    def existing(self, identities: list[bytes]) -> set[bytes]:
        if not identities:
            return set()
        found: set[bytes] = set()
        if self.vendor == "postgresql":
            # One query per chunk, the array sent as a bound parameter (Django's cursors bind on
            # the client, which spells every identity out in the SQL text).
            import psycopg

            with psycopg.Cursor(self.raw) as pcur:
                pcur.execute("SELECT identity FROM usage_lineitem WHERE identity = ANY(%s)", [identities])
                found.update(bytes(r[0]) for r in pcur.fetchall())
            return found
        cur = self.raw.cursor()
        step = 900
        for i in range(0, len(identities), step):
            part = identities[i : i + step]
            cur.execute(f"SELECT identity FROM usage_lineitem WHERE identity IN ({','.join('?' * len(part))})", part)
            found.update(bytes(r[0]) for r in cur.fetchall())
        return found

    def stored(self, identities: list[bytes]) -> dict[bytes, tuple[Any, ...]]:
        """Rows already stored under these identities: (batch id, source row, *CONTENT_COLUMNS)."""
        cols = ", ".join(("identity", "batch_id", "source_row", *CONTENT_COLUMNS))
        found: dict[bytes, tuple[Any, ...]] = {}
        if self.vendor == "postgresql":
            import psycopg

            with psycopg.Cursor(self.raw) as pcur:
                pcur.execute(f"SELECT {cols} FROM usage_lineitem WHERE identity = ANY(%s)", [identities])
                found.update((bytes(r[0]), tuple(r[1:])) for r in pcur.fetchall())
            return found
        cur = self.raw.cursor()
        for i in range(0, len(identities), 900):
            part = identities[i : i + 900]
            cur.execute(f"SELECT {cols} FROM usage_lineitem WHERE identity IN ({','.join('?' * len(part))})", part)
            # The connection parses datetime columns; ingestion compares the text it writes.
            found.update(
                (bytes(r[0]), tuple(v.isoformat(" ") if isinstance(v, dt.datetime) else v for v in r[1:]))
                for r in cur.fetchall()
            )
        return found

    def insert(self, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        if self.vendor == "postgresql":
            with self.raw.cursor() as cur, cur.copy(self.copy_sql) as copy:
                for r in rows:
                    copy.write_row(r)
        else:
            self.raw.executemany(self.insert_sql, rows)

    def upsert_rollups(self, deltas: dict[tuple[Any, ...], list[Any]]) -> None:
        if not deltas:
            return
        cols = ", ".join((*ROLLUP_KEY, "amount", "line_count"))
        key = ", ".join(ROLLUP_KEY)
        # In key order, so that the rollup's unique index is walked once rather than at random.
        keys = sorted(deltas)
        if self.vendor == "postgresql":
            # COPY into a scratch table, then one INSERT ... ON CONFLICT: a statement per key costs
            # a round trip each.
            with self.raw.cursor() as cur:
                cur.execute(
                    f"CREATE TEMP TABLE IF NOT EXISTS pc_rollup_delta ON COMMIT DROP AS "
                    f"SELECT {cols} FROM usage_dailyrollup WITH NO DATA"
                )
                cur.execute("TRUNCATE pc_rollup_delta")
                with cur.copy(f"COPY pc_rollup_delta ({cols}) FROM STDIN") as copy:
                    for k in keys:
                        v = deltas[k]
                        copy.write_row((*k, v[0], v[1]))
                cur.execute(
                    f"INSERT INTO usage_dailyrollup ({cols}) SELECT {cols} FROM pc_rollup_delta "
                    f"ON CONFLICT ({key}) DO UPDATE SET amount = usage_dailyrollup.amount + excluded.amount, "
                    "line_count = usage_dailyrollup.line_count + excluded.line_count"
                )
        else:
            sql = (
                f"INSERT INTO usage_dailyrollup ({cols}) VALUES ({', '.join('?' * (len(ROLLUP_KEY) + 2))}) "
                f"ON CONFLICT ({key}) DO UPDATE SET amount = exact_add(amount, excluded.amount), "
                "line_count = line_count + excluded.line_count"
            )
            rows = []
            for k in keys:
                v = deltas[k]
                rows.append((k[0].isoformat(), *k[1:], canonical(v[0]), v[1]))
            self.raw.executemany(sql, rows)
        self._upsert_customer_totals(deltas)

    def _upsert_customer_totals(self, deltas: dict[tuple[Any, ...], list[Any]]) -> None:
        """The per-customer running totals the expenditure summary reads (usage/running.py)."""
        per: dict[tuple[Any, ...], list[int]] = {}
        offsets = {c: 3 * i for i, c in enumerate(("expenditure", "refund", "adjustment", "tax"))}
        for k, (amount, count) in deltas.items():
            ckey = (k[0], k[1], k[2], k[3], k[10])  # day, customer, partner, association type, currency
            slot = per.get(ckey)
            if slot is None:
                slot = per[ckey] = [0] * 13
            o = offsets[k[9]]
            units, hi, lo = split(amount)
            slot[o] += units
            slot[o + 1] += hi
            slot[o + 2] += lo
            slot[12] += count
        running.apply(per)


def bump_ledger_version() -> None:
    """Mark the ledger as changed (inside the writing transaction): cached figures expire."""
    if not LedgerVersion.objects.filter(pk=1).update(version=F("version") + 1):
        LedgerVersion.objects.create(pk=1, version=1)


def ledger_version() -> int:
    return LedgerVersion.objects.filter(pk=1).values_list("version", flat=True).first() or 0


def _sqlite_dt(value: dt.datetime | None) -> str | None:
    # Django's SQLite format for aware datetimes under USE_TZ: naive UTC text.
    if value is None:
        return None
    return value.replace(tzinfo=None).isoformat(" ")


@contextmanager
def _sqlite_page_cache() -> Iterator[None]:
    """A larger SQLite page cache while the batch is written: the line-item indexes (identity
    above all) are updated at random places, and a 2 MiB cache spills and re-reads pages all the
    time. Connection-level and not persistent; the previous size is restored."""
    if connection.vendor != "sqlite":
        yield
        return
    raw = connection.connection
    before = raw.execute("PRAGMA cache_size").fetchone()[0]
    raw.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
    try:
        yield
    finally:
        raw.execute(f"PRAGMA cache_size = {int(before)}")


def run(
    source: formats.Source,
    *,
    fmt: str,
    source_name: str,
    file_name: str,
    checksum: str,
    actor: Any = None,
) -> Report:
    """Validate and write one batch; returns its report (rejected or accepted)."""
    report = Report(source=source_name, file_name=file_name, format=fmt, checksum=checksum)
    header = source.header
    missing = [c for c in formats.required_columns(fmt) if c not in header]
    if missing:
        report.error_count = 1
        report.errors.append(RowError(1, ", ".join(missing), f"missing required column(s): {', '.join(missing)}"))
        return report
    try:
        with transaction.atomic(), _sqlite_page_cache():
            _run_in_transaction(source, fmt, report, actor)
            if not report.accepted:
                raise _Rollback
    except _Rollback:
        report.batch_id = None
        report.rows_new = report.rows_present = report.rows_corrections = 0
        report.totals = {}
    return report


def _run_in_transaction(source: formats.Source, fmt: str, report: Report, actor: Any) -> None:
    # The loop below runs once per row (millions per batch): fields are picked with one
    # itemgetter, timestamps and tag lookups are cached, and the write work is batched.
    header = source.header
    width = len(header)
    idx = {name: i for i, name in enumerate(header)}
    # Every row is made ``width`` long and gets one extra "" at index ``width``, which absent
    # columns point at: an absent or short column reads as "", as before.
    col = {logical: idx.get(formats.column_name(fmt, logical), width) for logical in formats.FIELDS}
    col_name = {logical: formats.column_name(fmt, logical) for logical in formats.FIELDS}
    native = fmt == formats.NATIVE
    pick = itemgetter(
        *(
            col[f]
            for f in (
                "account",
                "category",
                "billed_cost",
                "currency",
                "start",
                "end",
                "list_cost",
                "effective_cost",
                "quantity",
                "billing_mode",
                "frequency",
                "provider",
                "publisher",
                "service_type",
                "line_id",
            )
        )
    )
    pick_rest = itemgetter(
        *(
            col[f]
            for f in (
                "project",
                "tags",
                "billing_period_start",
                "billing_period_end",
                "service_name",
                "region_id",
                "charge_class",
                "description",
                "pricing_category",
                "unit",
                "service_category",
                "sku",
                "region_name",
                "resource_id",
                "resource_name",
                "resource_type",
                "order_id",
            )
        )
    )

    # FOCUS identity: every non-empty column by name, in name order, so column order and absent
    # empty columns do not change it. Built as "name=value" joined by \x1f.
    order = sorted(range(width), key=lambda i: header[i])
    pick_ordered = itemgetter(*order, width)  # the trailing "" keeps it a tuple for one column
    prefixes = [f"{header[i]}=" for i in order]
    blake2b = hashlib.blake2b

    writer = _Writer()
    writer.lock()
    now = clock.now()
    batch = IngestBatch.objects.create(
        source=report.source,
        file_name=report.file_name[:500],
        format=fmt,
        checksum=report.checksum,
        started_at=now,
        finished_at=now,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    batch_id = batch.pk
    ctx = _Context()
    closed = ctx.closed
    # Months are closed oldest first from the ledger's first billed month: a row for a month
    # before a partner's first closed month arrives after that month's bill was due, so it is a
    # correction too, carried by the next bill (rule B2).
    first_closed: dict[int, dt.date] = {}
    for closed_partner, closed_month in closed:
        if closed_month < first_closed.get(closed_partner, dt.date.max):
            first_closed[closed_partner] = closed_month
    pg = writer.vendor == "postgresql"
    unknown: set[str] = set()
    deltas: dict[tuple[Any, ...], list[Any]] = {}
    totals: dict[tuple[str, str], Decimal] = {}
    complete_until: dt.datetime | None = None
    pending: list[tuple[Any, ...]] = []
    pending_meta: list[tuple[tuple[Any, ...], Decimal, str, str, bool]] = []
    # identity -> (row number, values) of the chunk's rows: a repeated native line id is compared
    seen_in_chunk: dict[bytes, tuple[int, tuple[Any, ...]]] = {}
    chunk = CHUNK
    add = CONTEXT.add
    parse_amount = parse_ledger_amount
    to_text = canonical
    amount_errors = InvalidAmount

    # timestamp text -> (UTC datetime, day, month, and their SQLite texts); via ctx.time, which
    # raises the ValueError reported for a bad timestamp.
    times: dict[str, tuple[Any, ...]] = {}

    def time(text: str) -> tuple[Any, ...]:
        value, day, month = ctx.time(text)
        hit = (value, day, month, _sqlite_dt(value), day.isoformat(), month.isoformat())
        if len(times) < 200_000:
            times[text] = hit
        return hit

    projects: dict[str, str] = {}

    def project_from_tags(tags: str) -> str:
        hit = projects.get(tags)
        if hit is None:
            hit = _project_from_tags(tags)
            if len(projects) < 50_000:
                projects[tags] = hit
        return hit

    def error(row_no: int, column: str, reason: str) -> None:
        report.error_count += 1
        if len(report.errors) < MAX_REPORTED_ERRORS:
            report.errors.append(RowError(row_no, column, reason))

    def flush() -> None:
        if not pending:
            return
        if native:
            present, clashes = _stored_clashes(writer, pending, batch_id, col_name)
            for clash_row, reason in clashes:
                error(clash_row, col_name["line_id"], reason)
            if clashes:
                pending.clear()
                pending_meta.clear()
                seen_in_chunk.clear()
                return
        else:
            present = writer.existing([r[0] for r in pending])
        if present:
            keep = [r[0] not in present for r in pending]
            fresh = [r for r, k in zip(pending, keep, strict=True) if k]
            metas = [m for m, k in zip(pending_meta, keep, strict=True) if k]
            report.rows_present += len(pending) - len(fresh)
        else:
            fresh, metas = pending, pending_meta
        corrections = 0
        for key, billed, cls, currency, correction in metas:
            slot = deltas.get(key)
            if slot is None:
                deltas[key] = [billed, 1]
            else:
                slot[0] = add(slot[0], billed)
                slot[1] += 1
            tkey = (currency, cls)
            totals[tkey] = add(totals.get(tkey, _ZERO), billed)
            corrections += correction
        report.rows_corrections += corrections
        writer.insert(fresh)
        report.rows_new += len(fresh)
        pending.clear()
        pending_meta.clear()
        seen_in_chunk.clear()
        if len(deltas) >= ROLLUP_FLUSH:
            # Memory stays flat however many days x customers x services a batch spans: the
            # rollups so far are added to the table (the same sums, in steps).
            writer.upsert_rollups(deltas)
            deltas.clear()

    row_no = source.first_row - 1
    for row in source.rows:
        row_no += 1
        if len(row) != width:
            # A short row, an extra (unquoted) comma or a quote swallowing a line shifts columns:
            # nothing in it can be trusted.
            error(row_no, "", f"line {source.line or row_no} has {len(row)} field(s); the header has {width}")
            continue
        nul = next((i for i, v in enumerate(row) if "\x00" in v), None)
        if nul is not None:
            # No stored value contains it, and PostgreSQL text cannot hold it.
            error(row_no, header[nul], "contains the NUL character (U+0000)")
            continue
        row.append("")
        (
            account,
            category,
            billed_text,
            currency,
            start_text,
            end_text,
            lc_text,
            ec_text,
            q_text,
            mode,
            frequency,
            provider,
            publisher,
            service_type,
            line_id,
        ) = pick(row)
        account = account.strip()
        if not account:
            error(row_no, col_name["account"], "missing value")
            entry = None
        else:
            entry = ctx.customers.get(account)
            if entry is None:
                entry = ctx.customer(account)
            if entry is None:
                if len(unknown) < MAX_LISTED_ACCOUNTS:
                    unknown.add(account)
                error(row_no, col_name["account"], f"unknown customer account {account!r}")
        if category not in CATEGORIES:
            error(row_no, col_name["category"], f"{category!r} is not one of {', '.join(sorted(CATEGORIES))}")
        try:
            billed = parse_amount(billed_text)
            billed_ok = True
        except amount_errors as e:
            error(row_no, col_name["billed_cost"], f"{billed_text!r}: {e}")
            billed = Decimal(0)
            billed_ok = False
        currency = currency.strip().upper()
        if len(currency) != 3 or not currency.isalpha():
            error(row_no, col_name["currency"], f"{currency!r} is not a 3-letter currency code")
        elif not is_currency(currency):
            error(row_no, col_name["currency"], f"{currency!r} is not an ISO 4217 currency code")
        start = end = None
        try:
            t_start = times.get(start_text) or time(start_text)
            start = t_start[0]
        except ValueError as e:
            error(row_no, col_name["start"], _time_problem(start_text, e))
        try:
            t_end = times.get(end_text) or time(end_text)
            end = t_end[0]
        except ValueError as e:
            error(row_no, col_name["end"], _time_problem(end_text, e))
        if start is not None and end is not None and end < start:
            error(row_no, col_name["end"], "ends before ChargePeriodStart")
        list_cost = effective_cost = quantity = None
        # List and effective cost are often the billed cost's very text: parsed once then.
        if lc_text:
            if billed_ok and lc_text == billed_text:
                list_cost = billed
            else:
                try:
                    list_cost = parse_amount(lc_text)
                except amount_errors as e:
                    error(row_no, col_name["list_cost"], f"{lc_text!r}: {e}")
        if ec_text:
            if billed_ok and ec_text == billed_text:
                effective_cost = billed
            else:
                try:
                    effective_cost = parse_amount(ec_text)
                except amount_errors as e:
                    error(row_no, col_name["effective_cost"], f"{ec_text!r}: {e}")
        if q_text:
            try:
                quantity = _quantity(q_text)
            except amount_errors as e:
                error(row_no, col_name["quantity"], f"{q_text!r}: {e}")
        if not mode:
            if frequency == "Usage-Based":
                mode = "pay_per_use"
            elif frequency == "Recurring":
                mode = "prepaid_monthly"
            elif frequency == "One-Time" and category == "Purchase":
                mode = "prepaid_yearly"
            else:
                mode = "other"
        if mode not in BILLING_MODES:
            error(row_no, col_name["billing_mode"], f"{mode!r} is not one of {', '.join(sorted(BILLING_MODES))}")
        if not service_type:
            service_type = "marketplace" if publisher and provider and publisher != provider else "cloud"
        if service_type not in SERVICE_TYPES:
            error(row_no, col_name["service_type"], f"{service_type!r} is not cloud or marketplace")
        if native and not line_id:
            error(row_no, col_name["line_id"], "missing value")
        partner_id = assoc_type = None
        if entry is not None and start is not None:
            customer_id, starts, rest = entry
            k = bisect.bisect_right(starts, start) - 1
            valid_to = rest[k][0] if k >= 0 else None
            if k >= 0 and (valid_to is None or start < valid_to):
                partner_id, assoc_type = rest[k][1], rest[k][2]
            else:
                error(row_no, col_name["start"], f"customer {account!r} has no partner association in force then")
        if report.error_count:
            continue  # after the first error, only validate
        assert start is not None and end is not None and entry is not None
        if native:
            identity = blake2b(f"native\x1f{line_id}".encode(), digest_size=16).digest()
        else:
            values_by_name = pick_ordered(row)
            identity = blake2b(
                "\x1f".join(map(concat, compress(prefixes, values_by_name), filter(None, values_by_name))).encode(),
                digest_size=16,
            ).digest()
        (
            project,
            tags,
            bp_start,
            bp_end,
            service_name,
            region_id,
            charge_class,
            description,
            pricing_category,
            unit,
            service_category,
            sku,
            region_name,
            resource_id,
            resource_name,
            resource_type,
            order_id,
        ) = pick_rest(row)
        if not project:
            project = project_from_tags(tags) if "roject" in tags else ""
        if category == "Usage" or category == "Purchase":
            cls = "expenditure" if billed >= 0 else "refund"
        elif category == "Tax":
            cls = "tax"
        else:
            cls = "adjustment"
        day, month = t_start[1], t_start[2]
        correction = (partner_id, month) in closed or (
            partner_id is not None and month < first_closed.get(partner_id, month)
        )
        try:
            t_bps = (times.get(bp_start) or time(bp_start)) if bp_start else None
        except ValueError as e:
            error(row_no, col_name["billing_period_start"], _time_problem(bp_start, e))
            continue
        try:
            t_bpe = (times.get(bp_end) or time(bp_end)) if bp_end else None
        except ValueError as e:
            error(row_no, col_name["billing_period_end"], _time_problem(bp_end, e))
            continue
        service_name = service_name[:200]
        region_id = region_id[:64]
        if pg:
            values: tuple[Any, ...] = (
                identity,
                batch_id,
                customer_id,
                partner_id,
                assoc_type,
                start,
                end,
                day,
                month,
                None if t_bps is None else t_bps[0],
                None if t_bpe is None else t_bpe[0],
                category,
                charge_class,
                cls,
                description[:500],
                frequency,
                pricing_category,
                billed,
                list_cost,
                effective_cost,
                currency,
                quantity,
                unit[:64],
                provider[:100],
                publisher[:100],
                service_type,
                service_name,
                service_category[:100],
                sku[:200],
                region_id,
                region_name[:100],
                resource_id[:500],
                resource_name[:200],
                resource_type[:100],
                project,
                mode,
                order_id[:100],
                line_id[:200],
                correction,
                row_no,
            )
        else:
            billed_stored = to_text(billed)
            values = (
                identity,
                batch_id,
                customer_id,
                partner_id,
                assoc_type,
                t_start[3],
                t_end[3],
                t_start[4],
                t_start[5],
                None if t_bps is None else t_bps[3],
                None if t_bpe is None else t_bpe[3],
                category,
                charge_class,
                cls,
                description[:500],
                frequency,
                pricing_category,
                billed_stored,
                None if list_cost is None else billed_stored if list_cost is billed else to_text(list_cost),
                None
                if effective_cost is None
                else billed_stored
                if effective_cost is billed
                else to_text(effective_cost),
                currency,
                None if quantity is None else to_text(quantity),
                unit[:64],
                provider[:100],
                publisher[:100],
                service_type,
                service_name,
                service_category[:100],
                sku[:200],
                region_id,
                region_name[:100],
                resource_id[:500],
                resource_name[:200],
                resource_type[:100],
                project,
                mode,
                order_id[:100],
                line_id[:200],
                correction,
                row_no,
            )
        prior = seen_in_chunk.get(identity)
        if prior is not None:
            diff = _differences(values, _content(prior[1]), col_name) if native else []
            if diff:
                error(
                    row_no,
                    col_name["line_id"],
                    f"line id {line_id!r} already appears on row {prior[0]} with a different {', '.join(diff)}",
                )
            else:
                report.rows_present += 1
            continue
        seen_in_chunk[identity] = (row_no, values)
        pending.append(values)
        pending_meta.append(
            (
                (
                    day,
                    customer_id,
                    partner_id,
                    assoc_type,
                    service_name,
                    service_type,
                    region_id,
                    project,
                    mode,
                    cls,
                    currency,
                ),
                billed,
                cls,
                currency,
                correction,
            )
        )
        if complete_until is None or end > complete_until:
            complete_until = end
        if len(pending) >= chunk:
            flush()

    report.rows_total = row_no - (source.first_row - 1)
    report.unknown_accounts = sorted(unknown)
    if report.rows_total == 0:
        error(1, "", "the batch has no rows")
    if report.accepted:
        flush()  # may still find a line id that clashes with a stored row
    if not report.accepted:
        return
    writer.upsert_rollups(deltas)
    by_currency: dict[str, dict[str, Decimal]] = {}
    for (currency, cls), value in totals.items():
        by_currency.setdefault(currency, {})[cls] = value
    report.totals = by_currency
    for t in report.totals.values():
        for cls in ("expenditure", "refund", "adjustment", "tax"):
            t.setdefault(cls, Decimal(0))
        t["net"] = CONTEXT.add(CONTEXT.add(t["expenditure"], t["refund"]), CONTEXT.add(t["adjustment"], t["tax"]))
        # refunds are negative rows; shown as a positive refund amount
        t["refund"] = -t["refund"] if t["refund"] else Decimal(0)
    if complete_until is not None:
        freshness.advance(report.source, complete_until)
    bump_ledger_version()
    IngestBatch.objects.filter(pk=batch_id).update(
        rows_total=report.rows_total,
        rows_new=report.rows_new,
        rows_present=report.rows_present,
        rows_corrections=report.rows_corrections,
        totals=report.totals_as_strings(),
        finished_at=clock.now(),
    )
    report.batch_id = batch_id
