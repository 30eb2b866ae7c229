"""Export files written from Arrow record batches (a kind's ``arrow`` source), a column at a time.

:mod:`.writers` converts one cell per Python call; at a million rows that call is most of an
export's time. Here a kind's source hands over record batches read straight from the database
and parsed a batch at a time by pyarrow's CSV reader (SQLite: each row as one text, its
``json_array(…)``, :class:`AsRecord`; PostgreSQL: ``COPY … TO STDOUT`` in CSV), and each column
is converted by pyarrow's compute kernels: formula neutralisation, CSV quoting, XML cells,
amounts' number-or-text rule. What needs Python is done
once per *distinct* value of a batch, with the very converters of :mod:`.writers` (dates,
timestamps in the billing time zone, anonymized names: they repeat across rows), and the rare
cells the kernels cannot decide (XML escapes, cells with a leading formula start or a space at
either end in XLSX, amounts not in plain decimal form) go through the per-cell converters too.
So the file is byte for byte the one :func:`.writers.write_csv` / :func:`.writers.write_xlsx`
write of the kind's rows (``tests/test_export_fast_writers.py`` compares them).

A batch holds one string column per export column, in the kind's column order (``None``: no
value): ``text`` and ``sensitive_*`` as the rows would give them (real values: they are
anonymized here), ``amount`` as decimal text (``format(d, "f")`` of the value), ``date`` as ISO
text, ``datetime`` as ISO text of the UTC instant (no offset: UTC), ``int`` as its digits.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import functools
import io
import json
import os
import queue
import tempfile
import threading
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.compute as pc
from django.core.exceptions import EmptyResultSet
from django.db import connection, connections
from django.db.models import F, Func, QuerySet, TextField

from . import writers
from .registry import Column

BATCH_ROWS = 10_000
# What PostgreSQL's COPY output may take in memory before its spool goes to a temporary file.
SPOOL_BYTES = 8 << 20
_STRING = pa.string()
_FORMULA_STARTS = pa.array(sorted(writers.FORMULA_STARTS), _STRING)
_EDGE_SPACE = pa.array([" ", "\t", "\n", "\r"], _STRING)
_FORMULA_OR_SPACE = pa.array(sorted(writers.FORMULA_STARTS | {" ", "\n"}), _STRING)
_FORMULA_BYTES = tuple(c.encode() for c in sorted(writers.FORMULA_STARTS))
_SPACE_BYTES = (b" ", b"\t", b"\n", b"\r")
# What the per-cell XML escape (writers._xml_text) would change: bytes that tell whether any value
# of a batch may need it (a per-value regex then tells which).
_XML_UNSAFE_BYTES = (b"&", b"<", b">", b"_x", b"\xef\xbf\xbe", b"\xef\xbf\xbf")
_CONTROL_BYTES = bytes([*range(0x09), *range(0x0B, 0x20)])
_XML_UNSAFE = r"[&<>\x00-\x08\x0b-\x1f\x{FFFE}\x{FFFF}]|_x[0-9A-Fa-f]{4}_"
_CSV_SPECIAL_BYTES = (b'"', b",", b"\r", b"\n")
# Decimal text that ``format(Decimal(text), "f")`` writes unchanged and ``money.amount`` accepts
# (at most 23 integer digits and 15 places): anything else takes the per-cell conversion.
_PLAIN_DECIMAL = r"^-?(0|[1-9][0-9]{0,22})(\.[0-9]{1,15})?$"
_EXACT_DIGITS = writers.SIGNIFICANT_DIGITS_EXACT_IN_DOUBLE
# A column whose values repeat this often on average is converted a distinct value at a time.
_REPEATS = 4


# ---- batches to bytes ---------------------------------------------------------------------------


def _bytes(arr: pa.Array) -> memoryview:
    """The concatenated values of a string array without nulls (its data buffer, no copy)."""
    if len(arr) == 0 or arr.buffers()[2] is None:
        return memoryview(b"")
    offsets = memoryview(arr.buffers()[1]).cast("q" if arr.type == pa.large_string() else "i")
    return memoryview(arr.buffers()[2])[offsets[arr.offset] : offsets[arr.offset + len(arr)]]


def _holds(arr: pa.Array, needles: Iterable[bytes], control: bool = False) -> bool:
    """Whether a value of ``arr`` may hold one of ``needles`` (or a control character): one scan
    of the whole column's bytes."""
    data = bytes(_bytes(arr))
    if control and len(data.translate(None, _CONTROL_BYTES)) != len(data):
        return True
    return any(needle in data for needle in needles)


