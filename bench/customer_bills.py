"""``python -m bench.customer_bills`` (part of ``make bench``): the Customer Bills page at scale.

Per engine, in a fresh database (SQLite ``var/bench/customer_bills.sqlite3``; PostgreSQL scratch
database ``partnercenter_bench_cb``), each step in its own process (``python -m bench.customer_bills
STEP``):

1. **build**: migrate; the organisation of ``bench.expenditure`` (solution provider ``big-sp`` with
   5,000 customers, a distributor, a second-level reseller and a referral partner); line items
   with the set-based loader of ``bench.expenditure_child``: ``BENCH_CB_MONTH_ROWS`` (default
   1,000,000) in 2026-06 and ``BENCH_CB_OTHER_ROWS`` (default 10,000) in each of the 12 other
   months; then the Bill by Instance rows of 2026-06 are built
   (``usage.services.build_resource_months``, timed: what the worker does after a batch).
2. **page**: Customer Bills for ``big-sp-admin`` (all 5,000 customers), in process with Django's test
   ``Client`` (full middleware, view and template), clock at 2026-07-20 10:00: Bill by Instance of
   2026-06 for all customers, page 1, a middle and the last page, filtered by product, project and
   region, and by one customer; the htmx pane and the whole page; Bill Details page 1 and the next.
   One warm-up round, then ``BENCH_CB_REQUESTS`` (default 30) rounds.

Merges into ``var/bench/results.json``: ``customer_bills_page_p95_ms`` (SQLite) and
``customer_bills_page_p95_ms_postgres`` (the worst p95 over the Bill by Instance requests), the
Bill Details p95 and the build's seconds (``customer_bills_…``).

Environment: ``BENCH_ENGINES`` (``sqlite,postgres``), ``BENCH_POSTGRES_URL``, ``BENCH_KEEP=1``
keeps the databases, ``BENCH_CB_STEPS`` (``build,page``; without ``build`` a kept database is reused).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from .common import _log, _machine, _merge_results, _pg_server_url, _pg_version, _unlink_sqlite, _with_db

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "var" / "bench"
PG_DB = "partnercenter_bench_cb"
SQLITE_DB = OUT / "customer_bills.sqlite3"
MONTH = dt.date(2026, 6, 1)
TARGET_P95_MS = 100


def _emit(**figures: Any) -> None:
    import resource

    figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(figures, default=str), flush=True)


def build(month_rows: int, other_rows: int) -> None:
    from bench import expenditure_child as x

    x._django()
    from django.core.management import call_command

    from partnercenter.core import clock
    from partnercenter.usage import services
    from partnercenter.usage.models import LineItem

    call_command("migrate", verbosity=0, interactive=False)
    org = x._create_organisation()
    total = month_rows + 12 * other_rows
    figures = x.load_line_items(total, org, lambda month, _share: month_rows if month == MONTH else other_rows)
    t0 = time.perf_counter()
    with clock.frozen_at(x.now_utc()):
        made = services.build_resource_months(MONTH)
    seconds = time.perf_counter() - t0
    _emit(**figures, line_items=LineItem.objects.count(), build_seconds=round(seconds, 2), resource_rows=made.rows)


def page_requests() -> list[tuple[str, str, bool]]:
    """(name, url, htmx): Bill by Instance for all customers, then Bill Details."""
    from bench import expenditure_child as x

    m = f"month={MONTH:%Y-%m}"
    return [
        ("instance page 1", f"/customer-bills/?{m}", True),
        ("instance whole page", f"/customer-bills/?{m}", False),
        ("instance page 100", f"/customer-bills/?{m}&page=100", True),
        ("instance last page", f"/customer-bills/?{m}&page=100000", True),
        ("instance product", f"/customer-bills/?{m}&product=Elastic+Cloud+Server", True),
        ("instance project", f"/customer-bills/?{m}&project=web-shop", True),
        ("instance region p5", f"/customer-bills/?{m}&region={x.REGIONS[1][0]}&page=5", True),
        ("instance customer", f"/customer-bills/?{m}&customer={x.account_id(1234)}", True),
        ("details page 1", f"/customer-bills/?{m}&tab=details", True),
        ("details customer", f"/customer-bills/?{m}&tab=details&customer={x.account_id(1234)}", True),
    ]


def page(n: int) -> None:
    from bench import expenditure_child as x

    x._django()
    from django.test import Client

    from partnercenter.accounts.models import User
    from partnercenter.core import clock

    client = Client()
    client.force_login(User.objects.get(username="big-sp-admin"))
    reqs = page_requests()
    times: dict[str, list[float]] = {name: [] for name, _u, _h in reqs}
    first: dict[str, float] = {}
    with clock.frozen_at(x.now_utc()):
        for i in range(n + 1):  # round 0 is the warm-up (the first request of a filter sums it)
            for name, url, htmx in reqs:
                headers = {"HX-Request": "true"} if htmx else {}
                t0 = time.perf_counter()
                r = client.get(url, headers=headers)
                ms = (time.perf_counter() - t0) * 1000
                if r.status_code != 200 or b"bill-table" not in r.content:
                    raise SystemExit(f"bench.customer_bills: {url} answered {r.status_code}: {r.content[:300]!r}")
                if i:
                    times[name].append(ms)
                else:
                    first[name] = ms
    _emit(**{name: {"n": len(v), "p50": statistics.median(v), "p95": _pct(v, 95), "max": max(v),
                    "first": first[name]} for name, v in times.items()})  # fmt: skip


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(round(p / 100 * len(ordered) + 0.5)) - 1))
    return ordered[k]


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
        [sys.executable, "-m", "bench.customer_bills", step, *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    if proc.returncode != 0:
        sys.stdout.write(proc.stdout)
        raise SystemExit(f"bench.customer_bills: step {step!r} failed (exit {proc.returncode})")
    figures: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    figures["process_seconds"] = round(time.perf_counter() - started, 1)
    return figures


def run_engine(engine: str, url: str, steps: set[str], env: dict[str, int]) -> dict[str, float]:
    out: dict[str, float] = {}
    suffix = "" if engine == "sqlite" else f"_{engine}"
    if "build" in steps:
        b = _child("build", str(env["month_rows"]), str(env["other_rows"]), database_url=url)
        _log(
            f"  built: {b['line_items']:,} line items in {b['load_seconds']:.0f} s; Bill by Instance of "
            f"{MONTH:%Y-%m}: {b['resource_rows']:,} rows in {b['build_seconds']:.1f} s"
        )
        os.sync()
        out[f"customer_bills_{engine}_line_items"] = b["line_items"]
        out[f"customer_bills_{engine}_resource_rows"] = b["resource_rows"]
        out[f"customer_bills_{engine}_build_seconds"] = b["build_seconds"]
    if "page" in steps:
        p = _child("page", str(env["requests"]), database_url=url)
        worst = {"instance": 0.0, "details": 0.0}
        for name, f in p.items():
            if isinstance(f, dict):
                _log(
                    f"  {name:<22} n={f['n']:<4} p50 {f['p50']:7.1f} ms  p95 {f['p95']:7.1f} ms  "
                    f"max {f['max']:7.1f} ms  first {f['first']:7.1f} ms"
                )
                kind = name.split()[0]
                worst[kind] = max(worst[kind], f["p95"])
        out["customer_bills_page_p95_ms" + suffix] = round(worst["instance"], 1)
        out["customer_bills_details_p95_ms" + suffix] = round(worst["details"], 1)
    return out


def _pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(_pg_server_url(), autocommit=True) as conn:
        conn.execute(sql)


def _run_sqlite(steps: set[str], env: dict[str, int], keep: bool) -> dict[str, float]:
    _log("\n== SQLite ==")
    if "build" in steps:
        _unlink_sqlite(SQLITE_DB)
    try:
        return run_engine("sqlite", f"sqlite:///{SQLITE_DB}", steps, env)
    finally:
        if not keep:
            _unlink_sqlite(SQLITE_DB)


def _run_postgres(steps: set[str], env: dict[str, int], keep: bool) -> dict[str, float]:
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
        return run_engine("postgres", _with_db(_pg_server_url(), PG_DB), steps, env)
    finally:
        if not keep:
            _pg_admin(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")


def main() -> None:
    env = {
        "month_rows": int(os.environ.get("BENCH_CB_MONTH_ROWS", "1000000").replace("_", "")),
        "other_rows": int(os.environ.get("BENCH_CB_OTHER_ROWS", "10000").replace("_", "")),
        "requests": int(os.environ.get("BENCH_CB_REQUESTS", "30")),
    }
    engines = [e.strip() for e in os.environ.get("BENCH_ENGINES", "sqlite,postgres").split(",") if e.strip()]
    steps = {s.strip() for s in os.environ.get("BENCH_CB_STEPS", "build,page").split(",") if s.strip()}
    keep = os.environ.get("BENCH_KEEP", "") == "1" or "build" not in steps
    OUT.mkdir(parents=True, exist_ok=True)
    _log(
        f"Customer bills benchmark: {env['month_rows']:,} line items in {MONTH:%Y-%m}, {env['other_rows']:,} in "
        f"each of 12 other months. {_machine()}"
    )
    figures: dict[str, float] = {}
    for engine in engines:
        if engine == "sqlite":
            figures.update(_run_sqlite(steps, env, keep))
        elif engine == "postgres":
            figures.update(_run_postgres(steps, env, keep))
        else:
            raise SystemExit(f"bench.customer_bills: unknown engine {engine!r}")
    for e in engines:
        p95 = figures.get("customer_bills_page_p95_ms" + ("" if e == "sqlite" else f"_{e}"))
        if p95 is not None:
            _log(f"Bill by Instance p95 {e} {p95:.0f} ms: {'met' if p95 < TARGET_P95_MS else 'MISSED'}")
    path = _merge_results(figures)
    _log(f"Figures merged into {path.relative_to(ROOT)}")


def _main_child(argv: list[str]) -> None:
    step, *args = argv
    if step == "build":
        build(int(args[0]), int(args[1]))
    elif step == "page":
        page(int(args[0]))
    else:
        raise SystemExit(f"unknown step {step!r}")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        _main_child(sys.argv[1:])
    else:
        main()
