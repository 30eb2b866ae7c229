"""``python -m bench.customer_bills_csv``: the All customer bills CSV download at scale (C4).

Per engine, in a fresh database (SQLite ``var/bench/customer_bills_csv.sqlite3``; PostgreSQL
scratch database ``partnercenter_bench_cbcsv``), each step in its own process
(``python -m bench.customer_bills_csv STEP``):

1. **build**: migrate; the organisation of ``bench.expenditure`` (solution provider ``big-sp`` with
   5,000 customers, 4,000 of them resold and 1,000 referral, a distributor, a second-level
   reseller and a referral partner: 5,800 customers); ``BENCH_CB_MONTH_ROWS`` (default 1,450,000)
   line items in 2026-06 with the set-based loader of ``bench.expenditure_child`` (the stored
   shapes of ingestion, checked against Decimal sums). About 69% of them are ``big-sp``'s reseller
   line items: the download holds about a million rows.
2. **export**: clock at 2026-07-20 10:00 (billing time zone). A ``customer_bills_all`` task for
   2026-06 in CSV for ``big-sp-admin`` (``exports.services.create_export``), run by
   ``exports.services.run_export`` in this fresh process. Rows/s = rows ÷ seconds of
   ``run_export`` (the query, the streaming read, the conversion, the anonymization, the writer,
   the fsync). Then, untimed, the file is checked: its row count equals a ``COUNT(*)`` of the
   month's reseller line items of ``big-sp`` and its billed costs add up, as exact decimals, to the
   engine's exact sum of them.

Merges into ``var/bench/results.json``: ``customer_bills_csv_rows_per_s`` (SQLite) and
``customer_bills_csv_rows_per_s_postgres``, plus detail keys (``customer_bills_csv_{engine}_…``).

Environment: ``BENCH_ENGINES`` (``sqlite,postgres``), ``BENCH_POSTGRES_URL``, ``BENCH_KEEP=1`` keeps
the databases and the file, ``BENCH_CB_STEPS`` (``build,export``; without ``build`` a kept database is
reused), ``BENCH_CB_MONTH_ROWS``, ``BENCH_CB_PROFILE=FILE`` (cProfile of the export run).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import random
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from .common import _log, _machine, _merge_results, _pg_server_url, _pg_version, _unlink_sqlite, _with_db

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "var" / "bench"
PG_DB = "partnercenter_bench_cbcsv"
SQLITE_DB = OUT / "customer_bills_csv.sqlite3"
MONTH = dt.date(2026, 6, 1)
TARGET_ROWS_PER_S = 100_000


def _emit(**figures: Any) -> None:
    import resource

    figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(figures, default=str), flush=True)


# ---- the child steps ----------------------------------------------------------------------------


def build(month_rows: int) -> None:
    from bench import expenditure_child as x

    x._django()
    from django.core.management import call_command

    t0 = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    org = x._create_organisation()
    org_s = time.perf_counter() - t0
    figures = x.load_line_items(month_rows, org, lambda month, _share: month_rows if month == MONTH else 0)
    t0 = time.perf_counter()
    checks = x.check_data()
    _emit(organisation_seconds=round(org_s, 1), **figures, check_seconds=round(time.perf_counter() - t0, 1), **checks)


def _expected(partner_code: str) -> tuple[int, Decimal]:
    from django.db.models import Count

    from partnercenter.core.money import ExactSum
    from partnercenter.usage.models import LineItem

    found = LineItem.objects.filter(
        partner__code=partner_code,
        association_type="reseller",
        charge_day__gte=MONTH,
        charge_day__lt=dt.date(2026, 7, 1),
    ).aggregate(total=ExactSum("billed_cost"), count=Count("pk"))
    return found["count"], found["total"]


def _file_check(path: Path) -> tuple[int, Decimal]:
    """Rows and the exact sum of the Billed cost column of the written file."""
    total = Decimal(0)
    rows = 0
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        at = next(reader).index("Billed cost")
        for row in reader:
            total += Decimal(row[at])
            rows += 1
    return rows, total


def export() -> None:
    from bench import expenditure_child as x

    x._django()
    from partnercenter.accounts.models import User
    from partnercenter.core import clock
    from partnercenter.exports import services
    from partnercenter.exports.models import ExportTask

    admin = User.objects.get(username="big-sp-admin")
    created = False
    while not created:  # a fresh task (the same request within seconds would answer an earlier one)
        with clock.frozen_at(x.now_utc() + dt.timedelta(seconds=random.randrange(1, 20_000))):
            task, created = services.create_export(admin, "customer_bills_all", {"month": f"{MONTH:%Y-%m}"}, "csv")
    profile = os.environ.get("BENCH_CB_PROFILE")
    t0 = time.perf_counter()
    if profile:
        import cProfile

        cProfile.runctx("services.run_export(str(task.pk))", globals(), {"services": services, "task": task}, profile)
    else:
        services.run_export(str(task.pk))
    seconds = time.perf_counter() - t0
    done = ExportTask.objects.get(pk=task.pk)
    if done.status != "succeeded":
        raise SystemExit(f"bench: export {done.status}: {done.error}")
    want_rows, want_sum = _expected(x.BIG)
    got_rows, got_sum = _file_check(done.path)
    if (got_rows, got_sum) != (want_rows, want_sum) or done.row_count != want_rows:
        raise SystemExit(
            f"bench: the file has {got_rows} rows adding up to {got_sum}; the ledger {want_rows}, {want_sum}"
        )
    size = done.file_size or 0
    if os.environ.get("BENCH_KEEP") != "1":
        done.path.unlink(missing_ok=True)
    _emit(rows=done.row_count, seconds=round(seconds, 2), file_mb=round(size / 1e6, 1), checked_sum=str(got_sum))


# ---- the parent ---------------------------------------------------------------------------------


def _child(step: str, *args: str, database_url: str) -> dict[str, Any]:
    import subprocess

    env = dict(os.environ)
    env.setdefault("PARTNERCENTER_LOG_LEVEL", "WARNING")
    env["DATABASE_URL"] = database_url
    env["PARTNERCENTER_VAR_DIR"] = str(OUT / "customer-bills-var")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    started = time.perf_counter()
    proc = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "bench.customer_bills_csv", step, *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    if proc.returncode != 0:
        sys.stdout.write(proc.stdout)
        raise SystemExit(f"bench.customer_bills_csv: step {step!r} failed (exit {proc.returncode})")
    figures: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    figures["process_seconds"] = round(time.perf_counter() - started, 1)
    return figures


def run_engine(engine: str, url: str, steps: set[str], month_rows: int) -> dict[str, float]:
    out: dict[str, float] = {}
    if "build" in steps:
        b = _child("build", str(month_rows), database_url=url)
        _log(f"  built: {b['line_items']:,} line items in {MONTH:%Y-%m} in {b['load_seconds']:.0f} s (checked)")
        os.sync()  # the load's dirty pages written out before anything is timed
    if "export" in steps:
        e = _child("export", database_url=url)
        rate = e["rows"] / e["seconds"]
        _log(
            f"  All customer bills CSV of {MONTH:%Y-%m} for big-sp: {e['rows']:,} rows in {e['seconds']:.1f} s = "
            f"{rate:,.0f} rows/s, {e['file_mb']} MB, peak RSS {e['peak_rss_mb']} MB (rows and exact sum checked)"
        )
        key = "customer_bills_csv_rows_per_s" + ("" if engine == "sqlite" else f"_{engine}")
        out[key] = round(rate)
        out[f"customer_bills_csv_{engine}_rows"] = e["rows"]
        out[f"customer_bills_csv_{engine}_seconds"] = e["seconds"]
        out[f"customer_bills_csv_{engine}_peak_rss_mb"] = e["peak_rss_mb"]
    return out


def _pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(_pg_server_url(), autocommit=True) as conn:
        conn.execute(sql)


def _on_engine(engine: str, steps: set[str], keep: bool, month_rows: int) -> dict[str, float]:
    if engine == "sqlite":
        _log("\n== SQLite ==")
        if "build" in steps:
            _unlink_sqlite(SQLITE_DB)
        try:
            return run_engine(engine, f"sqlite:///{SQLITE_DB}", steps, month_rows)
        finally:
            if not keep:
                _unlink_sqlite(SQLITE_DB)
    if engine != "postgres":
        raise SystemExit(f"bench.customer_bills_csv: unknown engine {engine!r}")
    _log("\n== PostgreSQL ==")
    version = _pg_version(_pg_server_url())
    if version is None:
        _log(f"  not reachable at {_pg_server_url()}: skipped (set BENCH_POSTGRES_URL)")
        return {}
    _log(f"  PostgreSQL {version}")
    if "build" in steps:
        _pg_admin(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
        _pg_admin(f"CREATE DATABASE {PG_DB}")
    try:
        return run_engine(engine, _with_db(_pg_server_url(), PG_DB), steps, month_rows)
    finally:
        if not keep:
            _pg_admin(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")


def main() -> None:
    month_rows = int(os.environ.get("BENCH_CB_MONTH_ROWS", "1450000").replace("_", ""))
    engines = [e.strip() for e in os.environ.get("BENCH_ENGINES", "sqlite,postgres").split(",") if e.strip()]
    steps = {s.strip() for s in os.environ.get("BENCH_CB_STEPS", "build,export").split(",") if s.strip()}
    keep = os.environ.get("BENCH_KEEP", "") == "1" or "build" not in steps
    OUT.mkdir(parents=True, exist_ok=True)
    _log(f"Customer bills CSV benchmark: {month_rows:,} line items in {MONTH:%Y-%m}. {_machine()}")
    figures: dict[str, float] = {}
    for engine in engines:
        figures.update(_on_engine(engine, steps, keep, month_rows))
    verdicts = []
    for e in engines:
        rate = figures.get("customer_bills_csv_rows_per_s" + ("" if e == "sqlite" else f"_{e}"))
        if rate is not None:
            verdicts.append(f"{e} {rate:,.0f} rows/s: {'met' if rate >= TARGET_ROWS_PER_S else 'MISSED'}")
    _log("\n" + "; ".join(verdicts))
    path = _merge_results(figures)
    _log(f"Figures merged into {path.relative_to(ROOT)}")


def _main_child(argv: list[str]) -> None:
    step, *args = argv
    if step == "build":
        build(int(args[0]))
    elif step == "export":
        export()
    else:
        raise SystemExit(f"unknown step {step!r}")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        _main_child(sys.argv[1:])
    else:
        main()
