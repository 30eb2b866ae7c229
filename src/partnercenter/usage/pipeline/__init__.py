"""Ingestion as stages: the one path by which usage gets in.

* :mod:`.read`: the column layout of a source (which column holds which field) and its rows;
* :mod:`.validate`: every rule a row must pass, each problem reported with its row and column;
* :mod:`.transform`: what is derived from a valid row (identity, classification, billing-zone
  day and month, the customer and its association at charge time, the correction flag);
* :mod:`.write`: one writer per engine (SQLite ``executemany``, PostgreSQL ``COPY``);
* :mod:`.projections`: the derived totals (daily rollups, per-customer running totals), each
  fed the new rows' sums per rollup key;
* :mod:`.batch`: the orchestration (lock, batch record, chunks, report, freshness, ledger version).

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
