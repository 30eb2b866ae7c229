"""``make bench`` (``python -m bench`` from the repository root): usage ingestion throughput.

Generates ``BENCH_ROWS`` FOCUS 1.2 line items (default 1,000,000) as a CSV under ``var/bench/``,
then on each engine, in a fresh database:

* ingests the file through ``usage.services.ingest_path`` (the path the CLI, API and demo take),
  in a subprocess, measuring its rows per second and the subprocess's peak RSS;
* the floor: the same file inserted by the barest means: Python's ``csv`` module and
  ``sqlite3`` ``executemany`` into an unindexed all-text table (SQLite), a bare ``COPY`` of the
  file into an unindexed all-text table (PostgreSQL).

Prints a table and merges the figures into ``var/bench/results.json`` (with ``ingest_sqlite_floor_ratio``
and ``ingest_postgres_floor_ratio``: ingest rows/s over the same run's floor).

Environment: ``BENCH_ROWS`` (rows, default 1000000), ``BENCH_CUSTOMERS`` (default 5000),
``BENCH_POSTGRES_URL`` (server to create the scratch database on,
default ``postgresql://postgres@127.0.0.1:5432/postgres``; PostgreSQL is skipped when it is not
reachable), ``BENCH_PG_DB`` (the scratch database's name, default ``partnercenter_bench``), ``BENCH_ENGINES`` (``sqlite,postgres``), ``BENCH_KEEP=1`` keeps the databases.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from . import generate
from .common import _log, _machine, _merge_results, _pg_server_url, _pg_version, _unlink_sqlite, _with_db

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "var" / "bench"
PG_DB = os.environ.get("BENCH_PG_DB", "partnercenter_bench")

# ingest rows/s over the same run's floor (SQLite: csv + executemany; PostgreSQL: a bare COPY)
TARGET_FLOOR_RATIO = {"sqlite": 0.5, "postgres": 0.2}
TARGET_PEAK_RSS_MB = 600  # at 5,000,000 rows: bounded by the chunk size, not by the file


def _child(step: str, *args: str, database_url: str | None = None) -> dict[str, Any]:
    """Run one measured step in its own process; its figures plus its peak RSS from wait4."""
    env = dict(os.environ)
    env.setdefault("PARTNERCENTER_LOG_LEVEL", "WARNING")
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    started = time.perf_counter()
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "bench.child", step, *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    out = proc.stdout.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        sys.stdout.write(out)
        raise SystemExit(f"bench: step {step!r} failed (exit {proc.returncode})")
    figures: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    figures["process_peak_rss_mb"] = round(usage.ru_maxrss / 1024, 1)  # KiB on Linux
    figures["process_seconds"] = round(wall, 3)
    return figures


def _csv_for(rows: int, customers: int) -> Path:
    path = OUT / f"focus_{rows}.csv"
    meta_path = path.with_suffix(".json")
    meta = {"generator": generate.GENERATOR_VERSION, "rows": rows, "customers": customers, "seed": generate.SEED}
    if path.exists() and meta_path.exists() and json.loads(meta_path.read_text()) == meta:
        _log(f"Reusing {path.relative_to(ROOT)} ({rows:,} rows, generated earlier with the same parameters)")
        return path
    for old in OUT.glob("focus_*.csv"):  # one generated file at a time: 5M rows are ~4 GB
        old.unlink()
        old.with_suffix(".json").unlink(missing_ok=True)
    _log(f"Generating {rows:,} FOCUS 1.2 rows for {customers:,} customers → {path.relative_to(ROOT)}")
    t0 = time.perf_counter()
    generate.write_csv(path, rows, customers)
    meta_path.write_text(json.dumps(meta))
    _log(f"  {time.perf_counter() - t0:.1f} s, {path.stat().st_size / 1e6:,.0f} MB")
    return path


def _peaks(ingest: dict[str, Any]) -> str:
    """The peak RSS of the ingesting process and of the largest process it started (SQLite's
    forked block preparer, the csv check): the table's figure is the larger of the two."""
    return f" (peak RSS {ingest['peak_rss_mb']:,.0f} MB; its largest helper process {ingest['helper_peak_rss_mb']:,.0f} MB)"


def bench_sqlite(csv_path: Path, customers: int, keep: bool) -> dict[str, float]:
    _log("\n== SQLite ==")
    db = OUT / "ingest.sqlite3"
    floor_db = OUT / "floor.sqlite3"
    _unlink_sqlite(db)
    url = f"sqlite:///{db}"
    setup = _child("setup", str(customers), database_url=url)
    _log(f"  fresh database migrated, {customers:,} customers created ({setup['seconds']:.1f} s)")
    floor = _child("floor-sqlite", str(csv_path), str(floor_db))
    _unlink_sqlite(floor_db)
    _log(f"  floor (csv + executemany):  {floor['rows']:,} rows in {floor['seconds']:.1f} s")
    ingest = _child("ingest", str(csv_path), database_url=url)
    _log(f"  ingest:                     {ingest['rows']:,} rows in {ingest['seconds']:.1f} s{_peaks(ingest)}")
    if ingest["rows_new"] != ingest["rows"]:
        raise SystemExit(f"bench: expected {ingest['rows']} new rows, stored {ingest['rows_new']}")
    if not keep:
        _unlink_sqlite(db)
    return {
        "ingest_sqlite_rows": ingest["rows"],
        "ingest_sqlite_rows_per_s": round(ingest["rows"] / ingest["seconds"]),
        "ingest_sqlite_floor_rows_per_s": round(floor["rows"] / floor["seconds"]),
        "ingest_sqlite_peak_rss_mb": ingest["process_peak_rss_mb"],
        "ingest_sqlite_seconds": ingest["seconds"],
        "ingest_sqlite_floor_seconds": floor["seconds"],
        "ingest_sqlite_floor_peak_rss_mb": floor["process_peak_rss_mb"],
    }


