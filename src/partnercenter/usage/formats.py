"""Readers for the two input formats: FOCUS (1.0-1.2) and our native format.

Readers stream: they yield one row at a time as a list of strings in ``columns`` order, whatever
the container (CSV, gzipped CSV, Parquet, JSON records, NDJSON). Nothing here knows about the
database.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import gzip
import io
import json
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

FOCUS = "focus"
NATIVE = "native"
FORMATS = (FOCUS, NATIVE)

# Logical fields and their column name in each format. The first group is required.
FIELDS: dict[str, tuple[str, str]] = {
    # logical: (FOCUS column, native column)
    "account": ("SubAccountId", "account_id"),
    "billed_cost": ("BilledCost", "billed_cost"),
    "currency": ("BillingCurrency", "currency"),
    "category": ("ChargeCategory", "charge_category"),
    "start": ("ChargePeriodStart", "charge_period_start"),
    "end": ("ChargePeriodEnd", "charge_period_end"),
    # optional
    "line_id": ("x_LineId", "line_id"),
    "charge_class": ("ChargeClass", "charge_class"),
    "description": ("ChargeDescription", "description"),
    "frequency": ("ChargeFrequency", "charge_frequency"),
    "pricing_category": ("PricingCategory", "pricing_category"),
    "list_cost": ("ListCost", "list_cost"),
    "effective_cost": ("EffectiveCost", "effective_cost"),
    "quantity": ("PricingQuantity", "pricing_quantity"),
    "unit": ("PricingUnit", "pricing_unit"),
    "billing_period_start": ("BillingPeriodStart", "billing_period_start"),
    "billing_period_end": ("BillingPeriodEnd", "billing_period_end"),
    "provider": ("ProviderName", "provider_name"),
    "publisher": ("PublisherName", "publisher_name"),
    "service_type": ("x_ServiceType", "service_type"),
    "service_name": ("ServiceName", "service_name"),
    "service_category": ("ServiceCategory", "service_category"),
    "sku": ("SkuId", "sku_id"),
    "region_id": ("RegionId", "region_id"),
    "region_name": ("RegionName", "region_name"),
    "resource_id": ("ResourceId", "resource_id"),
    "resource_name": ("ResourceName", "resource_name"),
    "resource_type": ("ResourceType", "resource_type"),
    "project": ("x_Project", "project"),
    "billing_mode": ("x_BillingMode", "billing_mode"),
    "order_id": ("x_OrderId", "order_id"),
    "tags": ("Tags", "tags"),
}
REQUIRED = ("account", "billed_cost", "currency", "category", "start", "end")
NATIVE_REQUIRED = (*REQUIRED, "line_id")


def column_name(fmt: str, logical: str) -> str:
    return FIELDS[logical][0 if fmt == FOCUS else 1]


def required_columns(fmt: str) -> list[str]:
    return [column_name(fmt, f) for f in (NATIVE_REQUIRED if fmt == NATIVE else REQUIRED)]


def native_columns() -> list[str]:
    return [v[1] for v in FIELDS.values()]


def _to_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, float):
        # A float in the input is already inexact; its shortest repr is the value meant.
        return repr(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.isoformat()
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


class Source:
    """A stream of rows: ``header`` (list of column names) and ``rows`` (lists of strings).

    ``first_row`` is the number errors give the first data row: 2 in a CSV file (line 1 is the
    header, as a spreadsheet shows it), 1 for JSON/NDJSON items and Parquet rows.
    """

    def __init__(self, header: list[str], rows: Iterator[list[str]], first_row: int = 2) -> None:
        self.header = header
        self.rows = rows
        self.first_row = first_row
        # Text files: the line the current row starts on (a quoted field may span lines).
        self.line = 0
        # A CSV file's path: ingestion may read it column-wise (pipeline/columnar.py).
        self.path: Path | None = None


class UnreadableInput(ValueError):
    """The input cannot be read to its end (damaged compression, broken CSV quoting, not UTF-8):
    nothing of it is taken. The message says where and why."""


def _reading_problem(e: Exception, line: int) -> UnreadableInput:
    where = f"line {line}: " if line else ""
    if isinstance(e, EOFError):
        return UnreadableInput("the compressed data ends early: the file is truncated")
    if isinstance(e, gzip.BadGzipFile):
        return UnreadableInput("the file is not gzip-compressed, though its name ends in .gz")
    if isinstance(e, zlib.error):
        return UnreadableInput(f"the compressed data is damaged ({e})")
    if isinstance(e, UnicodeDecodeError):
        # Decoding runs ahead of the rows by a buffer: no line number would be reliable.
        return UnreadableInput("the file is not UTF-8 text")
    if isinstance(e, csv.Error) and "field larger than field limit" in str(e):
        return UnreadableInput(f"{where}a field is longer than {csv.field_size_limit()} characters")
    if isinstance(e, csv.Error) and "unexpected end of data" in str(e):
        return UnreadableInput(f"{where}a quoted field opened here is still open at the end of the file")
    if isinstance(e, csv.Error) and "expected after" in str(e):
        return UnreadableInput(f"{where}a quoted field opened here closes with text after its quote")
    return UnreadableInput(f"{where}{e}")


_READING_ERRORS = (EOFError, OSError, zlib.error, UnicodeDecodeError, csv.Error)


def _csv_source(stream: IO[str]) -> Source:
    # strict: a quote must close its field (``"a"b`` and a quote still open at the end of the
    # file are refused rather than silently read as something else).
    reader = csv.reader(stream, strict=True)
    try:
        header = [h.strip().lstrip("\ufeff") for h in next(reader)]
    except StopIteration:
        header = []
    except _READING_ERRORS as e:
        raise _reading_problem(e, reader.line_num or 1) from None
    source = Source(header, iter(()))

    def rows() -> Iterator[list[str]]:
        end = reader.line_num
        try:
            for row in reader:
                source.line = end + 1
                end = reader.line_num
                yield row
        except _READING_ERRORS as e:
            raise _reading_problem(e, end + 1) from None

    source.rows = rows()
    return source


def _records_source(records: Iterable[dict[str, Any]]) -> Source:
    it = iter(records)
    try:
        first = next(it)
    except StopIteration:
        return Source([], iter(()), first_row=1)
    if not isinstance(first, dict):
        raise ValueError("each record must be a JSON object")
    # Keys of the first record, then every known column; keys only later records carry and no
    # known column names are ignored.
    header = list(first.keys())
    known = {c for pair in FIELDS.values() for c in pair}
    header += sorted(known - set(header))

    def rows() -> Iterator[list[str]]:
        keys = header
        yield [_to_text(first.get(k)) for k in keys]
        for rec in it:
            if not isinstance(rec, dict):
                raise ValueError("each record must be a JSON object")
            yield [_to_text(rec.get(k)) for k in keys]

    return Source(header, rows(), first_row=1)


def _parquet_source(path: Path) -> Source:
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    header = list(pf.schema_arrow.names)

    def rows() -> Iterator[list[str]]:
        for batch in pf.iter_batches(batch_size=20_000):
            columns = [batch.column(i).to_pylist() for i in range(batch.num_columns)]
            for values in zip(*columns, strict=True):
                yield [_to_text(v) for v in values]

    return Source(header, rows(), first_row=1)


def _ndjson_records(stream: IO[str]) -> Iterator[dict[str, Any]]:
    n = 0
    try:
        for n, line in enumerate(stream, start=1):
            if line.strip():
                try:
                    yield json.loads(line, parse_float=decimal.Decimal)
                except json.JSONDecodeError as e:
                    raise ValueError(f"line {n}: not JSON ({e.msg})") from None
    except _READING_ERRORS as e:
        raise _reading_problem(e, n + 1) from None


def is_gzip(path: Path) -> bool:
    return path.name.lower().endswith(".gz")


def open_binary(path: Path) -> IO[bytes]:
    """A file's bytes, decompressed when its name ends in .gz."""
    opener: Any = gzip.open if is_gzip(path) else open
    stream: IO[bytes] = opener(path, "rb")
    return stream


