"""Writing line items: one writer per engine, inside the batch's transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection

from ..models import IngestBatch
from . import validate
from .transform import CONTENT_COLUMNS, LINE_COLUMNS, LINE_ID_AT, SOURCE_ROW_AT

ADVISORY_LOCK_KEY = 0x50434E47  # "PCNG"
SQLITE_CACHE_KIB = 65_536  # SQLite page cache while a batch is written (the default is 2 MiB)
# PostgreSQL's memory for each sort and hash of the batch's transaction (the server's default is
# 4 MB): the projections group a batch's staged sums, up to a row per line item, in one statement
# each, and at 4 MB those spill to disk in several passes. One batch runs at a time (the lock).
POSTGRES_WORK_MEM = "128MB"
_SQLITE_PARAMS = 900  # identities per IN (...) list, under SQLite's bound-parameter limit
_COLUMNS = ", ".join(LINE_COLUMNS)
_STORED = ", ".join(("identity", "batch_id", "source_row", *CONTENT_COLUMNS))


class Writer:
    """Line-item reads and writes that ingestion needs, on the current connection."""

    vendor = ""

    def __init__(self) -> None:
        connection.ensure_connection()
        self.raw = connection.connection

    def lock(self) -> None:
        """One ingestion at a time (SQLite: its write lock, taken by BEGIN IMMEDIATE); on PostgreSQL
        also the batch's memory for sorts (POSTGRES_WORK_MEM)."""

    def existing(self, identities: list[bytes]) -> set[bytes]:
        """Which of these identities are stored."""
        raise NotImplementedError

    def stored(self, identities: list[bytes]) -> dict[bytes, tuple[Any, ...]]:
        """Rows already stored under these identities: (batch id, source row, *CONTENT_COLUMNS)."""
        raise NotImplementedError

    def insert(self, rows: list[tuple[Any, ...]]) -> None:
        """Add line items (LINE_COLUMNS tuples)."""
        raise NotImplementedError


class SqliteWriter(Writer):
    vendor = "sqlite"
    insert_sql = f"INSERT INTO usage_lineitem ({_COLUMNS}) VALUES ({', '.join('?' * len(LINE_COLUMNS))})"  # noqa: S608

    def _select(self, columns: str, identities: list[bytes]) -> Iterator[tuple[Any, ...]]:
        cur = self.raw.cursor()
        for i in range(0, len(identities), _SQLITE_PARAMS):
            part = identities[i : i + _SQLITE_PARAMS]
            marks = ",".join("?" * len(part))
            cur.execute(f"SELECT {columns} FROM usage_lineitem WHERE identity IN ({marks})", part)  # noqa: S608
            yield from cur.fetchall()

    def existing(self, identities: list[bytes]) -> set[bytes]:
        return {bytes(r[0]) for r in self._select("identity", identities)} if identities else set()

    def stored(self, identities: list[bytes]) -> dict[bytes, tuple[Any, ...]]:
        # The connection parses datetime columns; ingestion compares the text it writes.
        return {
            bytes(r[0]): tuple(v.isoformat(" ") if isinstance(v, dt.datetime) else v for v in r[1:])
            for r in self._select(_STORED, identities)
        }

    def insert(self, rows: list[tuple[Any, ...]]) -> None:
        if rows:
            self.raw.executemany(self.insert_sql, rows)

    def insert_new(self, rows: Iterable[tuple[Any, ...]]) -> tuple[int, int]:
        """Add the line items whose identity is not stored yet (nor earlier in ``rows``): the
        unique index finds them, instead of a query before the insert. Returns the last id
        before them and how many went in (the ids after it are theirs: ids only grow, and this
        writer holds the database's write lock)."""
        last = self.raw.execute("SELECT COALESCE(MAX(id), 0) FROM usage_lineitem").fetchone()[0]
        before = self.raw.total_changes
        self.raw.executemany(self._insert_new_sql, rows)
        return last, self.raw.total_changes - before

    def identities_after(self, last_id: int) -> set[bytes]:
        """The identities of the line items with an id after ``last_id``."""
        cur = self.raw.execute("SELECT identity FROM usage_lineitem WHERE id > ?", [last_id])
        return {bytes(r[0]) for r in cur}

    # Only a clash on the identity is passed over: any other constraint still fails the batch.
    _insert_new_sql = f"{insert_sql} ON CONFLICT (identity) DO NOTHING"


