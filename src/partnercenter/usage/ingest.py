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
import decimal
import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from partnercenter.core import clock
from partnercenter.core.errors import ValidationFailed
from partnercenter.core.money import CONTEXT, SCALE, canonical
from partnercenter.partners.models import Customer, CustomerAssociation

from . import formats
from .models import BillingMode, ClosedMonth, Freshness, IngestBatch

CHUNK = 5_000
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
)
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


class BatchRejected(ValidationFailed):
    code = "batch_rejected"


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


def _parse_amount(text: str) -> Decimal:
    d = Decimal(text)
    if not d.is_finite():
        raise decimal.InvalidOperation
    exp = d.as_tuple().exponent
    if isinstance(exp, int) and exp < -SCALE:
        # More places than we keep would be silently rounded: refuse instead.
        raise ValueError(f"more than {SCALE} decimal places")
    if d.adjusted() >= 23:
        raise ValueError("too large")
    return d


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
        value = value.astimezone(dt.UTC)
        local = value.astimezone(self.tz).date()
        hit = (value, local, local.replace(day=1))
        if len(self.times) < 200_000:
            self.times[text] = hit
        return hit


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
        cur = self.raw.cursor()
        step = 900
        for i in range(0, len(identities), step):
            part = identities[i : i + step]
            if self.vendor == "postgresql":
                cur.execute("SELECT identity FROM usage_lineitem WHERE identity = ANY(%s)", [part])
            else:
                cur.execute(
                    f"SELECT identity FROM usage_lineitem WHERE identity IN ({','.join('?' * len(part))})", part
                )
            found.update(bytes(r[0]) for r in cur.fetchall())
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
        cols = (*ROLLUP_KEY, "amount", "line_count")
        key = ", ".join(ROLLUP_KEY)
        if self.vendor == "postgresql":
            sql = (
                f"INSERT INTO usage_dailyrollup ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))}) "
                f"ON CONFLICT ({key}) DO UPDATE SET amount = usage_dailyrollup.amount + excluded.amount, "
                "line_count = usage_dailyrollup.line_count + excluded.line_count"
            )
            rows = [(*k, v[0], v[1]) for k, v in deltas.items()]
            with self.raw.cursor() as cur:
                cur.executemany(sql, rows)
        else:
            sql = (
                f"INSERT INTO usage_dailyrollup ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
                f"ON CONFLICT ({key}) DO UPDATE SET amount = exact_add(amount, excluded.amount), "
                "line_count = line_count + excluded.line_count"
            )
            rows = [(k[0].isoformat(), *k[1:], canonical(v[0]), v[1]) for k, v in deltas.items()]
            self.raw.executemany(sql, rows)


def _sqlite_dt(value: dt.datetime | None) -> str | None:
    # Django's SQLite format for aware datetimes under USE_TZ: naive UTC text.
    if value is None:
        return None
    return value.replace(tzinfo=None).isoformat(" ")


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
        with transaction.atomic():
            _run_in_transaction(source, fmt, report, actor)
            if not report.accepted:
                raise _Rollback
    except _Rollback:
        report.batch_id = None
        report.rows_new = report.rows_present = report.rows_corrections = 0
        report.totals = {}
    return report


