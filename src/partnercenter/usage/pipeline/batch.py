"""One batch from source to ledger: the stages in order, in one transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import F

from partnercenter.core import clock
from partnercenter.core.money import CONTEXT

from .. import formats, freshness, partitioning
from ..models import IngestBatch, LedgerVersion
from . import columnar, projections, read, validate, write
from .report import Report
from .transform import CHARGE_MONTH_AT, CONTENT_AT, Customers, RowSums, Times, Transformer

CHUNK = 5_000  # rows checked against the stored identities and written at a time
ROLLUP_FLUSH = 25_000  # rollup keys held in memory before the projections stage them


class _Rollback(Exception):
    pass


def bump_ledger_version() -> None:
    """Mark the ledger as changed (inside the writing transaction): cached figures expire."""
    if not LedgerVersion.objects.filter(pk=1).update(version=F("version") + 1):
        LedgerVersion.objects.create(pk=1, version=1)


def ledger_version() -> int:
    return LedgerVersion.objects.filter(pk=1).values_list("version", flat=True).first() or 0


class Chunks:
    """The new rows of a batch, written a chunk at a time, and their sums."""

    def __init__(self, report: Report, w: write.Writer, batch_id: int, layout: read.Layout, size: int) -> None:
        self.report, self.writer, self.batch_id, self.size = report, w, batch_id, size
        self.native = layout.native
        self.col_name = layout.col_name
        self.pending: list[tuple[Any, ...]] = []
        self.sums: list[RowSums] = []
        # identity -> (row number, values) of the chunk's rows: a repeated native line id is compared
        self.seen: dict[bytes, tuple[int, tuple[Any, ...]]] = {}
        self.deltas: projections.Deltas = {}
        self.totals: dict[tuple[str, str], Decimal] = {}
        self.complete_until: dt.datetime | None = None
        self.months: set[Any] = set()

    def add(self, row_no: int, values: tuple[Any, ...], sums: RowSums, line_id: str, end: dt.datetime) -> None:
        identity = values[0]
        prior = self.seen.get(identity)
        if prior is not None:
            diff = validate.differences(values, [prior[1][i] for i in CONTENT_AT], self.col_name) if self.native else []
            if diff:
                reason = validate.repeated_line_id(line_id, prior[0], diff)
                self.report.error(row_no, self.col_name["line_id"], reason)
            else:
                self.report.rows_present += 1
            return
        self.seen[identity] = (row_no, values)
        self.pending.append(values)
        self.sums.append(sums)
        if self.complete_until is None or end > self.complete_until:
            self.complete_until = end
        if len(self.pending) >= self.size:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        rows, sums = self.pending, self.sums
        self.pending, self.sums = [], []
        self.seen.clear()
        self.make_room()
        self._ensure_partitions(rows)
        self._write(rows, sums)

    def _ensure_partitions(self, rows: list[tuple[Any, ...]]) -> None:
        # A month's partition must exist before its rows are written when line items are partitioned
        # (PostgreSQL, opt-in). It is created inside the batch's transaction, so a rejected batch
        # leaves no partition behind; each month is asked for once per batch.
        months = {r[CHARGE_MONTH_AT] for r in rows} - self.months
        if months:
            partitioning.ensure_months(months)
            self.months |= months

    def make_room(self) -> None:
        """Memory stays flat however many days x customers x services a batch spans: past
        ROLLUP_FLUSH keys, the sums of the rows written so far go to the projections (the same
        sums, in steps)."""
        if len(self.deltas) >= ROLLUP_FLUSH:
            self.hand_over()

    def hand_over(self) -> None:
        """The sums so far to the report's totals and the projections."""
        totals, add = self.totals, CONTEXT.add
        for key, (amount, _count) in self.deltas.items():
            tkey = (key[10], key[9])  # currency, classification
            totals[tkey] = add(totals.get(tkey, Decimal(0)), amount)
        projections.apply_all(self.deltas)
        self.deltas.clear()

    def add_totals(self, totals: dict[tuple[str, str], Decimal]) -> None:
        """Sums per (currency, classification) of rows staged for the projections otherwise."""
        for tkey, amount in totals.items():
            self.totals[tkey] = CONTEXT.add(self.totals.get(tkey, Decimal(0)), amount)

    def _write(self, rows: list[tuple[Any, ...]], sums: list[RowSums]) -> None:
        fresh = self._fresh(rows, sums)
        if fresh is not None:
            rows, sums = fresh
            self._add_sums(sums)
            self.writer.insert(rows)
            self.report.rows_new += len(rows)

    def _fresh(
        self, pending: list[tuple[Any, ...]], sums: list[RowSums]
    ) -> tuple[list[tuple[Any, ...]], list[RowSums]] | None:
        """The rows not stored yet and their sums; None when a native line id is stored with
        other content (the batch is rejected)."""
        if self.native:
            present, clashes = write.stored_clashes(self.writer, pending, self.batch_id, self.col_name)
            for clash_row, reason in clashes:
                self.report.error(clash_row, self.col_name["line_id"], reason)
            if clashes:
                return None
        else:
            present = self.writer.existing([r[0] for r in pending])
        if not present:
            return pending, sums
        keep = [r[0] not in present for r in pending]
        rows = [r for r, k in zip(pending, keep, strict=True) if k]
        self.report.rows_present += len(pending) - len(rows)
        return rows, [s for s, k in zip(sums, keep, strict=True) if k]

    def _add_sums(self, sums: list[RowSums]) -> None:
        deltas, add = self.deltas, CONTEXT.add
        corrections = 0
        for key, billed, correction in sums:
            slot = deltas.get(key)
            if slot is None:
                deltas[key] = [billed, 1]
            else:
                slot[0] = add(slot[0], billed)
                slot[1] += 1
            corrections += correction
        self.report.rows_corrections += corrections


