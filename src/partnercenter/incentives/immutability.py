"""Generated incentives never change but for their state (I2, I8): the database itself refuses an
UPDATE of an incentive that touches anything other than ``state`` and ``issued_at``, any DELETE of
an incentive, and any UPDATE or DELETE of its lines, recorded transitions, feedback, estimates and
payout application items and decisions — on SQLite and PostgreSQL, so no code path (service,
admin, shell or raw SQL) can edit a figure or rewrite the history. A refund after generation is a
clawback in a later period, a recomputed estimate a new row.

Wiping a whole database is not an edit: PostgreSQL flushes with TRUNCATE, which row triggers do
not see; on SQLite the flush command (billing/management/commands/flush.py) drops these triggers
for the flush and puts them back, as it does for the bills'.
"""

from __future__ import annotations

from typing import Any

INCENTIVE_TABLE = "incentives_incentive"
APPEND_ONLY_TABLES = (
    "incentives_line",
    "incentives_transition",
    "incentives_feedback",
    "incentives_applicationitem",
    "incentives_applicationdecision",
    "incentives_estimate",
)
# The columns of an incentive that are fixed once it is generated: all but state and issued_at.
FIXED_COLUMNS = (
    "id",
    "number",
    "program_id",
    "partner_id",
    "period_start",
    "period_end",
    "currency",
    "association_type",
    "kind",
    "base_amount",
    "amount",
    "line_count",
    "generated_at",
    "deadline",
    "through_line_item_id",
)
MESSAGE = "generated incentives and their lines, transitions, feedback, estimates and payout decisions are immutable"
INCENTIVE_MESSAGE = "incentives are immutable but for their state and issued_at"


def _sqlite_create() -> list[str]:
    changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in FIXED_COLUMNS)
    out = [
        f"CREATE TRIGGER {INCENTIVE_TABLE}_immutable_update BEFORE UPDATE ON {INCENTIVE_TABLE} "
        f"WHEN {changed} BEGIN SELECT RAISE(ABORT, '{INCENTIVE_MESSAGE}'); END",
        f"CREATE TRIGGER {INCENTIVE_TABLE}_immutable_delete BEFORE DELETE ON {INCENTIVE_TABLE} "
        f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END",
    ]
    for table in APPEND_ONLY_TABLES:
        out += [
            f"CREATE TRIGGER {table}_immutable_{op.lower()} BEFORE {op} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
            for op in ("UPDATE", "DELETE")
        ]
    return out


def _sqlite_drop() -> list[str]:
    return [
        f"DROP TRIGGER IF EXISTS {t}_immutable_{op}"
        for t in (INCENTIVE_TABLE, *APPEND_ONLY_TABLES)
        for op in ("update", "delete")
    ]


_PG_REFUSE = f"""
CREATE OR REPLACE FUNCTION incentives_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'restrict_violation',
        MESSAGE = '{MESSAGE} (' || TG_OP || ' on ' || TG_TABLE_NAME || ')';
END;
$$ LANGUAGE plpgsql
"""

# Everything of the row but state and issued_at must stay as it was.
_PG_REFUSE_INCENTIVE = f"""
CREATE OR REPLACE FUNCTION incentives_refuse_incentive_edit() RETURNS trigger AS $$
BEGIN
    IF (to_jsonb(NEW) - 'state' - 'issued_at') IS DISTINCT FROM (to_jsonb(OLD) - 'state' - 'issued_at') THEN
        RAISE EXCEPTION USING ERRCODE = 'restrict_violation',
            MESSAGE = '{INCENTIVE_MESSAGE} (' || TG_OP || ' on ' || TG_TABLE_NAME || ')';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql
"""


def create_sql(vendor: str) -> list[str]:
    if vendor != "postgresql":
        return _sqlite_create()
    return [
        _PG_REFUSE,
        _PG_REFUSE_INCENTIVE,
        f"CREATE TRIGGER {INCENTIVE_TABLE}_immutable_update BEFORE UPDATE ON {INCENTIVE_TABLE} "
        "FOR EACH ROW EXECUTE FUNCTION incentives_refuse_incentive_edit()",
        f"CREATE TRIGGER {INCENTIVE_TABLE}_immutable_delete BEFORE DELETE ON {INCENTIVE_TABLE} "
        "FOR EACH ROW EXECUTE FUNCTION incentives_refuse_change()",
    ] + [
        f"CREATE TRIGGER {t}_immutable BEFORE UPDATE OR DELETE ON {t} FOR EACH ROW EXECUTE FUNCTION incentives_refuse_change()"
        for t in APPEND_ONLY_TABLES
    ]


def drop_sql(vendor: str) -> list[str]:
    if vendor != "postgresql":
        return _sqlite_drop()
    return (
        [f"DROP TRIGGER IF EXISTS {INCENTIVE_TABLE}_immutable_{op} ON {INCENTIVE_TABLE}" for op in ("update", "delete")]
        + [f"DROP TRIGGER IF EXISTS {t}_immutable ON {t}" for t in APPEND_ONLY_TABLES]
        + [
            "DROP FUNCTION IF EXISTS incentives_refuse_incentive_edit()",
            "DROP FUNCTION IF EXISTS incentives_refuse_change()",
        ]
    )


def install(schema_editor: Any) -> None:
    for sql in create_sql(schema_editor.connection.vendor):
        schema_editor.execute(sql)


def uninstall(schema_editor: Any) -> None:
    for sql in drop_sql(schema_editor.connection.vendor):
        schema_editor.execute(sql)