def open_text(path: Path) -> IO[str]:
    """A text file (gzip-compressed when its name ends in .gz) as the row path reads it."""
    opener: Any = gzip.open if is_gzip(path) else open
    stream: IO[str] = opener(path, "rt", encoding="utf-8-sig", newline="")
    return stream


# The exit status of ``python -m partnercenter.usage.formats PATH WIDTH``: any other (a crash) is no answer.
READS_WHOLE, READS_OTHERWISE = 0, 3


def reads_whole(path: Path, width: int) -> bool:
    """Whether Python's csv module (the row path's reader) reads the CSV file at ``path`` to its
    end with every row ``width`` wide, and the file holds no NUL character (the row path names
    the row and column of one). Run in a process of its own while a batch is ingested
    (``python -m partnercenter.usage.formats PATH WIDTH``: exit status :data:`READS_WHOLE` or
    :data:`READS_OTHERWISE`)."""
    try:
        with open_binary(path) as raw:
            while chunk := raw.read(1 << 24):
                if b"\x00" in chunk:
                    return False
        with open_text(path) as stream:
            reader = csv.reader(stream, strict=True)
            next(reader, None)
            for row in reader:
                if len(row) != width:
                    return False
    except (csv.Error, ValueError, OSError, EOFError, zlib.error):
        return False
    return True


def open_path(path: Path) -> tuple[Source, IO[Any] | None]:
    """Open a file by its name: .csv, .csv.gz, .parquet, .json, .ndjson/.jsonl (optionally .gz)."""
    name = path.name.lower()
    if name.endswith(".parquet"):
        return _parquet_source(path), None
    stream = open_text(path)
    base = name[:-3] if name.endswith(".gz") else name
    try:
        if base.endswith((".ndjson", ".jsonl")):
            return _records_source(_ndjson_records(stream)), stream
        if base.endswith(".json"):
            try:
                data = json.load(stream, parse_float=decimal.Decimal)
            except _READING_ERRORS as e:
                raise _reading_problem(e, 0) from None
            if isinstance(data, dict):
                data = data.get("items", [])
            if not isinstance(data, list):
                raise UnreadableInput('a JSON file holds a list of records, or {"items": [records]}')
            return _records_source(data), stream
        source = _csv_source(stream)
        source.path = path
        return source, stream
    except Exception:
        stream.close()
        raise


def from_records(records: Iterable[dict[str, Any]]) -> Source:
    return _records_source(records)


def from_ndjson_bytes(body: bytes) -> Source:
    return _records_source(_ndjson_records(io.StringIO(body.decode("utf-8"))))


if __name__ == "__main__":
    import sys

    sys.exit(READS_WHOLE if reads_whole(Path(sys.argv[1]), int(sys.argv[2])) else READS_OTHERWISE)