@functools.cache
def _lit(value: str | bool | int) -> pa.Scalar:
    """A kernel argument as an Arrow scalar: a plain Python value is converted at every call, and
    that conversion looks for numpy each time (an import that fails: slower than the kernel)."""
    return pa.scalar(value)


def _join(*parts: Any) -> pa.Array:
    return pc.binary_join_element_wise(*(_lit(p) if isinstance(p, str) else p for p in parts), _lit(""))


def _via_python(arr: pa.Array, convert: Callable[[Any], str], parse: Callable[[str], Any] | None) -> pa.Array:
    """``convert`` of every value (``parse`` of it first), called once per distinct value."""
    encoded = pc.dictionary_encode(arr)
    distinct = encoded.dictionary.to_pylist()
    if parse is not None:
        distinct = [parse(v) for v in distinct]
    out = pa.array([convert(v) for v in distinct], _STRING).take(encoded.indices)
    return pc.fill_null(out, _lit(convert(None))) if out.null_count else out


def _per_cell(out: pa.Array, arr: pa.Array, mask: pa.Array, convert: Callable[[Any], str]) -> pa.Array:
    """``out`` with the cells under ``mask`` replaced by ``convert`` of the value (rare cells)."""
    mask = pc.fill_null(mask, _lit(False))
    if not pc.any(mask).as_py():
        return out
    done = pa.array([convert(v) for v in arr.filter(mask).to_pylist()], _STRING)
    return pc.replace_with_mask(out, mask, done)


def _first_in(arr: pa.Array, chars: pa.Array) -> pa.Array:
    return pc.is_in(pc.utf8_slice_codeunits(arr, 0, 1), value_set=chars)


def _parse_instant(text: str) -> dt.datetime:
    instant = dt.datetime.fromisoformat(text)
    return instant if instant.tzinfo is not None else instant.replace(tzinfo=dt.UTC)


_PARSE: dict[str, Callable[[str], Any]] = {"date": dt.date.fromisoformat, "datetime": _parse_instant, "int": int}


def _python_column(kind: str, converter: Callable[[Any], str]) -> Callable[[pa.Array], pa.Array]:
    parse = _PARSE.get(kind)

    def convert(arr: pa.Array) -> pa.Array:
        return _via_python(arr, converter, parse)

    return convert


def _plain_amounts(arr: pa.Array) -> pa.Array:
    return pc.fill_null(pc.match_substring_regex(arr, _PLAIN_DECIMAL), _lit(True))


# ---- CSV ----------------------------------------------------------------------------------------


def _filled(arr: pa.Array) -> pa.Array:
    return pc.fill_null(arr, _lit("")) if arr.null_count else arr


def _csv_text(arr: pa.Array) -> pa.Array:
    text = _filled(arr)
    if not _holds(text, _FORMULA_BYTES):
        return text
    formula = _first_in(text, _FORMULA_STARTS)
    return pc.if_else(formula, _join("'", text), text) if pc.any(formula).as_py() else text


def _csv_amount(arr: pa.Array) -> pa.Array:
    return _per_cell(_filled(arr), arr, pc.invert(_plain_amounts(arr)), writers._csv_amount)


def _csv_quoted(arr: pa.Array) -> pa.Array:
    """:mod:`csv`'s minimal quoting: a cell holding a delimiter, a quote or a line break."""
    if not _holds(arr, _CSV_SPECIAL_BYTES):
        return arr
    special = pc.match_substring_regex(arr, '[",\r\n]')
    return pc.if_else(special, _join('"', pc.replace_substring(arr, '"', '""'), '"'), arr)


def _column_converters(
    columns: Sequence[Column],
    converters: Sequence[Callable[[Any], str]],
    text: Callable[[pa.Array], pa.Array],
    amount: Callable[[pa.Array], pa.Array],
) -> list[Callable[[pa.Array], pa.Array]]:
    """Per column, the kernels of its kind (``text``, ``amount``), else its per-cell converter
    called once per distinct value."""
    special = {"text": text, "amount": amount}
    return [
        special.get(col.kind) or _python_column(col.kind, converter)
        for col, converter in zip(columns, converters, strict=True)
    ]


def _converted(batch: pa.RecordBatch, convert: Sequence[Callable[[pa.Array], pa.Array]]) -> list[pa.Array]:
    if batch.num_columns != len(convert):
        raise writers.RowShapeError(f"a batch has {batch.num_columns} columns for {len(convert)}")
    return [c(_as_string(batch.column(i))) for i, c in enumerate(convert)]


