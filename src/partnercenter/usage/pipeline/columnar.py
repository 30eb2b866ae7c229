"""FOCUS rows a block at a time, column-wise: the same checks, values and sums as the row path
(validate.py, transform.py), computed with pyarrow kernels over a block's columns and with Python
once per distinct value (accounts, instants, currencies, tags) rather than once per row.

The block path only ever *accepts*: whatever it cannot show valid (an unknown account, a bad
amount, a time it cannot parse, a customer with several associations, …) sends the block through
the row path, which reports every problem with the row path's own messages. Once a batch has a
problem, the rest of it goes through the row path too (it then only validates, as before).
Native batches keep the row path: their repeated line ids are compared row by row.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from partnercenter.core import money

from .. import formats, partitioning
from . import columns as colkit
from . import forked, projections, transform
from .projections import ROLLUP_KEY
from .read import Layout
from .transform import LINE_COLUMNS, Customers, Times, Transformer, project_from_tags
from .validate import BILLING_MODES, CATEGORIES, SERVICE_TYPES

logger = logging.getLogger(__name__)
BLOCK_BYTES = 4 << 20  # bytes of the file read, checked and written together (~5,000 FOCUS rows): bounds memory
# SQLite prepares a file of at least this many blocks in a forked process (forked.py): below it,
# the fork and the pickles cost more than preparing in turn saves.
FORK_BLOCKS = 2
_NO_LINE = SimpleNamespace(line=0)


class Prepared:
    """A block's line items and what writing them takes, computed in the preparing thread or
    process for all of its rows (the writer then mostly waits for the database); when some rows
    turn out stored already, the writer computes the sums again for the others."""

    def __init__(self, table: pa.Table, end: dt.datetime, pg: bool) -> None:
        self.table, self.end = table, end  # end: the latest end of its rows' charge periods
        # PostgreSQL: each identity's first row in the block (a row repeated in the block is
        # written once; SQLite's unique index passes stored rows over) and, when no row repeats,
        # the rows' COPY text.
        self.first: dict[bytes, int] = {}
        self.copy_csv: bytes | None = None
        self.sums: Sums | None = None
        if pg:
            for k, identity in enumerate(table.column("identity").to_pylist()):
                self.first.setdefault(identity, k)
            if len(self.first) == table.num_rows:
                self.copy_csv = _copy_csv(table)
                self.sums = Sums(table, pg)
        else:
            self.sums = Sums(table, pg)


def applies(layout: Layout) -> bool:
    return layout.fmt == formats.FOCUS


class Unsupported(Exception):
    """The block path cannot read this source the way the row path does: the row path takes it."""


class ReadCheck:
    """:func:`formats.reads_whole` of a file, run in a process of its own while the blocks are
    read (the csv module's pass over the file would otherwise take a tenth of the ingesting
    process's time); ingestion asks for its answer (:func:`confirm`) once every block is taken
    and the batch's totals are computed, before anything is committed. A process that cannot
    start or ends otherwise than with an answer (an interpreter that is not Python, a kill)
    leaves the check to this process."""

    def __init__(self, path: Path, width: int) -> None:
        self.path, self.width = path, width
        root = str(Path(formats.__file__).resolve().parents[2])  # the directory holding partnercenter
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
        command = [sys.executable or "python3", "-m", "partnercenter.usage.formats", str(path), str(width)]
        try:
            self._process: subprocess.Popen[bytes] | None = subprocess.Popen(  # noqa: S603
                command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
        except OSError:
            self._process = None
        else:
            _yielding(self._process.pid)

    def passed(self) -> bool:
        """Whether the file reads whole."""
        code = None if self._process is None else self._process.wait()
        if code in (formats.READS_WHOLE, formats.READS_OTHERWISE):
            return code == formats.READS_WHOLE
        logger.warning("the csv check of %s gave no answer (exit status %s): checked in this process", self.path, code)
        return formats.reads_whole(self.path, self.width)

    def close(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()


def _yielding(pid: int) -> None:
    """The check at the lowest scheduling priority: it takes a core only when ingestion leaves one
    idle (its answer is asked for last, once the batch's totals are computed), rather than a third
    of each while the blocks are read, prepared and written beside it."""
    if hasattr(os, "setpriority"):
        try:
            os.setpriority(os.PRIO_PROCESS, pid, 19)
        except OSError:  # gone already, or not permitted: it runs at the usual priority
            pass


def readable(source: formats.Source, width: int) -> ReadCheck | None:
    """The check that the block path may read ``source`` as the row path does, started; None when
    it cannot at all (not a file, a header with a line break).

    pyarrow's CSV parser differs from Python's csv module only on input the csv module refuses or
    reads as a row of another width (text after a closing quote, blank lines), so one pass of the
    csv module over the file makes the two read the same fields."""
    path = getattr(source, "path", None)
    if path is None or any("\n" in h or "\r" in h for h in source.header):
        return None
    return ReadCheck(path, width)


def record_batches(source: formats.Source, width: int) -> Iterator[pa.RecordBatch]:
    """The file's rows as record batches of text columns (``c0``, ``c1``, … in file order)."""
    from pyarrow import csv as arrow_csv

    names = [f"c{i}" for i in range(width)]
    assert source.path is not None
    # Through a Python file: pyarrow's own file input makes its CSV reader load the whole file
    # ahead of the batches (peak memory by file size, not by block size).
    stream = pa.PythonFile(formats.open_binary(source.path), mode="r")
    try:
        reader = arrow_csv.open_csv(
            stream,
            read_options=arrow_csv.ReadOptions(
                column_names=names, skip_rows=1, block_size=BLOCK_BYTES, use_threads=False
            ),
            parse_options=arrow_csv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False),
            convert_options=arrow_csv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
        yield from reader
    except pa.ArrowException as e:
        raise Unsupported(str(e)) from e
    finally:
        stream.close()


class Block:
    """One block's columns and what the checks derived from them (None: not shown valid)."""

    def __init__(self, layout: Layout, cols: list[pa.Array], first_no: int) -> None:
        self.n = len(cols[0])
        self.first_no = first_no
        self.cols = cols
        self.empty = pa.array([""] * self.n, pa.string())
        self.layout = layout
        self.values: dict[str, Any] = {}

    def col(self, field: str) -> pa.Array:
        i = self.layout.col[field]
        return self.cols[i] if i < self.layout.width else self.empty


def _nul_in(column: pa.Array) -> bool:
    """Whether the column's text may hold a NUL character (the row path names its row and
    column; PostgreSQL refuses it). One search of the whole data buffer."""
    data = column.buffers()[2]
    return data is not None and b"\x00" in data.to_pybytes()


class Checks:
    """The block's rules; each returns False when the block must take the row path."""

    def __init__(self, customers: Customers, times: Times) -> None:
        self.customers = customers
        self.times = times

    def run(self, b: Block) -> bool:
        return (
            not any(_nul_in(c) for c in b.cols)
            and self.accounts(b)
            and bool(pc.all(pc.is_in(b.col("category"), value_set=pa.array(sorted(CATEGORIES)))).as_py())
            and self.amounts(b)
            and self.currency(b)
            and self.period(b)
            and self.modes(b)
            and self.associations(b)
            and self.billing_periods(b)
        )

    def accounts(self, b: Block) -> bool:
        enc = pc.dictionary_encode(b.col("account"))
        entries = []
        for raw in enc.dictionary.to_pylist():
            account = raw.strip()
            # Every customer is loaded before the blocks (BlockPath): an account missing here goes
            # to the row path, which reports it (the block path never queries the database).
            entry = self.customers.entries.get(account) if account else None
            if entry is None:
                return False
            entries.append(entry)
        b.values["entries"] = entries
        b.values["account_index"] = enc.indices
        return True

    def amounts(self, b: Block) -> bool:
        for field, limit, optional in colkit.AMOUNT_FIELDS:
            parsed = colkit.amounts(b.col(field), limit, optional)
            if parsed is None:
                return False
            b.values[field] = parsed
        return True

    def currency(self, b: Block) -> bool:
        enc = pc.dictionary_encode(b.col("currency"))
        codes = []
        for raw in enc.dictionary.to_pylist():
            code = raw.strip().upper()
            if len(code) != 3 or not code.isalpha() or not money.is_currency(code):
                return False
            codes.append(code)
        b.values["currency"] = pc.take(pa.array(codes, pa.string()), enc.indices)
        return True

    def period(self, b: Block) -> bool:
        start = colkit.instants(self.times, b.col("start"), optional=False)
        end = colkit.instants(self.times, b.col("end"), optional=False)
        if start is None or end is None or pc.any(pc.less(end.micros, start.micros)).as_py():
            return False
        b.values["start"], b.values["end"] = start, end
        return True

    def billing_periods(self, b: Block) -> bool:
        bps = colkit.instants(self.times, b.col("billing_period_start"), optional=True)
        bpe = colkit.instants(self.times, b.col("billing_period_end"), optional=True)
        if bps is None or bpe is None:
            return False
        b.values["billing_period_start"], b.values["billing_period_end"] = bps, bpe
        return True

    def modes(self, b: Block) -> bool:
        mode = colkit.per_combination(
            transform.billing_mode, b.col("billing_mode"), b.col("frequency"), b.col("category")
        )
        kind = colkit.per_combination(
            transform.service_type, b.col("service_type"), b.col("provider"), b.col("publisher")
        )
        if not set(mode.dictionary.to_pylist()) <= BILLING_MODES:
            return False
        if not set(kind.dictionary.to_pylist()) <= SERVICE_TYPES:
            return False
        b.values["mode"] = mode.dictionary.take(mode.indices)
        b.values["service_type"] = kind.dictionary.take(kind.indices)
        return True

    def associations(self, b: Block) -> bool:
        found = colkit.associations(b.values["entries"], b.values["account_index"], b.values["start"])
        if found is None:
            return False
        b.values["customer_id"], b.values["partner_id"], b.values["association_type"] = found
        return True


def line_table(b: Block, transformer: Transformer, customers: Customers, pg: bool) -> pa.Table:
    """The block's line items (LINE_COLUMNS) plus the columns the sums need."""
    v = b.values
    start, end = v["start"], v["end"]
    cut = colkit.truncated
    category = b.col("category")
    billed = v["billed_cost"]
    projects = _projects(b, transformer)
    columns: dict[str, Any] = {
        "identity": pa.array(colkit.identities(b.cols, b.layout), pa.binary()),
        "batch_id": pa.array([transformer.batch_id] * b.n, pa.int64()),
        "customer_id": v["customer_id"],
        "partner_id": v["partner_id"],
        "association_type": v["association_type"],
        "charge_period_start": start.stored(pg),
        "charge_period_end": end.stored(pg),
        "charge_day": start.day_text,
        "charge_month": start.month_text,
        "billing_period_start": v["billing_period_start"].stored(pg),
        "billing_period_end": v["billing_period_end"].stored(pg),
        "charge_category": category,
        "charge_class": cut(b.col("charge_class"), 16),
        "classification": colkit.classification(category, billed.text),
        "charge_description": cut(b.col("description"), 500),
        "charge_frequency": cut(b.col("frequency"), 32),
        "pricing_category": cut(b.col("pricing_category"), 32),
        "billed_cost": billed.text,
        "list_cost": v["list_cost"].text,
        "effective_cost": v["effective_cost"].text,
        "billing_currency": v["currency"],
        "pricing_quantity": v["quantity"].text,
        "pricing_unit": cut(b.col("unit"), 64),
        "provider_name": cut(b.col("provider"), 100),
        "publisher_name": cut(b.col("publisher"), 100),
        "service_type": v["service_type"],
        "service_name": cut(b.col("service_name"), 200),
        "service_category": cut(b.col("service_category"), 100),
        "sku_id": cut(b.col("sku"), 200),
        "region_id": cut(b.col("region_id"), 64),
        "region_name": cut(b.col("region_name"), 100),
        "resource_id": cut(b.col("resource_id"), 500),
        "resource_name": cut(b.col("resource_name"), 200),
        "resource_type": cut(b.col("resource_type"), 100),
        "x_project": projects,
        "x_billing_mode": v["mode"],
        "x_order_id": cut(b.col("order_id"), 100),
        "x_line_id": cut(b.col("line_id"), 200),
        "is_correction": colkit.corrections(customers, v["partner_id"], start),
        "source_row": pa.array(range(b.first_no, b.first_no + b.n), pa.int64()),
    }
    assert tuple(columns) == LINE_COLUMNS
    columns["day"] = start.day
    columns["month"] = start.month
    columns["billed_places"] = billed.places
    columns["billed_amount"] = billed.decimal
    return pa.table(columns)


def _projects(b: Block, transformer: Transformer) -> pa.Array:
    """The project column, else the project tag (parsed once per distinct tags text)."""
    explicit = colkit.truncated(b.col("project"), 100)
    tags = b.col("tags")
    wanted = pc.and_(pc.equal(explicit, ""), pc.match_substring(tags, "roject"))
    if not pc.any(wanted).as_py():
        return explicit
    enc = pc.dictionary_encode(tags)
    parsed = pa.array([project_from_tags(t) for t in enc.dictionary.to_pylist()], pa.string())
    return pc.if_else(wanted, pc.take(parsed, enc.indices), explicit)


# The rollup key's columns in the block's table, in projections.ROLLUP_KEY's order.
_SUM_KEY = [c if c != "currency" else "billing_currency" for c in ROLLUP_KEY]


class BlockPath:
    """Blocks shown valid: written and summed into the batch's :class:`~.batch.Chunks`."""

    def __init__(self, chunks: Any, customers: Customers, times: Times, transformer: Transformer, pg: bool) -> None:
        self.chunks, self.customers, self.transformer, self.pg = chunks, customers, transformer, pg
        self.report = chunks.report
        self.checks = Checks(customers, times)
        self.months: set[dt.date] = set()

    def prepare(self, layout: Layout, cols: list[pa.Array], first_no: int) -> Prepared | None:
        """The block's line items if every row is shown valid, else None. Touches no database
        (it runs in a thread of its own while the previous block is written)."""
        b = Block(layout, cols, first_no)
        if not self.checks.run(b):
            return None
        end = max(v[0] for v in b.values["end"].values)
        return Prepared(line_table(b, self.transformer, self.customers, self.pg), end, self.pg)

    def take(self, prepared: Prepared) -> None:
        """Write a prepared block: its new rows, their sums, the batch's counts."""
        table = prepared.table
        if self.chunks.complete_until is None or prepared.end > self.chunks.complete_until:
            self.chunks.complete_until = prepared.end
        if not table.num_rows:
            return
        if self.pg:
            new = self._fresh(prepared)
            if not new.num_rows:
                return
            self._prepare_write(new)
            text = prepared.copy_csv if new is table else None  # none stored (and none repeated: the text exists)
            self.chunks.writer.insert_csv(text if text is not None else _copy_csv(new))
        else:
            self._prepare_write(table)
            new = self._inserted(table)
        if new.num_rows:
            sums = prepared.sums if new is table and prepared.sums is not None else Sums(new, self.pg)
            sums.stage()
            self.chunks.add_totals(sums.totals)
            self.report.rows_new += new.num_rows
            self.report.rows_corrections += pc.sum(pc.cast(new.column("is_correction"), pa.int64())).as_py() or 0

    def _inserted(self, table: pa.Table) -> pa.Table:
        """SQLite: the block inserted whole, rows already stored (or earlier in the block) passed
        over by the identity's unique index; the rows that went in (``table`` itself when all of
        them did), the others count as present."""
        w = self.chunks.writer
        last, n = w.insert_new(zip(*(table.column(c).to_pylist() for c in LINE_COLUMNS), strict=True))
        self.report.rows_present += table.num_rows - n
        if n == table.num_rows:
            return table
        new = w.identities_after(last)
        keep = []
        for identity in table.column("identity").to_pylist():
            keep.append(identity in new)
            new.discard(identity)  # a row repeated in the block went in once: its first time
        return table.filter(pa.array(keep, pa.bool_()))

    def _fresh(self, prepared: Prepared) -> pa.Table:
        """PostgreSQL: the rows not stored yet (nor earlier in the block); the others count as
        present."""
        table, first = prepared.table, prepared.first
        stored = self.chunks.writer.existing(list(first))
        if not stored and len(first) == table.num_rows:
            return table
        keep = [False] * table.num_rows
        for identity, k in first.items():
            if identity not in stored:
                keep[k] = True
        new = table.filter(pa.array(keep, pa.bool_()))
        self.report.rows_present += table.num_rows - new.num_rows
        return new

    def _prepare_write(self, rows: pa.Table) -> None:
        months = set(pc.unique(rows.column("month")).to_pylist()) - self.months
        if months:
            partitioning.ensure_months(months)
            self.months |= months
        self.chunks.make_room()


class Sums:
    """New rows' sums per rollup key, staged for the projections as they are (a key may come
    again from another block: the projections add its sums up), and their totals per (currency,
    classification) with the places the row path gives them (the report's). PostgreSQL stages
    numeric sums from a COPY's CSV; SQLite each sum's split (money.split_column: integers SQLite
    adds in C), with line counts, bound as they are."""

    def __init__(self, rows: pa.Table, pg: bool) -> None:
        self.pg = pg
        if pg:
            grouped = rows.group_by(_SUM_KEY, use_threads=False).aggregate(
                [("billed_amount", "sum"), ("billed_amount", "count")]
            )
            self.staged: Any = _csv(grouped.select([*_SUM_KEY, "billed_amount_sum", "billed_amount_count"]))
        else:
            units, hi, lo = money.split_column(rows.column("billed_cost"))
            parts = rows.select(_SUM_KEY).append_column("units", units).append_column("hi", hi)
            grouped = (
                parts.append_column("lo", lo)
                .group_by(_SUM_KEY, use_threads=False)
                .aggregate([("units", "count"), ("units", "sum"), ("hi", "sum"), ("lo", "sum")])
            )
            day = pc.cast(grouped.column("day"), pa.string())
            self.staged = grouped.select([*_SUM_KEY[1:], "units_count", "units_sum", "hi_sum", "lo_sum"])
            self.staged = self.staged.add_column(0, "day", day)
        self.totals = _totals(rows)

    def stage(self) -> None:
        if self.pg:
            projections.stage_csv(self.staged)
        else:
            projections.stage_rows(zip(*(c.to_pylist() for c in self.staged.columns), strict=True))


def _totals(rows: pa.Table) -> dict[tuple[str, str], Decimal]:
    by_class = rows.group_by(["billing_currency", "classification"], use_threads=False).aggregate(
        [("billed_amount", "sum"), ("billed_places", "max")]
    )
    return {
        (currency, classification): money.with_places(amount, places)
        for currency, classification, amount, places in zip(
            *(by_class.column(c).to_pylist() for c in ("billing_currency", "classification")),
            by_class.column("billed_amount_sum").to_pylist(),
            by_class.column("billed_places_max").to_pylist(),
            strict=True,
        )
    }


def _csv(table: pa.Table) -> bytes:
    from pyarrow import csv

    sink = pa.BufferOutputStream()
    csv.write_csv(table, sink, csv.WriteOptions(include_header=False))
    return sink.getvalue().to_pybytes()


def _copy_csv(new: pa.Table) -> bytes:
    """The rows as the CSV of PostgreSQL's COPY, written by pyarrow: strings quoted, NULL unquoted
    and empty, the identity in bytea's hex form."""
    hexed = pa.array(["\\x" + i.hex() for i in new.column("identity").to_pylist()], pa.string())
    return _csv(new.select(list(LINE_COLUMNS)).set_column(0, "identity", hexed))


OneByOne = Callable[[Iterable[tuple[int, list[str]]], Any], None]


def each_block(source: formats.Source, layout: Layout, path: BlockPath, one_by_one: OneByOne) -> int:
    """Every row through the block path, or the row path for a block it cannot show valid (and
    for everything after a problem); the number of rows read. The caller asks the file's
    :class:`ReadCheck` before committing (:func:`confirm`)."""
    row_no = source.first_row
    report, chunks = path.report, path.chunks

    def numbered() -> Iterator[tuple[pa.RecordBatch, int]]:
        first = source.first_row
        for batch in record_batches(source, layout.width):
            yield batch, first
            first += batch.num_rows

    def prepare(item: tuple[pa.RecordBatch, int]) -> tuple[list[pa.Array], Prepared | None]:
        batch, first = item
        ready = path.prepare(layout, batch.columns, first) if batch.num_rows and report.accepted else None
        return batch.columns, ready

    with closing(_ahead(source, path.pg)(numbered(), prepare)) as prepared:
        for cols, ready in prepared:
            n = len(cols[0]) if cols else 0
            if ready is not None and report.accepted:
                path.take(ready)
            elif n:
                rows = [list(r) for r in zip(*(c.to_pylist() for c in cols), strict=True)]
                one_by_one(enumerate(rows, row_no), _NO_LINE)
                if report.accepted:
                    chunks.flush()  # its rows before the next block's: ids keep the file's order
            row_no += n
    return row_no - source.first_row


def confirm(check: ReadCheck) -> None:
    """Raises :class:`Unsupported` when ``check`` finds that the csv module reads the file
    otherwise than the blocks did (the row path then takes it all, the batch's writes undone)."""
    if not check.passed():
        raise Unsupported("the csv module does not read the file whole at the header's width")


Ahead = Callable[[Iterator[Any], Callable[[Any], Any]], Generator[Any, None, None]]


def _ahead(source: formats.Source, pg: bool) -> Ahead:
    """How the blocks are prepared while the previous one is written. PostgreSQL: in a thread
    (its writes wait on the server). SQLite: its writes give the GIL back and take it again for
    every row, so a second thread holding it would stall them; a file of several blocks is
    prepared in a forked process instead (forked.py), a smaller one in turn with its writes."""
    if pg:
        return _one_ahead
    assert source.path is not None
    if forked.available() and os.path.getsize(source.path) >= FORK_BLOCKS * BLOCK_BYTES:
        return forked.ahead
    return _in_turn


def _in_turn(items: Iterator[Any], work: Callable[[Any], Any]) -> Generator[Any, None, None]:
    yield from map(work, items)


def _one_ahead(items: Iterator[Any], work: Callable[[Any], Any]) -> Generator[Any, None, None]:
    """``work`` of each item, the next item read and worked on in a thread while the caller
    handles the current one (pyarrow's reader and kernels, hashing and the database's writes let
    go of the GIL). The thread also reads the items: reading a block of the file is part of
    preparing it."""

    def step() -> Any:
        item = next(items, _END)
        return _END if item is _END else work(item)

    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(step)
        while (result := pending.result()) is not _END:
            pending = pool.submit(step)
            yield result


_END = object()
