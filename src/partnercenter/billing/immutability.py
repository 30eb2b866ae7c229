"""Generated bills, their lines, their stored summaries (totals per product and per customer) and
invoices never change (rule B2): the database itself refuses any UPDATE or DELETE of those rows, on SQLite and PostgreSQL, so no code path — service, admin,
shell or raw SQL — can edit a figure. Corrections are new lines on a later bill.

Wiping a whole database (``manage.py flush``) is not an edit: PostgreSQL empties tables with
TRUNCATE, which row triggers do not see; SQLite deletes row by row, so the flush command
(``management/commands/flush.py``) drops these triggers, empties the tables and puts them back.
"""

from __future__ import annotations

from typing import Any

# Migration 0003 protected the first three; 0004 added the summaries (bills' derived data).
FIRST_TABLES = ("billing_bill", "billing_billline", "billing_invoice")
SUMMARY_TABLES = ("billing_billproducttotal", "billing_billcustomertotal")
TABLES = FIRST_TABLES + SUMMARY_TABLES
MESSAGE = "partner bills, bill lines and invoices are immutable"


def _sqlite_create(table: str) -> list[str]:
    return [
        f"CREATE TRIGGER {table}_immutable_{op.lower()} BEFORE {op} ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
        for op in ("UPDATE", "DELETE")
    ]


def _sqlite_drop(table: str) -> list[str]:
    return [f"DROP TRIGGER IF EXISTS {table}_immutable_{op}" for op in ("update", "delete")]


_PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION billing_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'restrict_violation',
        MESSAGE = '{MESSAGE} (' || TG_OP || ' on ' || TG_TABLE_NAME || ')';
END;
$$ LANGUAGE plpgsql
"""


def create_sql(vendor: str, tables: tuple[str, ...] = TABLES) -> list[str]:
    if vendor == "postgresql":
        return [_PG_FUNCTION] + [
            f"CREATE TRIGGER {t}_immutable BEFORE UPDATE OR DELETE ON {t} "
            "FOR EACH ROW EXECUTE FUNCTION billing_refuse_change()"
            for t in tables
        ]
    return [sql for t in tables for sql in _sqlite_create(t)]


def drop_sql(vendor: str, tables: tuple[str, ...] = TABLES) -> list[str]:
    """Drop the triggers of ``tables``; the PostgreSQL function goes with the first tables' ones
    (the last to be dropped when migrating backwards)."""
    if vendor == "postgresql":
        function = ["DROP FUNCTION IF EXISTS billing_refuse_change()"] if FIRST_TABLES[0] in tables else []
        return [f"DROP TRIGGER IF EXISTS {t}_immutable ON {t}" for t in tables] + function
    return [sql for t in tables for sql in _sqlite_drop(t)]


def install(schema_editor: Any, tables: tuple[str, ...] = TABLES) -> None:
    for sql in create_sql(schema_editor.connection.vendor, tables):
        schema_editor.execute(sql)


def uninstall(schema_editor: Any, tables: tuple[str, ...] = TABLES) -> None:
    for sql in drop_sql(schema_editor.connection.vendor, tables):
        schema_editor.execute(sql)
