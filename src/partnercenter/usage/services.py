"""Writes for usage: ingestion of rated line items (FOCUS or native), one path for CLI, API and demo."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Max, Min

from partnercenter.core import clock
from partnercenter.core.money import CONTEXT, ZERO, ExactSum

from . import formats, ingest, selectors
from .ingest import Report
from .models import ClosedMonth, LineItem, ResourceMonth, ResourceMonthBuild


def _file_checksum(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def ingest_path(path: Path | str, *, fmt: str = formats.FOCUS, source: str = "", actor: Any = None) -> Report:
    """Ingest a CSV, gzipped CSV, Parquet, JSON or NDJSON file as one atomic batch."""
    path = Path(path)
    if fmt not in formats.FORMATS:
        raise ValueError(f"format must be one of {', '.join(formats.FORMATS)}")
    checksum = _file_checksum(path)
    src, stream = formats.open_path(path)
    try:
        return ingest.run(src, fmt=fmt, source_name=source or fmt, file_name=path.name, checksum=checksum, actor=actor)
    finally:
        if stream is not None:
            stream.close()


def ingest_records(
    records: Iterable[dict[str, Any]],
    *,
    fmt: str = formats.NATIVE,
    source: str = "",
    file_name: str = "",
    actor: Any = None,
) -> Report:
    """Ingest already-parsed records (API JSON, the demo) as one atomic batch."""
    records = list(records) if not isinstance(records, list) else records
    checksum = hashlib.sha256(json.dumps(records, sort_keys=True, default=str).encode()).hexdigest()
    return ingest.run(
        formats.from_records(records),
        fmt=fmt,
        source_name=source or fmt,
        file_name=file_name,
        checksum=checksum,
        actor=actor,
    )


def ingest_ndjson(body: bytes, *, fmt: str = formats.NATIVE, source: str = "", actor: Any = None) -> Report:
    checksum = hashlib.sha256(body).hexdigest()
    return ingest.run(
        formats.from_ndjson_bytes(body),
        fmt=fmt,
        source_name=source or fmt,
        file_name="",
        checksum=checksum,
        actor=actor,
    )


def close_month(month: dt.date, partner_ids: Iterable[int], *, at: dt.datetime) -> int:
    """Record that the partners' bills of ``month`` are generated: from now on ingestion flags
    line items of that month as corrections, which the next bill carries (rule B2).

    Runs inside the caller's transaction (the one writing the bills) and under the ingestion
    lock, so no batch lands between what the bills read and the close. Months already closed
    are left as they are; returns how many partners were closed now.
    """
    selectors.hold_ledger_still()
    month = month.replace(day=1)
    ids = set(partner_ids) - selectors.partners_with_month_closed(month)
    ClosedMonth.objects.bulk_create([ClosedMonth(partner_id=p, month=month, closed_at=at) for p in sorted(ids)])
    return len(ids)


# ---- Bill by Instance: the per-resource month rows of customer bills (C2) ------------------------

# What a ResourceMonth row groups a month's line items by (the resource's name is its latest).
RESOURCE_MONTH_KEY = (
    "partner_id",
    "association_type",
    "customer_id",
    "billing_currency",
    "service_type",
    "service_name",
    "x_project",
    "region_id",
    "resource_id",
    "x_billing_mode",
)
_RESOURCE_MONTH_LOCK = 7_340_033  # PostgreSQL advisory lock namespace of the builds (key 2: the month)


def resource_month_through_day(month: dt.date, at: dt.datetime) -> dt.date:
    """The last day a build of ``month`` covers at ``at``: the month's last day once it is over,
    yesterday (billing time zone) while it runs (C1), before the month's first day when it has not
    begun or it is its first day."""
    month = month.replace(day=1)
    end = selectors._next_month(month) - dt.timedelta(days=1)
    return min(end, clock.billing_date(at) - dt.timedelta(days=1))


def _resource_month_groups(month: dt.date, through_day: dt.date) -> list[dict[str, Any]]:
    """One GROUP BY over the month's reseller line items charged on or before ``through_day``, not
    corrections (a correction belongs to the next bill, as on the customer bill), per resource and
    classification, with exact sums."""
    qs = LineItem.objects.filter(
        association_type="reseller", charge_day__gte=month, charge_day__lte=through_day, is_correction=False
    )
    return list(
        qs.values(*RESOURCE_MONTH_KEY, "classification").annotate(
            amount=ExactSum("billed_cost"),
            count=Count("pk"),
            first=Min("charge_day"),
            last=Max("charge_day"),
            name=Max("resource_name"),
        )
    )


def _resource_month_rows(month: dt.date, groups: list[dict[str, Any]]) -> list[ResourceMonth]:
    """The groups folded per resource: refunds (negative charges) shown positive, amount = E − R + A + T."""
    rows: dict[tuple[Any, ...], ResourceMonth] = {}
    for g in groups:
        key = tuple(g[k] for k in RESOURCE_MONTH_KEY)
        row = rows.get(key)
        if row is None:
            row = rows[key] = ResourceMonth(
                month=month,
                partner_id=g["partner_id"],
                association_type=g["association_type"],
                customer_id=g["customer_id"],
                currency=g["billing_currency"],
                service_type=g["service_type"],
                service_name=g["service_name"],
                x_project=g["x_project"],
                region_id=g["region_id"],
                resource_id=g["resource_id"],
                resource_name=g["name"] or "",
                x_billing_mode=g["x_billing_mode"],
                expenditure=ZERO,
                refund=ZERO,
                adjustment=ZERO,
                tax=ZERO,
                amount=ZERO,
                line_item_count=0,
                first_day=g["first"],
                last_day=g["last"],
            )
        value = g["amount"]
        cls = g["classification"]
        if cls == "refund":
            row.refund = CONTEXT.subtract(row.refund, value)
        elif cls in ("expenditure", "adjustment", "tax"):
            setattr(row, cls, CONTEXT.add(getattr(row, cls), value))
        row.amount = CONTEXT.add(row.amount, value)
        row.line_item_count += g["count"]
        row.first_day, row.last_day = min(row.first_day, g["first"]), max(row.last_day, g["last"])
        row.resource_name = max(row.resource_name, g["name"] or "")
    return list(rows.values())


_RESOURCE_MONTH_COLUMNS = (
    "month",
    "partner_id",
    "association_type",
    "customer_id",
    "currency",
    "service_type",
    "service_name",
    "x_project",
    "region_id",
    "resource_id",
    "resource_name",
    "x_billing_mode",
    "expenditure",
    "refund",
    "adjustment",
    "tax",
    "amount",
    "line_item_count",
    "first_day",
    "last_day",
)
_PREPARED = ("ExactDecimalField", "DateField")  # the values the engine's adapter needs prepared


def _insert_resource_months(rows: list[ResourceMonth]) -> None:
    """Write the rows as the partner bill close writes its lines: COPY on PostgreSQL, one prepared
    INSERT run over all rows on SQLite. ``bulk_create`` (SQL compiled per batch of ~50 rows on
    SQLite, an INSERT per batch to parse on PostgreSQL) took most of a month's build."""
    by_attname = {f.attname: f for f in ResourceMonth._meta.concrete_fields}
    fields = [by_attname[name] for name in _RESOURCE_MONTH_COLUMNS]
    prepared = [f.get_db_prep_save if f.get_internal_type() in _PREPARED else None for f in fields]
    params = [
        [
            value if prep is None or value is None else prep(value, connection)
            for prep, value in zip(prepared, (getattr(row, name) for name in _RESOURCE_MONTH_COLUMNS), strict=True)
        ]
        for row in rows
    ]
    qn = connection.ops.quote_name
    # Table and column names come from the model; every value is a parameter.
    target = f"{qn(ResourceMonth._meta.db_table)} ({', '.join(qn(str(f.column)) for f in fields)})"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.copy(f"COPY {target} FROM STDIN") as copy:
                for values in params:
                    copy.write_row(values)
            return
        sql = f"INSERT INTO {target} VALUES ({', '.join(['%s'] * len(fields))})"  # noqa: S608
        for start in range(0, len(params), 20_000):
            cursor.executemany(sql, params[start : start + 20_000])


