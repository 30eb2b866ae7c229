"""Generated bills, bill lines and invoices refuse UPDATE and DELETE in the database (rule B2)."""

from typing import Any

from django.db import migrations


def forwards(apps: Any, schema_editor: Any) -> None:
    from partnercenter.billing import immutability

    immutability.install(schema_editor, immutability.FIRST_TABLES)


def backwards(apps: Any, schema_editor: Any) -> None:
    from partnercenter.billing import immutability

    immutability.uninstall(schema_editor, immutability.FIRST_TABLES)


class Migration(migrations.Migration):
    dependencies = [("billing", "0002_payments_transfer_and_idempotency")]

    operations = [migrations.RunPython(forwards, backwards)]
