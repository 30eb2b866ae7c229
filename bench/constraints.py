"""``python -m bench.constraints``: what line items' indexes and foreign-key constraints cost when
rows are written (docs/scaling.md).

In a fresh database (migrated, ``BENCH_CUSTOMERS`` customers made by ``bench.child setup``),
inserts N generated line items in one transaction with one ``INSERT … SELECT`` and times the
statement and the ``COMMIT`` apart, for each layout in turn, ``BENCH_REPEAT`` times alternating:

* ``as migrated``: the schema the migrations build;
* ``+ fk indexes``: plus single-column indexes on ``batch_id``, ``customer_id`` and ``partner_id``
  (what Django creates for foreign keys unless told otherwise);
* ``+ fk constraints`` (PostgreSQL): plus Django's ``DEFERRABLE INITIALLY DEFERRED`` foreign keys
  on the same columns, checked row by row at ``COMMIT``.

Only the database's own work is measured (no Python per row), so the layouts compare on a machine
doing other work too. Environment: ``BENCH_CONSTRAINT_ROWS`` (comma-separated, default
``200000,500000``), ``BENCH_REPEAT`` (default 2), ``BENCH_CUSTOMERS`` (default 5000),
``BENCH_ENGINES``, ``BENCH_POSTGRES_URL``, ``BENCH_CONSTRAINTS_PG_DB`` (default
``partnercenter_bench_constraints``), ``BENCH_KEEP=1``.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import Any

from .common import OUT, _child, _env_list, _log, _machine, _pg_admin, _pg_server_url, _unlink_sqlite, _with_db

PG_DB = os.environ.get("BENCH_CONSTRAINTS_PG_DB", "partnercenter_bench_constraints")
SQLITE_DB = OUT / "constraints.sqlite3"
REFERENCES = {"batch_id": "usage_ingestbatch", "customer_id": "partners_customer", "partner_id": "partners_partner"}

# The generated rows: each customer in turn with its partner, a day of March 2026, an amount.
_VALUES = {
    "postgresql": {
        "identity": "decode(md5(g::text), 'hex')",
        "charge_period_start": "timestamptz '2026-03-01' + (g %% 720) * interval '1 hour'",
        "charge_period_end": "timestamptz '2026-03-01' + (g %% 720 + 1) * interval '1 hour'",
        "charge_day": "date '2026-03-01' + (g %% 30)",
        "charge_month": "date '2026-03-01'",
        "billed_cost": "(g %% 1000) / 8.0",
        "is_correction": "false",
        "source_row": "g",
    },
    "sqlite": {
        "identity": "randomblob(16)",
        "charge_period_start": "'2026-03-01 00:00:00'",
        "charge_period_end": "'2026-03-01 01:00:00'",
        "charge_day": "date('2026-03-01', '+' || (g %% 30) || ' days')",
        "charge_month": "'2026-03-01'",
        "billed_cost": "CAST((g %% 1000) / 8.0 AS TEXT)",
        "is_correction": "0",
        "source_row": "g",
    },
}
_COMMON = {
    "customer_id": "a.customer_id",
    "partner_id": "a.partner_id",
    "association_type": "'reseller'",
    "classification": "'expenditure'",
    "charge_category": "'Usage'",
    "billing_currency": "'USD'",
    "service_type": "'cloud'",
    "x_billing_mode": "'pay_per_use'",
}


def _insert_sql(cur: Any, vendor: str, batch: int) -> str:
    from partnercenter.usage.models import LineItem

    fields = [f for f in LineItem._meta.concrete_fields if f.column != "id"]
    values = _VALUES[vendor] | _COMMON | {"batch_id": str(batch)}
    exprs = [values.get(str(f.column), "NULL" if f.null else "''") for f in fields]
    cols = ", ".join(str(f.column) for f in fields)
    series = (
        "generate_series(1, %s) g"
        if vendor == "postgresql"
        else "(WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < %s) SELECT g FROM s) t"
    )
    cur.execute("SELECT count(*) FROM bench_assoc")
    customers = cur.fetchone()[0]
    return (
        f"INSERT INTO usage_lineitem ({cols}) SELECT {', '.join(exprs)} FROM {series} "  # noqa: S608 - our columns
        f"JOIN bench_assoc a ON a.n = g %% {customers}"
    )


def _layouts(vendor: str) -> dict[str, list[str]]:
    indexes = [f"CREATE INDEX bench_{c} ON usage_lineitem ({c})" for c in REFERENCES]
    layouts = {"as migrated": [], "+ fk indexes": indexes}
    if vendor == "postgresql":
        layouts["+ fk constraints"] = [
            f"ALTER TABLE usage_lineitem ADD CONSTRAINT bench_{c}_fk FOREIGN KEY ({c}) REFERENCES {t} (id) "
            "DEFERRABLE INITIALLY DEFERRED"
            for c, t in REFERENCES.items()
        ]
    return layouts


def _undo(cur: Any, vendor: str) -> None:
    for c in REFERENCES:
        cur.execute(f"DROP INDEX IF EXISTS bench_{c}")
        if vendor == "postgresql":
            cur.execute(f"ALTER TABLE usage_lineitem DROP CONSTRAINT IF EXISTS bench_{c}_fk")


def _measure(sizes: list[int], repeat: int) -> None:
    """Runs in the child process, against DATABASE_URL."""
    from django.db import connection, transaction

    from partnercenter.core import clock
    from partnercenter.usage.models import IngestBatch

    vendor = connection.vendor
    now = clock.now()
    batch = IngestBatch.objects.create(source="bench", format="focus", checksum="", started_at=now, finished_at=now)
    with connection.cursor() as cur:
        cur.execute(
            "CREATE TABLE bench_assoc AS SELECT row_number() OVER (ORDER BY customer_id) - 1 AS n, customer_id, "
            "partner_id FROM partners_customerassociation"
        )
        sql = _insert_sql(cur, vendor, batch.pk)
    for rows in sizes:
        for _ in range(repeat):
            for layout, ddl in _layouts(vendor).items():
                with connection.cursor() as cur:
                    _undo(cur, vendor)
                    cur.execute("DELETE FROM usage_lineitem")
                    for statement in ddl:
                        cur.execute(statement)
                insert, commit = _timed_insert(transaction, connection, sql, rows)
                # To stderr: the parent reads this process's stdout for its figures only.
                print(
                    f"{vendor:<11}{rows:>9,} {layout:<18}{insert:>9.2f} s{commit:>9.2f} s{insert + commit:>9.2f} s",
                    file=sys.stderr,
                    flush=True,
                )


def _timed_insert(transaction: Any, connection: Any, sql: str, rows: int) -> tuple[float, float]:
    t0 = time.perf_counter()
    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute(sql, [rows])
        t1 = time.perf_counter()
    t2 = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM usage_lineitem")
        if cur.fetchone()[0] != rows:
            raise SystemExit("bench.constraints: wrong row count")
    return t1 - t0, t2 - t1


def _engine(url: str, fresh: Callable[[], None], drop: Callable[[], None], keep: bool) -> None:
    fresh()
    try:
        customers = os.environ.get("BENCH_CUSTOMERS", "5000")
        _child("bench.child", "setup", customers, database_url=url, var_dir=OUT)
        sizes = os.environ.get("BENCH_CONSTRAINT_ROWS", "200000,500000")
        _child("bench.constraints", "measure", sizes, database_url=url, var_dir=OUT)
    finally:
        if not keep:
            drop()


def _fresh_pg() -> None:
    _pg_admin(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
    _pg_admin(f"CREATE DATABASE {PG_DB}")


def main(argv: list[str]) -> None:
    if argv[:1] == ["measure"]:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "partnercenter.settings")
        import django

        django.setup()
        _measure([int(n.replace("_", "")) for n in argv[1].split(",")], int(os.environ.get("BENCH_REPEAT", "2")))
        print("{}")  # the step's figures are the lines above
        return
    keep = os.environ.get("BENCH_KEEP", "") == "1"
    OUT.mkdir(parents=True, exist_ok=True)
    _log(f"Line item indexes and constraints at write time. {_machine()}")
    _log(f"{'engine':<11}{'rows':>9} {'layout':<18}{'insert':>11}{'COMMIT':>11}{'total':>11}")
    engines = _env_list("BENCH_ENGINES", "sqlite,postgres")
    if "sqlite" in engines:
        _engine(
            f"sqlite:///{SQLITE_DB}",
            lambda: _unlink_sqlite(SQLITE_DB),
            lambda: _unlink_sqlite(SQLITE_DB),
            keep,
        )
    if "postgres" in engines:
        _engine(
            _with_db(_pg_server_url(), PG_DB),
            _fresh_pg,
            lambda: _pg_admin(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)"),
            keep,
        )


if __name__ == "__main__":
    main(sys.argv[1:])