def csv_columns(columns: Sequence[Column]) -> list[Callable[[pa.Array], pa.Array]]:
    return _column_converters(columns, writers.csv_converters(columns), _csv_text, _csv_amount)


def csv_lines(batch: pa.RecordBatch, convert: Sequence[Callable[[pa.Array], pa.Array]]) -> memoryview:
    """The batch's rows as CSV lines (``\\r\\n``), as :func:`.writers.write_csv` writes them."""
    cells = [_csv_quoted(cell) for cell in _converted(batch, convert)]
    if len(cells) == 1:  # csv writes a row of one empty cell as ""
        cells[0] = pc.if_else(pc.equal(cells[0], _lit("")), _lit('""'), cells[0])
    return _bytes(_join(pc.binary_join_element_wise(*cells, _lit(",")), "\r\n"))


def write_csv(
    out: IO[bytes],
    columns: Sequence[Column],
    batches: Iterable[pa.RecordBatch],
    *,
    progress: writers.Progress | None = None,
    progress_every: int = writers.PROGRESS_EVERY,
) -> int:
    """The CSV file (UTF-8 with a byte-order mark) of ``batches`` to the binary stream ``out``."""
    head = io.StringIO(newline="")
    csv.writer(head, lineterminator="\r\n").writerow([str(c.header) for c in columns])
    out.write(head.getvalue().encode("utf-8-sig"))
    convert = csv_columns(columns)
    counter = writers._Counter(progress, progress_every)
    for batch in batches:
        if batch.num_rows:
            out.write(csv_lines(batch, convert))
            counter.add(batch.num_rows)
    return counter.finish()


# ---- XLSX ---------------------------------------------------------------------------------------

_CELL_OPEN = '<c t="inlineStr"><is><t>'
_CELL_CLOSE = "</t></is></c>"


def _xlsx_text(arr: pa.Array) -> pa.Array:
    text = _filled(arr)
    out = _join(_CELL_OPEN, text, _CELL_CLOSE)
    if pc.min(pc.binary_length(text)).as_py() == 0:
        out = pc.if_else(pc.equal(text, _lit("")), _lit("<c/>"), out)
    # Formula starts and spaces at either end (xml:space) are rare: the per-cell converter.
    # Only what a value of the batch may need is looked for (the bytes of the whole column first).
    checks = []
    spaces = _holds(text, _SPACE_BYTES)
    if spaces or _holds(text, _FORMULA_BYTES):
        checks.append(_first_in(text, _FORMULA_OR_SPACE))
    if spaces:
        checks.append(pc.is_in(pc.utf8_slice_codeunits(text, -1), value_set=_EDGE_SPACE))
    if _holds(text, _XML_UNSAFE_BYTES, control=True):
        checks.append(pc.match_substring_regex(text, _XML_UNSAFE))
    if not checks:
        return out
    slow = checks[0]
    for more in checks[1:]:
        slow = pc.or_(slow, more)
    return _per_cell(out, arr, slow, writers._xlsx_text)


def _xlsx_amount(arr: pa.Array) -> pa.Array:
    text = _filled(arr)
    digits = pc.utf8_trim(pc.replace_substring(pc.replace_substring(text, "-", ""), ".", ""), "0")
    number = pc.or_(
        pc.less_equal(pc.utf8_length(text), _lit(_EXACT_DIGITS)),
        pc.less_equal(pc.utf8_length(digits), _lit(_EXACT_DIGITS)),
    )
    out = pc.if_else(number, _join("<c><v>", text, "</v></c>"), _join(_CELL_OPEN, text, _CELL_CLOSE))
    if arr.null_count:
        out = pc.if_else(pc.is_null(arr), _lit("<c/>"), out)
    return _per_cell(out, arr, pc.invert(_plain_amounts(arr)), writers._xlsx_amount)


def _by_distinct(convert: Callable[[pa.Array], pa.Array]) -> Callable[[pa.Array], pa.Array]:
    """``convert`` of a column run on its distinct values and spread back, when values repeat
    (customers, services, regions: most columns of a ledger); on every value otherwise."""

    def by_distinct(arr: pa.Array) -> pa.Array:
        encoded = pc.dictionary_encode(arr, null_encoding="encode")
        if len(encoded.dictionary) * _REPEATS > len(arr):
            return convert(arr)
        return convert(encoded.dictionary).take(encoded.indices)

    return by_distinct


