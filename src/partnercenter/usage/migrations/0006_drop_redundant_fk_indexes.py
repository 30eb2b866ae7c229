"""Drop the single-column foreign-key indexes that a composite index already serves (or, for a line
item's batch, that no read uses): every ingested line item wrote three of them.

Done with DROP INDEX (CREATE INDEX to reverse) rather than AlterField's database operation: on
SQLite, AlterField rebuilds the whole table, which on a ledger of millions of line items is a copy
of every row for nothing.
"""

from typing import Any

import django.db.models.deletion
from django.db import migrations, models

# (model, field) whose single-column index goes.
DROPPED = (
    ("lineitem", "batch"),
    ("lineitem", "customer"),
    ("lineitem", "partner"),
    ("dailyrollup", "partner"),
    ("closedmonth", "partner"),
    ("customertotalkey", "customer"),
    ("customertotalkey", "partner"),
    ("customerrunningtotal", "key"),
    ("resourcemonth", "partner"),
)


def _single_column_indexes(schema_editor: Any, table: str, column: str) -> list[str]:
    """Names of the plain (not unique, not primary key) indexes on exactly ``column``."""
    with schema_editor.connection.cursor() as cursor:
        found = schema_editor.connection.introspection.get_constraints(cursor, table)
    return [
        name
        for name, info in found.items()
        if info["index"] and not info["unique"] and not info["primary_key"] and info["columns"] == [column]
    ]


def drop_indexes(apps: Any, schema_editor: Any) -> None:
    for model_name, field_name in DROPPED:
        model = apps.get_model("usage", model_name)
        column = model._meta.get_field(field_name).column
        for name in _single_column_indexes(schema_editor, model._meta.db_table, column):
            schema_editor.execute(f"DROP INDEX {schema_editor.quote_name(name)}")


def create_indexes(apps: Any, schema_editor: Any) -> None:
    for model_name, field_name in DROPPED:
        model = apps.get_model("usage", model_name)
        field = model._meta.get_field(field_name)
        if not _single_column_indexes(schema_editor, model._meta.db_table, field.column):
            schema_editor.execute(schema_editor._create_index_sql(model, fields=[field]))


def _fk(to: str, **kwargs: Any) -> Any:
    return models.ForeignKey(
        on_delete=django.db.models.deletion.PROTECT, related_name="+", to=to, db_index=False, **kwargs
    )


class Migration(migrations.Migration):
    dependencies = [
        ("partners", "0001_initial"),
        ("usage", "0005_resource_months"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(drop_indexes, create_indexes)],
            state_operations=[
                migrations.AlterField(model_name="closedmonth", name="partner", field=_fk("partners.partner")),
                migrations.AlterField(
                    model_name="customerrunningtotal", name="key", field=_fk("usage.customertotalkey")
                ),
                migrations.AlterField(model_name="customertotalkey", name="customer", field=_fk("partners.customer")),
                migrations.AlterField(model_name="customertotalkey", name="partner", field=_fk("partners.partner")),
                migrations.AlterField(model_name="dailyrollup", name="partner", field=_fk("partners.partner")),
                migrations.AlterField(model_name="lineitem", name="batch", field=_fk("usage.ingestbatch")),
                migrations.AlterField(model_name="lineitem", name="customer", field=_fk("partners.customer")),
                migrations.AlterField(model_name="lineitem", name="partner", field=_fk("partners.partner")),
                migrations.AlterField(model_name="resourcemonth", name="partner", field=_fk("partners.partner")),
            ],
        )
    ]