def _run_in_transaction(source: formats.Source, fmt: str, report: Report, actor: Any) -> None:
    header = source.header
    idx = {name: i for i, name in enumerate(header)}
    col = {logical: idx.get(formats.column_name(fmt, logical)) for logical in formats.FIELDS}
    i_account, i_billed, i_currency, i_category, i_start, i_end = (col[f] for f in formats.REQUIRED)
    i_line = col["line_id"]

    def get(row: list[str], i: int | None) -> str:
        return row[i] if i is not None and i < len(row) else ""

    # FOCUS identity: every non-empty column by name, in name order, so column order and absent
    # empty columns do not change it.
    order = sorted(range(len(header)), key=lambda i: header[i])
    names = [header[i] for i in order]

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
    pg = writer.vendor == "postgresql"
    unknown: set[str] = set()
    deltas: dict[tuple[Any, ...], list[Any]] = {}
    totals: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    complete_until: dt.datetime | None = None
    pending: list[tuple[Any, ...]] = []
    pending_meta: list[tuple[tuple[Any, ...], Decimal, str, str, bool]] = []
    seen_in_chunk: set[bytes] = set()

    def error(row_no: int, column: str, reason: str) -> None:
        report.error_count += 1
        if len(report.errors) < MAX_REPORTED_ERRORS:
            report.errors.append(RowError(row_no, column, reason))

    def flush() -> None:
        if not pending:
            return
        present = writer.existing([r[0] for r in pending])
        fresh = []
        for r, meta in zip(pending, pending_meta, strict=True):
            if r[0] in present:
                report.rows_present += 1
                continue
            fresh.append(r)
            key, billed, cls, currency, correction = meta
            slot = deltas.get(key)
            if slot is None:
                deltas[key] = [billed, 1]
            else:
                slot[0] = CONTEXT.add(slot[0], billed)
                slot[1] += 1
            t = totals[currency]
            t[cls] = CONTEXT.add(t[cls], billed)
            report.rows_corrections += correction
        writer.insert(fresh)
        report.rows_new += len(fresh)
        pending.clear()
        pending_meta.clear()
        seen_in_chunk.clear()

    col_name = {logical: formats.column_name(fmt, logical) for logical in formats.FIELDS}
    row_no = 1
    for row in source.rows:
        row_no += 1
        report.rows_total += 1
        account = get(row, i_account).strip()
        if not account:
            error(row_no, col_name["account"], "missing value")
            entry = None
        else:
            entry = ctx.customer(account)
            if entry is None:
                if len(unknown) < MAX_LISTED_ACCOUNTS:
                    unknown.add(account)
                error(row_no, col_name["account"], f"unknown customer account {account!r}")
        category = get(row, i_category)
        if category not in CATEGORIES:
            error(row_no, col_name["category"], f"{category!r} is not one of {', '.join(sorted(CATEGORIES))}")
        billed_text = get(row, i_billed)
        try:
            billed = _parse_amount(billed_text)
        except (decimal.InvalidOperation, ValueError) as e:
            reason = str(e) if isinstance(e, ValueError) and str(e) else "not a decimal number"
            error(row_no, col_name["billed_cost"], f"{billed_text!r}: {reason}")
            billed = Decimal(0)
        currency = get(row, i_currency).strip().upper()
        if len(currency) != 3 or not currency.isalpha():
            error(row_no, col_name["currency"], f"{currency!r} is not a 3-letter currency code")
        start_text, end_text = get(row, i_start), get(row, i_end)
        start = end = None
        try:
            start, day, month = ctx.time(start_text)
        except ValueError as e:
            error(row_no, col_name["start"], f"{start_text!r} is not an ISO 8601 timestamp ({e})")
        try:
            end = ctx.time(end_text)[0]
        except ValueError as e:
            error(row_no, col_name["end"], f"{end_text!r} is not an ISO 8601 timestamp ({e})")
        if start is not None and end is not None and end < start:
            error(row_no, col_name["end"], "ends before ChargePeriodStart")
        optional_amounts: list[Decimal | None] = []
        for logical in ("list_cost", "effective_cost", "quantity"):
            text = get(row, col[logical])
            if text:
                try:
                    optional_amounts.append(_parse_amount(text))
                except (decimal.InvalidOperation, ValueError):
                    error(row_no, col_name[logical], f"{text!r} is not a decimal number")
                    optional_amounts.append(None)
            else:
                optional_amounts.append(None)
        mode = _billing_mode(get(row, col["billing_mode"]), get(row, col["frequency"]), category)
        if mode not in BILLING_MODES:
            error(row_no, col_name["billing_mode"], f"{mode!r} is not one of {', '.join(sorted(BILLING_MODES))}")
        provider, publisher = get(row, col["provider"]), get(row, col["publisher"])
        service_type = get(row, col["service_type"]) or (
            "marketplace" if publisher and provider and publisher != provider else "cloud"
        )
        if service_type not in SERVICE_TYPES:
            error(row_no, col_name["service_type"], f"{service_type!r} is not cloud or marketplace")
        line_id = get(row, i_line)
        if fmt == formats.NATIVE and not line_id:
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
        if fmt == formats.NATIVE:
            identity = hashlib.blake2b(f"native\x1f{line_id}".encode(), digest_size=16).digest()
        else:
            identity = hashlib.blake2b(
                "\x1f".join([f"{names[j]}={row[i]}" for j, i in enumerate(order) if i < len(row) and row[i]]).encode(),
                digest_size=16,
            ).digest()
        if identity in seen_in_chunk:
            report.rows_present += 1
            continue
        seen_in_chunk.add(identity)
        project = get(row, col["project"]) or _project_from_tags(get(row, col["tags"]))
        cls = _classify(category, billed)
        correction = (partner_id, month) in ctx.closed
        bp_start = get(row, col["billing_period_start"])
        bp_end = get(row, col["billing_period_end"])
        try:
            bps = ctx.time(bp_start)[0] if bp_start else None
            bpe = ctx.time(bp_end)[0] if bp_end else None
        except ValueError:
            error(row_no, col_name["billing_period_start"], "not an ISO 8601 timestamp")
            continue
        service_name = get(row, col["service_name"])[:200]
        region_id = get(row, col["region_id"])[:64]
        list_cost, effective_cost, quantity = optional_amounts
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
                bps,
                bpe,
                category,
                get(row, col["charge_class"]),
                cls,
                get(row, col["description"])[:500],
                get(row, col["frequency"]),
                get(row, col["pricing_category"]),
                billed,
                list_cost,
                effective_cost,
                currency,
                quantity,
                get(row, col["unit"])[:64],
                provider[:100],
                publisher[:100],
                service_type,
                service_name,
                get(row, col["service_category"])[:100],
                get(row, col["sku"])[:200],
                region_id,
                get(row, col["region_name"])[:100],
                get(row, col["resource_id"])[:500],
                get(row, col["resource_name"])[:200],
                get(row, col["resource_type"])[:100],
                project,
                mode,
                get(row, col["order_id"])[:100],
                line_id[:200],
                correction,
            )
        else:
            values = (
                identity,
                batch_id,
                customer_id,
                partner_id,
                assoc_type,
                _sqlite_dt(start),
                _sqlite_dt(end),
                day.isoformat(),
                month.isoformat(),
                _sqlite_dt(bps),
                _sqlite_dt(bpe),
                category,
                get(row, col["charge_class"]),
                cls,
                get(row, col["description"])[:500],
                get(row, col["frequency"]),
                get(row, col["pricing_category"]),
                canonical(billed),
                None if list_cost is None else canonical(list_cost),
                None if effective_cost is None else canonical(effective_cost),
                currency,
                None if quantity is None else canonical(quantity),
                get(row, col["unit"])[:64],
                provider[:100],
                publisher[:100],
                service_type,
                service_name,
                get(row, col["service_category"])[:100],
                get(row, col["sku"])[:200],
                region_id,
                get(row, col["region_name"])[:100],
                get(row, col["resource_id"])[:500],
                get(row, col["resource_name"])[:200],
                get(row, col["resource_type"])[:100],
                project,
                mode,
                get(row, col["order_id"])[:100],
                line_id[:200],
                correction,
            )
        key = (
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
        )
        pending.append(values)
        pending_meta.append((key, billed, cls, currency, correction))
        if complete_until is None or end > complete_until:
            complete_until = end
        if len(pending) >= CHUNK:
            flush()

    report.unknown_accounts = sorted(unknown)
    if report.rows_total == 0:
        error(1, "", "the batch has no rows")
    if not report.accepted:
        return
    flush()
    writer.upsert_rollups(deltas)
    report.totals = {cur: dict(t) for cur, t in totals.items()}
    for t in report.totals.values():
        for cls in ("expenditure", "refund", "adjustment", "tax"):
            t.setdefault(cls, Decimal(0))
        t["net"] = CONTEXT.add(CONTEXT.add(t["expenditure"], t["refund"]), CONTEXT.add(t["adjustment"], t["tax"]))
        # refunds are negative rows; shown as a positive refund amount
        t["refund"] = -t["refund"] if t["refund"] else Decimal(0)
    if complete_until is not None:
        fresh = Freshness.objects.select_for_update().filter(source=report.source).first()
        if fresh is None:
            Freshness.objects.create(source=report.source, complete_until=complete_until, updated_at=clock.now())
        elif complete_until > fresh.complete_until:
            fresh.complete_until = complete_until
            fresh.updated_at = clock.now()
            fresh.save(update_fields=["complete_until", "updated_at"])
    IngestBatch.objects.filter(pk=batch_id).update(
        rows_total=report.rows_total,
        rows_new=report.rows_new,
        rows_present=report.rows_present,
        rows_corrections=report.rows_corrections,
        totals=report.totals_as_strings(),
        finished_at=clock.now(),
    )
    report.batch_id = batch_id