def xlsx_columns(columns: Sequence[Column]) -> list[Callable[[pa.Array], pa.Array]]:
    text = _by_distinct(_xlsx_text)
    return _column_converters(columns, writers.xlsx_converters(columns), text, _xlsx_amount)


def xlsx_rows(batch: pa.RecordBatch, convert: Sequence[Callable[[pa.Array], pa.Array]], first: int) -> memoryview:
    """The batch's ``<row>`` elements, numbered from ``first``, as :func:`.writers.write_xlsx`."""
    cells = _converted(batch, convert)
    numbers = pa.array(range(first, first + batch.num_rows), pa.int64()).cast(_STRING)
    return _bytes(_join('<row r="', numbers, '">', *cells, "</row>"))


def _sheets(batches: Iterable[pa.RecordBatch], per_sheet: int) -> Iterator[Iterator[pa.RecordBatch]]:
    """The batches cut into runs of at most ``per_sheet`` rows, one run per worksheet; no run is
    empty except the first (an export without rows has a sheet with the header)."""
    pending: list[pa.RecordBatch] = []
    source = (b for b in batches if b.num_rows)

    def sheet() -> Iterator[pa.RecordBatch]:
        room = per_sheet
        while room:
            batch = pending.pop() if pending else next(source, None)
            if batch is None:
                return
            if batch.num_rows > room:
                pending.append(batch.slice(room))
                batch = batch.slice(0, room)
            room -= batch.num_rows
            yield batch

    yield sheet()
    while True:
        nxt = pending.pop() if pending else next(source, None)
        if nxt is None:
            return
        pending.append(nxt)
        yield sheet()


_Chunk = bytes | memoryview


