"""Line items keep no foreign-key constraints on PostgreSQL.

Django declares them DEFERRABLE INITIALLY DEFERRED: every line item written queues one check per
key (batch, customer, partner), all run at COMMIT, row by row. Measured on PostgreSQL 15 with
``python -m bench.constraints`` (docs/scaling.md): 2.8–3.9 s in COMMIT for 200,000 line items and
11–18 s for 500,000, against 0.01 s without them: more than the rows' own insert. Ingestion already resolves every row's customer
and the partner of the association in force before it writes anything (an unknown customer
rejects the whole batch: tests/test_usage_ingest.py::test_unknown_accounts_are_listed_and_nothing_written),
and writes the batch it has just created; customers, partners and batches are never deleted, and
the ORM's PROTECT still refuses to delete one that line items refer to.

SQLite keeps the constraints its tables were created with: removing them there means rebuilding
the whole table, and its checks are index lookups at insert time, not a queue at COMMIT.
"""

from typing import Any

import django.db.models.deletion
from django.db import migrations, models

FIELDS = ("batch", "customer", "partner")


def drop_constraints(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    model = apps.get_model("usage", "LineItem")
    for name in FIELDS:
        column = model._meta.get_field(name).column
        for constraint in schema_editor._constraint_names(model, [column], foreign_key=True):
            schema_editor.execute(schema_editor._delete_fk_sql(model, constraint))


def restore_constraints(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    model = apps.get_model("usage", "LineItem")
    for name in FIELDS:
        field = model._meta.get_field(name)
        if not schema_editor._constraint_names(model, [field.column], foreign_key=True):
            schema_editor.execute(schema_editor._create_fk_sql(model, field, "_fk_%(to_table)s_%(to_column)s"))


def _fk(to: str) -> Any:
    return models.ForeignKey(
        on_delete=django.db.models.deletion.PROTECT, related_name="+", to=to, db_index=False, db_constraint=False
    )


class Migration(migrations.Migration):
    dependencies = [
        ("partners", "0001_initial"),
        ("usage", "0006_drop_redundant_fk_indexes"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(drop_constraints, restore_constraints)],
            state_operations=[
                migrations.AlterField(model_name="lineitem", name="batch", field=_fk("usage.ingestbatch")),
                migrations.AlterField(model_name="lineitem", name="customer", field=_fk("partners.customer")),
                migrations.AlterField(model_name="lineitem", name="partner", field=_fk("partners.partner")),
            ],
        )
    ]