class PostgresWriter(Writer):
    vendor = "postgresql"
    copy_sql = f"COPY usage_lineitem ({_COLUMNS}) FROM STDIN"

    def lock(self) -> None:
        with self.raw.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [ADVISORY_LOCK_KEY])
            # For this transaction only (SET LOCAL): it ends with the batch.
            cur.execute(f"SET LOCAL work_mem = '{POSTGRES_WORK_MEM}'")

    def _select(self, columns: str, identities: list[bytes]) -> list[tuple[Any, ...]]:
        # One query per chunk, the array sent as a bound parameter (Django's cursors bind on the
        # client, which spells every identity out in the SQL text), in binary: as text, psycopg
        # spends longer writing 20,000 identities out than the server takes to look them up.
        import psycopg

        with psycopg.Cursor(self.raw) as pcur:
            pcur.execute(f"SELECT {columns} FROM usage_lineitem WHERE identity = ANY(%b)", [identities])  # noqa: S608
            return pcur.fetchall()

    def existing(self, identities: list[bytes]) -> set[bytes]:
        return {bytes(r[0]) for r in self._select("identity", identities)} if identities else set()

    def stored(self, identities: list[bytes]) -> dict[bytes, tuple[Any, ...]]:
        return {bytes(r[0]): tuple(r[1:]) for r in self._select(_STORED, identities)}

    def insert(self, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        with self.raw.cursor() as cur, cur.copy(self.copy_sql) as copy:
            for r in rows:
                copy.write_row(r)

    def insert_csv(self, data: bytes) -> None:
        """Add line items from CSV text (LINE_COLUMNS in order; an unquoted empty field is NULL)."""
        with self.raw.cursor() as cur, cur.copy(f"{self.copy_sql} (FORMAT csv)") as copy:
            copy.write(data)


def writer() -> Writer:
    """The writer for the current connection's engine."""
    return PostgresWriter() if connection.vendor == "postgresql" else SqliteWriter()


def stored_clashes(
    w: Writer, rows: list[tuple[Any, ...]], batch_id: int, col_name: dict[str, str]
) -> tuple[set[bytes], list[tuple[int, str]]]:
    """Native rows whose line id is already stored: their identities, and (row, reason) for each
    one whose content differs from the stored row's."""
    stored = w.stored([r[0] for r in rows])
    clashes: list[tuple[int, str]] = []
    if not stored:
        return set(), clashes
    names: dict[int, str] = {}
    for r in rows:
        old = stored.get(r[0])
        if old is None:
            continue
        diff = validate.differences(r, old[2:], col_name)
        if diff:
            where = _where_stored(old[0], old[1], batch_id, names)
            clashes.append((r[SOURCE_ROW_AT], validate.stored_line_id(r[LINE_ID_AT], where, diff)))
    return set(stored), clashes


def _where_stored(old_batch: int, old_row: int | None, batch_id: int, names: dict[int, str]) -> str:
    if old_batch == batch_id:
        return f"row {old_row} of this batch"
    if old_batch not in names:
        names[old_batch] = IngestBatch.objects.filter(pk=old_batch).values_list("file_name", flat=True).first() or ""
    where = f"batch #{old_batch}" + (f" {names[old_batch]!r}" if names[old_batch] else "")
    return where + (f", row {old_row}" if old_row else "")


@contextmanager
def sqlite_page_cache() -> Iterator[None]:
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