class _Behind:
    """Writes to ``stream`` in a thread of its own, so that a worksheet's deflate (zlib lets go of
    the GIL for the whole chunk) runs while the next batch is read and converted; two chunks wait
    at most. The conversion itself stays in the caller's thread: SQLite's driver lets go of the
    GIL at every row it steps to, and a second thread busy in Python makes each of those wait."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._chunks: queue.Queue[_Chunk | None] = queue.Queue(maxsize=2)
        self._failed: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="export-deflate", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (chunk := self._chunks.get()) is not None:
            if self._failed is None:
                try:
                    self._stream.write(chunk)
                except BaseException as exc:  # noqa: BLE001 - raised again in the caller's thread
                    self._failed = exc

    def put(self, chunk: _Chunk) -> None:
        self._raise()
        self._chunks.put(chunk)

    def close(self, *, quietly: bool = False) -> None:
        self._chunks.put(None)
        self._thread.join()
        if not quietly:
            self._raise()

    def _raise(self) -> None:
        if self._failed is not None:
            raise self._failed


@contextlib.contextmanager
def _behind(stream: IO[bytes]) -> Iterator[Callable[[_Chunk], None]]:
    writer = _Behind(stream)
    try:
        yield writer.put
    except BaseException:
        writer.close(quietly=True)  # the caller's failure (a cancelled task) is the one told
        raise
    writer.close()


def write_xlsx(
    out: IO[bytes],
    columns: Sequence[Column],
    batches: Iterable[pa.RecordBatch],
    *,
    sheet_title: str = "Export",
    progress: writers.Progress | None = None,
    progress_every: int = writers.PROGRESS_EVERY,
    max_rows_per_sheet: int = writers.XLSX_MAX_ROWS,
) -> int:
    """The workbook of ``batches`` to ``out``, as :func:`.writers.write_xlsx` writes it."""
    convert = xlsx_columns(columns)
    head = writers._sheet_head(columns)
    counter = writers._Counter(progress, progress_every)
    names: list[str] = []
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for run in _sheets(batches, max_rows_per_sheet - 1):  # the header takes one row
            names.append(writers.sheet_name(sheet_title, len(names) + 1))
            with zf.open(f"xl/worksheets/sheet{len(names)}.xml", "w", force_zip64=True) as sheet:
                with _behind(sheet) as put:
                    put(head)
                    row = 2
                    for batch in run:
                        put(xlsx_rows(batch, convert, row))
                        row += batch.num_rows
                        counter.add(batch.num_rows)
                    put(writers._SHEET_TAIL)
        writers._write_package(zf, names)
    return counter.finish()


# ---- reading the database -----------------------------------------------------------------------


def _as_string(arr: pa.Array) -> pa.Array:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr if arr.type == _STRING else arr.cast(_STRING)


def _sqlite_batches(sql: str, params: Sequence[Any], names: Sequence[str], size: int) -> Iterator[pa.RecordBatch]:
    """Each row is one text, the JSON array of its columns (:class:`AsRecord`): one Python object a
    row instead of one a cell (the driver's per-cell objects were most of the read's time). Without
    its brackets, the array is a CSV line that pyarrow's CSV reader parses with the rest of the
    batch, except for JSON escapes other than ``\\"`` and ``\\\\``: rows with a backslash are
    decoded again by :mod:`json` (rare: a control character or a backslash in a value)."""
    import pyarrow.csv as pacsv

    options = _json_options(names)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(size):
            lines = [r[0][1:-1] for r in rows]
            batch = pacsv.read_csv(pa.BufferReader("\n".join(lines).encode()), **options).combine_chunks()
            escaped = [i for i, line in enumerate(lines) if "\\" in line]
            if escaped:
                batch = _json_decoded(batch, [rows[i][0] for i in escaped], escaped)
            yield from batch.to_batches()


def _json_decoded(table: pa.Table, arrays: Sequence[str], at: Sequence[int]) -> pa.Table:
    """``table`` with the rows ``at`` replaced by the JSON ``arrays``, decoded by :mod:`json`."""
    flags = [False] * table.num_rows
    for i in at:
        flags[i] = True
    mask = pa.array(flags)
    values = list(zip(*(json.loads(a) for a in arrays), strict=True))
    columns = [
        pc.replace_with_mask(col, mask, pa.array(v, _STRING)) for col, v in zip(table.columns, values, strict=True)
    ]
    return pa.Table.from_arrays(columns, names=table.column_names)


def _json_options(names: Sequence[str]) -> dict[str, Any]:
    """How pyarrow's CSV reader parses SQLite's JSON arrays without their brackets (quotes and
    backslashes escaped with a backslash): NULL is the text ``null`` unquoted, a quoted field is
    never NULL; an empty line is a record of one value."""
    import pyarrow.csv as pacsv

    columns = list(names)
    return {
        "read_options": pacsv.ReadOptions(column_names=columns, use_threads=False, block_size=1 << 26),
        "parse_options": pacsv.ParseOptions(
            escape_char="\\",
            double_quote=True,
            newlines_in_values=True,
            ignore_empty_lines=False,
        ),
        "convert_options": pacsv.ConvertOptions(
            column_types=dict.fromkeys(columns, _STRING),
            null_values=["null"],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        ),
    }


def _postgres_batches(sql: str, params: Sequence[Any], names: Sequence[str], size: int) -> Iterator[pa.RecordBatch]:
    """``COPY (…) TO STDOUT (FORMAT csv)`` of the query into a spool (in memory up to
    :data:`SPOOL_BYTES`, then a temporary file), read whole before its batches are parsed and
    handed on: the task's heartbeat uses the connection between batches, and it cannot while a
    ``COPY`` is under way. The driver hands over one row at a time, so the spool's batches end at
    known offsets (one ``read_csv`` each: pyarrow's streaming reader held three times the memory).
    CSV writes NULL as an empty field unquoted and the empty string as ``""``; quotes are doubled,
    nothing else is escaped."""
    import pyarrow.csv as pacsv

    options = _copy_options(names)
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
        with connection.cursor() as cursor:
            ends = _copy_to(cursor.cursor, f"COPY ({sql}) TO STDOUT (FORMAT csv)", params, spool, size)
        spool.seek(0)
        at = 0
        for end in ends:
            data = spool.read(end - at)
            at = end
            yield from pacsv.read_csv(pa.BufferReader(data), **options).combine_chunks().to_batches()


def _copy_to(cursor: Any, statement: str, params: Sequence[Any], spool: IO[bytes], size: int) -> list[int]:
    """Runs ``statement`` (a ``COPY … TO STDOUT``) with the driver's ``cursor`` into ``spool``; the
    offsets at which each run of ``size`` rows ends."""
    ends: list[int] = []
    held: list[Any] = []
    with cursor.copy(statement, params) as copy:
        for row in copy:
            held.append(row)
            if len(held) == size:
                spool.write(b"".join(held))
                ends.append(spool.tell())
                held = []
    if held:
        spool.write(b"".join(held))
        ends.append(spool.tell())
    return ends


def _copy_options(names: Sequence[str]) -> dict[str, Any]:
    import pyarrow.csv as pacsv

    columns = list(names)
    return {
        "read_options": pacsv.ReadOptions(column_names=columns, use_threads=False, block_size=1 << 26),
        "parse_options": pacsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False),
        "convert_options": pacsv.ConvertOptions(
            column_types=dict.fromkeys(columns, _STRING),
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        ),
    }


class AsRecord(Func):
    """SQLite: the row's columns as one text, ``json_array(…)`` (one C call a row: a chain of
    ``||`` costs more than reading the cells one by one)."""

    template = "json_array(%(expressions)s)"
    output_field = TextField()


def query_batches(
    query: tuple[str, Sequence[Any]] | None, names: Sequence[str], size: int | None = None
) -> Iterator[pa.RecordBatch]:
    """The rows of ``query`` (:func:`text_query`: SQL and parameters) as record batches of
    ``size`` rows (:data:`BATCH_ROWS`): streamed from a bare cursor on SQLite, through a spool of
    ``COPY``'s output on PostgreSQL. None: no rows."""
    if query is None:
        return iter(())
    sql, params = query
    size = size or BATCH_ROWS
    if connection.vendor == "postgresql":
        return _postgres_batches(sql, params, names, size)
    return _sqlite_batches(sql, params, names, size)