def bench_postgres(csv_path: Path, customers: int, keep: bool) -> dict[str, float] | None:
    import psycopg

    server = _pg_server_url()
    _log("\n== PostgreSQL ==")
    if _pg_version(server) is None:
        _log(f"  not reachable at {server}: skipped (set BENCH_POSTGRES_URL)")
        return None
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {PG_DB}")
    url = _with_db(server, PG_DB)
    try:
        setup = _child("setup", str(customers), database_url=url)
        _log(f"  fresh database {PG_DB} migrated, {customers:,} customers created ({setup['seconds']:.1f} s)")
        floor = _child("floor-postgres", str(csv_path), url)
        _log(f"  floor (bare COPY):          {floor['rows']:,} rows in {floor['seconds']:.1f} s")
        ingest = _child("ingest", str(csv_path), database_url=url)
        _log(f"  ingest (COPY):              {ingest['rows']:,} rows in {ingest['seconds']:.1f} s{_peaks(ingest)}")
        if ingest["rows_new"] != ingest["rows"]:
            raise SystemExit(f"bench: expected {ingest['rows']} new rows, stored {ingest['rows_new']}")
    finally:
        if not keep:
            with psycopg.connect(server, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
    return {
        "ingest_postgres_rows": ingest["rows"],
        "ingest_postgres_rows_per_s": round(ingest["rows"] / ingest["seconds"]),
        "ingest_postgres_floor_rows_per_s": round(floor["rows"] / floor["seconds"]),
        "ingest_postgres_peak_rss_mb": ingest["process_peak_rss_mb"],
        "ingest_postgres_seconds": ingest["seconds"],
        "ingest_postgres_floor_seconds": floor["seconds"],
    }


def _report(figures: dict[str, float], rows: int) -> None:
    _log(f"\n{'engine':<12}{'ingest rows/s':>15}{'floor rows/s':>15}{'ratio':>8}{'peak RSS MB':>14}{'target':>9}")
    for engine in ("sqlite", "postgres"):
        rate = figures.get(f"ingest_{engine}_rows_per_s")
        if rate is None:
            continue
        floor = figures[f"ingest_{engine}_floor_rows_per_s"]
        rss = figures[f"ingest_{engine}_peak_rss_mb"]
        ratio = figures[f"ingest_{engine}_floor_ratio"]
        target = TARGET_FLOOR_RATIO[engine]
        verdict = "met" if ratio >= target else "MISSED"
        _log(f"{engine:<12}{rate:>15,.0f}{floor:>15,.0f}{ratio:>8.2f}{rss:>14,.0f}{f'≥ {target}':>9} {verdict}")
    worst_rss = max(figures.get(f"ingest_{e}_peak_rss_mb", 0) for e in ("sqlite", "postgres"))
    note = "" if rows >= 5_000_000 else f" (the target is at 5,000,000 rows; this run had {rows:,})"
    _log(f"peak RSS < {TARGET_PEAK_RSS_MB} MB: {'met' if worst_rss < TARGET_PEAK_RSS_MB else 'MISSED'}{note}")


def main() -> None:
    rows = int(os.environ.get("BENCH_ROWS", "1000000").replace("_", ""))
    customers = int(os.environ.get("BENCH_CUSTOMERS", "5000"))
    engines = {e.strip() for e in os.environ.get("BENCH_ENGINES", "sqlite,postgres").split(",") if e.strip()}
    keep = os.environ.get("BENCH_KEEP", "") == "1"
    if rows < 1 or customers < 1:
        raise SystemExit("bench: BENCH_ROWS and BENCH_CUSTOMERS must be positive")
    OUT.mkdir(parents=True, exist_ok=True)
    _log(f"Usage ingestion benchmark: {rows:,} rows. {_machine()}")
    pg_version = _pg_version(_pg_server_url()) if "postgres" in engines else None
    if pg_version:
        _log(f"PostgreSQL {pg_version}")
    csv_path = _csv_for(rows, customers)

    figures: dict[str, float] = {"ingest_rows": rows}
    if "sqlite" in engines:
        figures.update(bench_sqlite(csv_path, customers, keep))
    if "postgres" in engines:
        pg = bench_postgres(csv_path, customers, keep)
        if pg:
            figures.update(pg)

    for engine in ("sqlite", "postgres"):
        if f"ingest_{engine}_rows_per_s" in figures:
            ratio = figures[f"ingest_{engine}_rows_per_s"] / figures[f"ingest_{engine}_floor_rows_per_s"]
            figures[f"ingest_{engine}_floor_ratio"] = round(ratio, 3)
    _report(figures, rows)
    path = _merge_results(figures)
    _log(f"\nFigures merged into {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