def run(
    source: formats.Source,
    *,
    fmt: str,
    source_name: str,
    file_name: str,
    checksum: str,
    actor: Any = None,
    chunk: int = CHUNK,
) -> Report:
    """Validate and write one batch; returns its report (rejected or accepted)."""
    report = Report(source=source_name, file_name=file_name, format=fmt, checksum=checksum)
    missing = read.missing_columns(source.header, fmt)
    if missing:
        report.error(1, ", ".join(missing), f"missing required column(s): {', '.join(missing)}")
        return report
    layout = read.layout(source.header, fmt)
    check = columnar.readable(source, layout.width) if columnar.applies(layout) else None
    try:
        return _attempt(source, layout, report, actor, chunk, check)
    except columnar.Unsupported:
        # The file read differently column-wise after all: all of it again, row by row.
        report = Report(source=source_name, file_name=file_name, format=fmt, checksum=checksum)
        return _attempt(source, layout, report, actor, chunk, None)
    finally:
        if check:
            check.close()


def _attempt(
    source: formats.Source,
    layout: read.Layout,
    report: Report,
    actor: Any,
    chunk: int,
    check: columnar.ReadCheck | None,
) -> Report:
    try:
        with transaction.atomic(), write.sqlite_page_cache():
            _ingest(source, layout, report, actor, chunk, check)
            if not report.accepted:
                raise _Rollback
    except _Rollback:
        report.discard_writes()
    return report


def _ingest(
    source: formats.Source,
    layout: read.Layout,
    report: Report,
    actor: Any,
    chunk: int,
    check: columnar.ReadCheck | None,
) -> None:
    w = write.writer()
    w.lock()
    now = clock.now()
    batch = IngestBatch.objects.create(
        source=report.source,
        file_name=report.file_name[:500],
        format=layout.fmt,
        checksum=report.checksum,
        started_at=now,
        finished_at=now,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    customers, times = Customers(), Times()
    validator = validate.Validator(layout, report, customers, times)
    pg = w.vendor == "postgresql"
    transformer = Transformer(layout, batch.pk, customers, pg)
    chunks = Chunks(report, w, batch.pk, layout, chunk)
    projections.begin_all()
    one_by_one = _one_by_one(layout, validator, transformer, chunks)
    blocks = bool(check and customers.load_all())
    if blocks:
        path = columnar.BlockPath(chunks, customers, times, transformer, pg)
        report.rows_total = columnar.each_block(source, layout, path, one_by_one)
    else:
        report.rows_total = _each_row(source, one_by_one)
    report.unknown_accounts = sorted(validator.unknown)
    if report.rows_total == 0:
        report.error(1, "", "the batch has no rows")
    if report.accepted:
        chunks.flush()  # may still find a line id that clashes with a stored row
    if report.accepted:
        _finish(report, chunks, batch.pk)
    if blocks and check:
        columnar.confirm(check)  # last: the check has had until now to read the file


def _each_row(source: formats.Source, one_by_one: columnar.OneByOne) -> int:
    """Every row through the row path; the number of rows read."""
    count = 0

    def counted() -> Iterator[tuple[int, list[str]]]:
        nonlocal count
        for count, numbered in enumerate(read.numbered(source), 1):  # noqa: B007
            yield numbered

    one_by_one(counted(), source)
    return count


def _one_by_one(
    layout: read.Layout, validator: validate.Validator, transformer: Transformer, chunks: Chunks
) -> columnar.OneByOne:
    """The row path: numbered rows (of ``source``, for the line a short row starts on) through
    the stages one at a time."""
    report = validator.report
    # Once per row (millions per batch): the stages' methods are bound once here.
    shape, check, periods = validator.shape, validator.check, validator.billing_periods
    pick_rest, line, add = layout.pick_rest, transformer.line, chunks.add

    def rows(numbered: Iterable[tuple[int, list[str]]], source: Any) -> None:
        for row_no, row in numbered:
            if not shape(row_no, row, source):
                continue
            checked = check(row_no, row)
            if report.error_count:
                continue  # after the first error, only validate
            carried = pick_rest(row)
            billing_period = periods(row_no, carried[2], carried[3])
            if billing_period is None:
                continue
            values, sums = line(row_no, row, checked, carried, billing_period)
            add(row_no, values, sums, checked.line_id, checked.end[0])

    return rows


def _finish(report: Report, chunks: Chunks, batch_id: int) -> None:
    """An accepted batch: the projections, its report totals, freshness and the ledger version."""
    chunks.hand_over()
    projections.finish_all()
    report.set_totals(chunks.totals)
    if chunks.complete_until is not None:
        freshness.advance(report.source, chunks.complete_until)
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
