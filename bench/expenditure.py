"""``python -m bench.expenditure`` (the second half of ``make bench``): customer expenditure at scale.

Per engine, in a fresh database (SQLite ``var/bench/expenditure.sqlite3``; PostgreSQL scratch
database ``partnercenter_bench_exp``), in child processes (``bench/expenditure_child.py``):

1. **build**: migrate; the organisation through the services (solution provider ``big-sp`` with
   5,000 customers, an admin and two account managers with 200 and 800 assigned customers, a
   distributor with a second-level reseller and a referral partner with 800 more customers, 40
   customers that moved to big-sp and 20 that left it); ``BENCH_EXP_ROWS`` line items (default
   10,000,000) over 13 months loaded with set-based SQL into the line items ingestion writes, the
   daily rollups and per-customer running totals rebuilt from them (``usage.rebuild``), then
   checked against Decimal sums.
2. **summary**: the console page ``/expenditure/`` and the API ``/api/v1/expenditure/summary``,
   in process with Django's test ``Client`` (session of ``force_login``; full middleware, view,
   template or JSON), clock frozen at 2026-07-20 10:00 (billing time zone); six filter variants
   (this month, 3 months, name fragment, association type, sort by net, page 5) after one
   warm-up of each; ``BENCH_EXP_REQUESTS`` (default 100) requests per kind for the partner
   admin, half that for the account manager with 200 customers.
3. **export**: ``expenditure_details`` for the admin over the latest days that hold
   ``BENCH_EXP_EXPORT_ROWS`` (default 1,000,000) line items, run by
   ``exports.services.run_export`` in a fresh process, CSV then XLSX; rows/s = rows ÷ seconds
   of ``run_export``; peak RSS = that process's ``ru_maxrss`` (from ``wait4``).

Merges into ``var/bench/results.json``: ``summary_p95_ms_sqlite``, ``summary_p95_ms_postgres``
(the worse of page and API p95 for the admin), ``export_csv_rows_per_s``,
``export_xlsx_rows_per_s``, ``export_peak_rss_mb`` (the worst over the engines that ran), plus
per-engine detail keys (``expenditure_…``).

Environment: ``BENCH_EXP_ROWS``, ``BENCH_EXP_EXPORT_ROWS``, ``BENCH_EXP_REQUESTS``,
``BENCH_ENGINES`` (``sqlite,postgres``), ``BENCH_POSTGRES_URL`` (default
``postgresql://postgres@127.0.0.1:5432/postgres``), ``BENCH_KEEP=1`` keeps the databases,
``BENCH_EXP_STEPS`` (``build,summary,export``; leaving out ``build`` reuses a kept database),
``BENCH_EXP_PG_DB`` (the scratch PostgreSQL database's name, default ``partnercenter_bench_exp``),
``BENCH_EXP_EXPORT_PATH=rows`` (export through the kind's rows and the per-cell writers instead of
its Arrow batches, to compare).
"""

from __future__ import annotations

import os
import shutil
import time
from typing import Any

from . import common
from .common import OUT, ROOT, _env_list, _log, _machine, _merge_results, _on_each_engine

PG_DB = os.environ.get("BENCH_EXP_PG_DB", "partnercenter_bench_exp")
SQLITE_DB = OUT / "expenditure.sqlite3"

TARGET_SUMMARY_P95_MS = 50
TARGET_CSV_ROWS_PER_S = 100_000
TARGET_XLSX_ROWS_PER_S = 40_000
TARGET_PEAK_RSS_MB = 300


def _child(step: str, *args: str, database_url: str) -> dict[str, Any]:
    """One step in its own process; its figures plus its peak RSS (wait4) and wall time."""
    return common._child(
        "bench.expenditure_child", step, *args, database_url=database_url, var_dir=OUT / "expenditure-var"
    )


