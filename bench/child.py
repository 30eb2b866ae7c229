"""The benchmark's measured processes, one per step, each started by ``python -m bench``.

``python -m bench.child setup``            migrate the database in DATABASE_URL, create the bench customers
``python -m bench.child ingest CSV``       ingest CSV through ``usage.services.ingest_path``
``python -m bench.child floor-sqlite CSV DB``  csv module + bare sqlite3 executemany
``python -m bench.child floor-postgres CSV URL``  bare COPY of the file into an all-text table

Each prints one JSON object on its last stdout line: ``seconds`` (the measured step only,
without interpreter and Django start-up), ``rows`` and ``peak_rss_mb`` (this process's own peak
resident set size, from ``getrusage``).
"""

from __future__ import annotations

import csv
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any


def _peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _emit(**figures: Any) -> None:
    figures["peak_rss_mb"] = round(_peak_rss_mb(), 1)
    print(json.dumps(figures), flush=True)


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "partnercenter.settings")
    import django

    django.setup()


def setup(customer_count: int) -> None:
    _django()
    import datetime as dt

    from django.core.management import call_command
    from django.db import transaction

    from partnercenter.core import clock
    from partnercenter.partners import services
    from partnercenter.partners.models import Customer, CustomerAssociation, Partner

    from .generate import PARTNERS, customers

    t0 = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    with transaction.atomic():
        for code, name, kind, _assoc in PARTNERS:
            services.create_partner(code=code, name=name, kind=kind)
        partners = {p.code: p for p in Partner.objects.filter(code__in=[p[0] for p in PARTNERS])}
        now = clock.now()
        valid_from = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        rows = customers(customer_count)
        # Thousands of customers: bulk create (the services create one at a time, with an audit row each).
        Customer.objects.bulk_create(
            [Customer(account_id=a, name=n, created_at=now) for a, n, _p in rows], batch_size=2000
        )
        ids = dict(Customer.objects.filter(account_id__startswith="3").values_list("account_id", "pk"))
        CustomerAssociation.objects.bulk_create(
            [
                CustomerAssociation(
                    customer_id=ids[a],
                    partner=partners[PARTNERS[p][0]],
                    association_type=PARTNERS[p][3],
                    valid_from=valid_from,
                    created_at=now,
                )
                for a, _n, p in rows
            ],
            batch_size=2000,
        )
    _emit(seconds=round(time.perf_counter() - t0, 3), rows=customer_count)


def ingest(path: str) -> None:
    _django()
    from partnercenter.usage import services

    t0 = time.perf_counter()
    report = services.ingest_path(Path(path), fmt="focus", source="bench")
    seconds = time.perf_counter() - t0
    if not report.accepted:
        print(json.dumps(report.as_dict(), indent=2)[:5000], file=sys.stderr)
        raise SystemExit("bench: the batch was rejected")
    # The processes ingestion started (on SQLite the forked process that prepares the blocks; the
    # csv check): the largest one's peak, beside this process's own (_emit).
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    _emit(
        seconds=round(seconds, 3),
        rows=report.rows_total,
        rows_new=report.rows_new,
        helper_peak_rss_mb=round(children, 1),
    )


def floor_sqlite(path: str, db: str) -> None:
    import sqlite3

    for suffix in ("", "-wal", "-shm"):
        Path(db + suffix).unlink(missing_ok=True)
    t0 = time.perf_counter()
    conn = sqlite3.connect(db, isolation_level=None)
    # The same journal settings the application uses (settings.py), so only the work differs.
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        cols = ", ".join(f'"c{i}" TEXT' for i in range(len(header)))
        conn.execute(f"CREATE TABLE floor ({cols})")
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(f"INSERT INTO floor VALUES ({', '.join('?' * len(header))})", reader)  # noqa: S608
        conn.execute("COMMIT")
    seconds = time.perf_counter() - t0
    rows = conn.execute("SELECT count(*) FROM floor").fetchone()[0]
    conn.close()
    _emit(seconds=round(seconds, 3), rows=rows)


def floor_postgres(path: str, url: str) -> None:
    import psycopg

    with open(path, "rb") as f:
        header = next(csv.reader([f.readline().decode("utf-8-sig")]))
        with psycopg.connect(url) as conn:
            conn.execute("DROP TABLE IF EXISTS bench_floor")
            cols = ", ".join(f'"c{i}" text' for i in range(len(header)))
            conn.execute(f"CREATE TABLE bench_floor ({cols})")
            conn.commit()
            f.seek(0)
            t0 = time.perf_counter()
            with conn.transaction(), conn.cursor() as cur:
                with cur.copy("COPY bench_floor FROM STDIN (FORMAT csv, HEADER true)") as copy:
                    while block := f.read(1 << 20):
                        copy.write(block)
            seconds = time.perf_counter() - t0
            rows = conn.execute("SELECT count(*) FROM bench_floor").fetchone()[0]  # type: ignore[index]
            conn.execute("DROP TABLE bench_floor")
            conn.commit()
    _emit(seconds=round(seconds, 3), rows=rows)


def main(argv: list[str]) -> None:
    step, *args = argv
    if step == "setup":
        setup(int(args[0]))
    elif step == "ingest":
        ingest(args[0])
    elif step == "floor-sqlite":
        floor_sqlite(args[0], args[1])
    elif step == "floor-postgres":
        floor_postgres(args[0], args[1])
    else:
        raise SystemExit(f"unknown step {step!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