def _hold_resource_month(month: dt.date) -> None:
    # SQLite: the transaction already holds the database's write lock (BEGIN IMMEDIATE).
    if connection.vendor == "postgresql":
        with connection.cursor() as c:
            c.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_RESOURCE_MONTH_LOCK, month.toordinal()])


def build_resource_months(month: dt.date, *, at: dt.datetime | None = None) -> ResourceMonthBuild:
    """Rebuild the :class:`ResourceMonth` rows of ``month`` from the line items (Bill by Instance,
    C2): the whole month once it is over, up to yesterday while it runs. Replaces the month's rows
    and records the ledger version and day it was built from, in one transaction; builds of one
    month are serialised, so two at once never leave duplicates."""
    at = at or clock.now()
    month = month.replace(day=1)
    through_day = resource_month_through_day(month, at)
    with transaction.atomic():
        _hold_resource_month(month)
        version = ingest.ledger_version()  # read first: a batch landing meanwhile makes the build stale
        rows = _resource_month_rows(month, _resource_month_groups(month, through_day)) if through_day >= month else []
        ResourceMonth.objects.filter(month=month).delete()
        _insert_resource_months(rows)
        build, _created = ResourceMonthBuild.objects.update_or_create(
            month=month,
            defaults={"ledger_version": version, "through_day": through_day, "built_at": at, "rows": len(rows)},
        )
    return build
