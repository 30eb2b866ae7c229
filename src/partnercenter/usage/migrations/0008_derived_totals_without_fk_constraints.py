"""Daily rollups and running totals keep no foreign-key constraints on PostgreSQL either.

As for line items (0007): Django declares them DEFERRABLE INITIALLY DEFERRED, so every rollup and
running-total row a batch writes queues a check per key, all run at COMMIT, row by row. Measured
with ``make bench`` on PostgreSQL 15 (docs/benchmarks.md): the COMMIT of a 1,000,000-row batch
(~630,000 rollups, two checks each, and ~150,000 running-total days) took 9.2 s with them and
0.14 s without. Both tables are derived from line items whose customer and partner ingestion has
resolved (and ``partnercenter rebuild-totals`` recomputes them); a running total's key is written
by the same statements just before its days (usage/running.py); customers, partners and keys are
never deleted, and the ORM's PROTECT still refuses to delete one that rows refer to.

SQLite keeps the constraints its tables were created with, as in 0007.
"""

from typing import Any

import django.db.models.deletion
from django.db import migrations, models

FIELDS = {"DailyRollup": ("customer", "partner"), "CustomerRunningTotal": ("key",)}


def drop_constraints(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for model_name, fields in FIELDS.items():
        model = apps.get_model("usage", model_name)
        for name in fields:
            column = model._meta.get_field(name).column
            for constraint in schema_editor._constraint_names(model, [column], foreign_key=True):
                schema_editor.execute(schema_editor._delete_fk_sql(model, constraint))


def restore_constraints(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for model_name, fields in FIELDS.items():
        model = apps.get_model("usage", model_name)
        for name in fields:
            field = model._meta.get_field(name)
            if not schema_editor._constraint_names(model, [field.column], foreign_key=True):
                schema_editor.execute(schema_editor._create_fk_sql(model, field, "_fk_%(to_table)s_%(to_column)s"))


def _fk(to: str, db_index: bool) -> Any:
    return models.ForeignKey(
        on_delete=django.db.models.deletion.PROTECT, related_name="+", to=to, db_index=db_index, db_constraint=False
    )


class Migration(migrations.Migration):
    dependencies = [
        ("partners", "0001_initial"),
        ("usage", "0007_line_items_without_foreign_key_constraints"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(drop_constraints, restore_constraints)],
            state_operations=[
                migrations.AlterField(
                    model_name="customerrunningtotal", name="key", field=_fk("usage.customertotalkey", False)
                ),
                migrations.AlterField(model_name="dailyrollup", name="customer", field=_fk("partners.customer", True)),
                migrations.AlterField(model_name="dailyrollup", name="partner", field=_fk("partners.partner", False)),
            ],
        )
    ]
