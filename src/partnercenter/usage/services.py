"""Writes for usage: ingestion of rated line items (FOCUS or native), one path for CLI, API and demo."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from . import formats, ingest, selectors
from .ingest import Report
from .models import ClosedMonth


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
