"""Generated incentives (but for their state), their lines, transitions, feedback, estimates and
payout decisions refuse UPDATE and DELETE in the database (I2, I8)."""

from typing import Any

from django.db import migrations


def forwards(apps: Any, schema_editor: Any) -> None:
    from partnercenter.incentives import immutability

    immutability.install(schema_editor)


def backwards(apps: Any, schema_editor: Any) -> None:
    from partnercenter.incentives import immutability

    immutability.uninstall(schema_editor)


class Migration(migrations.Migration):
    dependencies = [("incentives", "0001_programs_and_incentives")]

    operations = [migrations.RunPython(forwards, backwards)]