class AsText(Func):
    """A column as the text a batch holds (see the module docstring), on either engine.

    ``kind`` is the export column's kind, or ``bool`` (``1``/``0``). On SQLite every value is
    cast, so that no type converter of the driver parses it; PostgreSQL formats it."""

    arity = 1
    output_field = TextField()

    def __init__(self, column: str, kind: str) -> None:
        super().__init__(F(column))
        self.kind = kind

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return super().as_sql(compiler, connection, template="CAST(%(expressions)s AS TEXT)", **extra)

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        template = {
            "amount": "trim_scale(%(expressions)s)::text",
            "date": "to_char(%(expressions)s, 'YYYY-MM-DD')",
            "datetime": "to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')",
            "bool": "CASE WHEN %(expressions)s THEN '1' ELSE '0' END",
            "int": "(%(expressions)s)::text",
        }.get(self.kind, "(%(expressions)s)::text")
        return super().as_sql(compiler, connection, template=template, **extra)


def text_query(qs: QuerySet[Any], fields: Sequence[tuple[str, str]]) -> tuple[str, Sequence[Any]] | None:
    """The SQL and parameters of ``qs`` (its filters and order as they are) selecting ``fields``
    — ``(path, kind)`` pairs — as :class:`AsText` (on SQLite, the row as one :class:`AsRecord`),
    for :func:`query_batches`; None when ``qs`` can match nothing (an empty scope)."""
    named: dict[str, Func] = {f"export_{i}": AsText(path, kind) for i, (path, kind) in enumerate(fields)}
    if connections[qs.db].vendor != "postgresql":
        named = {"export_record": AsRecord(*named.values())}
    rows = qs.annotate(**named).values_list(*named)
    try:
        sql, params = rows.query.get_compiler(using=rows.db).as_sql()
    except EmptyResultSet:
        return None
    return sql, params


def map_column(arr: pa.Array, convert: Callable[[Any], Any]) -> pa.Array:
    """``convert`` of each value (text or None to text or None), called once per distinct value:
    for enumerations written as their labels."""
    encoded = pc.dictionary_encode(_as_string(arr), null_encoding="encode")
    mapped = pa.array([convert(v) for v in encoded.dictionary.to_pylist()], _STRING)
    return mapped.take(encoded.indices)


def write_file(
    fmt: str,
    path: Path,
    columns: Sequence[Column],
    batches: Iterable[pa.RecordBatch],
    *,
    sheet_title: str = "Export",
    progress: writers.Progress | None = None,
    progress_every: int = writers.PROGRESS_EVERY,
) -> int:
    """:func:`.writers.write_file` of record batches: the file, flushed to disk; the row count."""
    if fmt not in ("csv", "xlsx"):
        raise ValueError(f"unknown export format {fmt!r}")
    with open(path, "wb", buffering=1 << 20) as binary:
        if fmt == "csv":
            n = write_csv(binary, columns, batches, progress=progress, progress_every=progress_every)
        else:
            n = write_xlsx(
                binary, columns, batches, sheet_title=sheet_title, progress=progress, progress_every=progress_every
            )
        binary.flush()
        os.fsync(binary.fileno())
    return n