def run_engine(engine: str, url: str, steps: set[str], rows: int, export_rows: int, requests: int) -> dict[str, Any]:
    res: dict[str, Any] = {}
    if "build" in steps:
        _log(f"  building: {rows:,} line items …")
        b = _child("build", str(rows), database_url=url)
        res["build"] = b
        parts = ", ".join(f"{k} {v:.0f} s" for k, v in b["load_parts_seconds"].items())
        _log(
            f"  built: {b['line_items']:,} line items, {b['rollups']:,} rollups, {b['running_totals']:,} running "
            f"totals; load {b['load_seconds']:.0f} s ({parts}); organisation {b['organisation_seconds']:.0f} s"
        )
        # The load leaves gigabytes of dirty pages: written out now, so that the timings below do
        # not share the disk with the kernel's writeback.
        t0 = time.perf_counter()
        os.sync()
        _log(f"  os.sync() after the load: {time.perf_counter() - t0:.1f} s")
        _log(
            f"  checked: summary and rollups of {b['checked_customers']} customers = Decimal sums of their "
            f"{b['checked_line_items']:,} line items; {b['checked_sample']:,} sampled rows canonical and classified"
        )
    if "summary" in steps:
        s = _child("summary", str(requests), database_url=url)
        res["summary"] = s
        for who in ("big-sp-admin", "big-sp-am"):
            for kind in ("page", "api"):
                f = s[who][kind]
                _log(
                    f"  summary {who:<13} {kind:<5} n={f['n']:<4} p50 {f['p50']:7.1f} ms  p95 {f['p95']:7.1f} ms  max {f['max']:7.1f} ms"
                )
            slow = sorted(s[who]["variants"].items(), key=lambda kv: -kv[1])[:4]
            _log("    slowest variants (p50 ms): " + ", ".join(f"{k} {v:.0f}" for k, v in slow))
            _log(f"    rows matching (API total): {s[who]['rows_matching']}")
    if "export" in steps:
        for fmt in ("csv", "xlsx"):
            e = _child("export", fmt, str(export_rows), database_url=url)
            res[f"export_{fmt}"] = e
            _log(
                f"  export {fmt:<4} {e['rows']:,} rows ({e['start']} … {e['end']}) in {e['seconds']:.1f} s = "
                f"{e['rows'] / e['seconds']:,.0f} rows/s, {e['file_mb']:,.0f} MB, peak RSS {e['process_peak_rss_mb']:.0f} MB"
            )
    return res


def _figures(engine: str, res: dict[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    if "build" in res:
        out[f"expenditure_{engine}_line_items"] = res["build"]["line_items"]
        out[f"expenditure_{engine}_load_seconds"] = res["build"]["load_seconds"]
    if "summary" in res:
        s = res["summary"]
        for who, tag in (("big-sp-admin", "admin"), ("big-sp-am", "manager")):
            for kind in ("page", "api"):
                for p in ("p50", "p95"):
                    out[f"expenditure_{engine}_{tag}_{kind}_{p}_ms"] = round(s[who][kind][p], 1)
        out[f"summary_p95_ms_{engine}"] = round(
            max(s["big-sp-admin"]["page"]["p95"], s["big-sp-admin"]["api"]["p95"]), 1
        )
    for fmt in ("csv", "xlsx"):
        e = res.get(f"export_{fmt}")
        if e:
            out[f"expenditure_{engine}_export_{fmt}_rows"] = e["rows"]
            out[f"expenditure_{engine}_export_{fmt}_rows_per_s"] = round(e["rows"] / e["seconds"])
            out[f"expenditure_{engine}_export_{fmt}_peak_rss_mb"] = e["process_peak_rss_mb"]
    return out


def _report(figures: dict[str, float], results: dict[str, dict[str, Any]]) -> None:
    """The table of figures per engine against the targets, and the verdicts."""
    _log(f"\n{'figure':<28}{'sqlite':>12}{'postgres':>12}{'target':>14}")
    rows_out = [
        ("summary p95 (ms)", "summary_p95_ms_{e}", f"< {TARGET_SUMMARY_P95_MS}"),
        ("export CSV rows/s", "expenditure_{e}_export_csv_rows_per_s", f">= {TARGET_CSV_ROWS_PER_S:,}"),
        ("export XLSX rows/s", "expenditure_{e}_export_xlsx_rows_per_s", f">= {TARGET_XLSX_ROWS_PER_S:,}"),
        ("export CSV peak RSS (MB)", "expenditure_{e}_export_csv_peak_rss_mb", f"< {TARGET_PEAK_RSS_MB}"),
        ("export XLSX peak RSS (MB)", "expenditure_{e}_export_xlsx_peak_rss_mb", f"< {TARGET_PEAK_RSS_MB}"),
    ]
    for label, key, target in rows_out:
        cells = []
        for e in ("sqlite", "postgres"):
            v = figures.get(key.format(e=e))
            cells.append(
                f"{v:>12,.1f}" if isinstance(v, float) and v < 1000 else f"{v:>12,}" if v is not None else f"{'-':>12}"
            )
        _log(f"{label:<28}{''.join(cells)}{target:>14}")
    verdicts = []
    for e in results:
        p95 = figures.get(f"summary_p95_ms_{e}")
        if p95 is not None:
            verdicts.append(f"summary p95 {e}: {'met' if p95 < TARGET_SUMMARY_P95_MS else 'MISSED'}")
    for fmt, goal in (("csv", TARGET_CSV_ROWS_PER_S), ("xlsx", TARGET_XLSX_ROWS_PER_S)):
        v = figures.get(f"export_{fmt}_rows_per_s")
        if v is not None:
            verdicts.append(f"export {fmt}: {'met' if v >= goal else 'MISSED'}")
    if "export_peak_rss_mb" in figures:
        verdicts.append(f"export peak RSS: {'met' if figures['export_peak_rss_mb'] < TARGET_PEAK_RSS_MB else 'MISSED'}")
    _log("\n" + "; ".join(verdicts))


def main() -> None:
    rows = int(os.environ.get("BENCH_EXP_ROWS", "10000000").replace("_", ""))
    export_rows = int(os.environ.get("BENCH_EXP_EXPORT_ROWS", "1000000").replace("_", ""))
    requests = int(os.environ.get("BENCH_EXP_REQUESTS", "100"))
    engines = _env_list("BENCH_ENGINES", "sqlite,postgres")
    steps = set(_env_list("BENCH_EXP_STEPS", "build,summary,export"))
    keep = os.environ.get("BENCH_KEEP", "") == "1" or "build" not in steps
    OUT.mkdir(parents=True, exist_ok=True)
    _log(f"Customer expenditure benchmark: {rows:,} line items, export of ~{export_rows:,} rows. {_machine()}")
    figures: dict[str, float] = {"expenditure_rows": rows}
    results: dict[str, dict[str, Any]] = {}

    def run(engine: str, url: str) -> None:
        results[engine] = run_engine(engine, url, steps, rows, export_rows, requests)
        figures.update(_figures(engine, results[engine]))

    _on_each_engine(
        "bench.expenditure", engines, sqlite_db=SQLITE_DB, pg_db=PG_DB, fresh="build" in steps, keep=keep, run=run
    )

    # The required keys: exports are taken as the worse of the engines that ran.
    for fmt in ("csv", "xlsx"):
        rates = [figures[k] for k in (f"expenditure_{e}_export_{fmt}_rows_per_s" for e in results) if k in figures]
        if rates:
            figures[f"export_{fmt}_rows_per_s"] = min(rates)
    rss = [v for k, v in figures.items() if k.startswith("expenditure_") and k.endswith("_peak_rss_mb")]
    if rss:
        figures["export_peak_rss_mb"] = max(rss)

    _report(figures, results)
    if rows != 10_000_000:
        _log(f"(the targets are stated at 10,000,000 line items; this run had {rows:,})")
    if not keep:
        shutil.rmtree(OUT / "expenditure-var", ignore_errors=True)  # the export runs' (emptied) file tree
    path = _merge_results(figures)
    _log(f"Figures merged into {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
