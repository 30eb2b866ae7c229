"""``python -m bench.billing`` (the third part of ``make bench``): partner bills at scale.

Per engine, in a fresh database (SQLite ``var/bench/billing.sqlite3``; PostgreSQL scratch database
``partnercenter_bench_bill``), each step in its own process (``python -m bench.billing STEP``):

1. **build**: migrate; the organisation of ``bench.expenditure`` (solution provider ``big-sp`` with
   5,000 customers, a distributor, a second-level reseller and a referral partner, 5,800 customers
   in all); line items over 13 months (2025-07 … 2026-07-19) with the set-based loader of
   ``bench.expenditure_child`` (the stored shapes of ingestion, checked against Decimal sums):
   ``BENCH_BILL_MONTH_ROWS`` (default 1,000,000) in the month that is closed, 2026-06, and
   ``BENCH_BILL_OTHER_ROWS`` (default 100,000) in each of the 12 other months; then the 11 months
   before 2026-06 are closed through ``billing.services.catch_up`` (not timed), as the worker
   would have closed them, so that 2026-06 is the one month left to close.
2. **close**: clock at 2026-07-20 10:00 (billing time zone). ``BENCH_BILL_REPEAT`` (default 3)
   rounds of: the bare SQL ``GROUP BY`` over 2026-06's reseller line items (the close's keys:
   partner, currency, customer, service type, service name, region, classification; the exact
   sum, the engine's numeric ``SUM`` on PostgreSQL and the ``exact_sum`` aggregate that
   ``core.money`` registers on SQLite, and the count), then the close,
   ``billing.services.generate_bills(2026-06)``, for all partners. All rounds but the last run the
   close in a transaction that is rolled back; the last one commits. One warm-up ``GROUP BY``
   first. Figures: the median of the rounds. The committed bills are then checked line by line
   against the bare ``GROUP BY`` (same groups, exact sums and counts).
3. **page**: Partner Bills for ``big-sp-admin`` (``big-sp``: 5,000 customers, 4,000 of them on the
   bill), in process with Django's test ``Client`` (full middleware, view and template): the page
   ``/partner-bills/`` and its htmx fragments that carry figures (the Monthly Bills pane By
   Product — all regions and one region — and By Customer, page 1 and a later page, a switch to
   an earlier month, the Amount Due pane, Unpaid Bills, Payment records); one warm-up of each,
   then ``BENCH_BILL_REQUESTS`` (default 50) of each.

Merges into ``var/bench/results.json``: ``close_month_{engine}_seconds``,
``group_by_{engine}_seconds``, ``close_month_{engine}_ratio`` (close ÷ GROUP BY),
``partner_bills_page_p95_ms`` (SQLite) and ``partner_bills_page_p95_ms_postgres`` (the worst p95
over the requests), plus detail keys (``billing_…``).

Environment: ``BENCH_ENGINES`` (``sqlite,postgres``), ``BENCH_POSTGRES_URL``, ``BENCH_BILL_PG_DB``
(the scratch database's name, default ``partnercenter_bench_bill``), ``BENCH_KEEP=1``
keeps the databases, ``BENCH_BILL_STEPS`` (``build,close,page``; without ``build`` a kept
database is reused; ``close`` needs a database whose 2026-06 is not closed yet).
"""

# ruff: noqa: S608 - the SQL is built from this module's constants, never from input
from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import sys
import time
from decimal import Decimal
from typing import Any

from . import common
from .common import OUT, ROOT, _env_list, _log, _machine, _merge_results, _on_each_engine

PG_DB = os.environ.get("BENCH_BILL_PG_DB", "partnercenter_bench_bill")
SQLITE_DB = OUT / "billing.sqlite3"
CLOSED = dt.date(2026, 6, 1)  # the month whose close is timed
TARGET_RATIO = 2.0
TARGET_P95_MS = 100
KEY = ("partner_id", "billing_currency", "customer_id", "service_type", "service_name", "region_id", "classification")


def _err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _emit(**figures: Any) -> None:
    import resource

    figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(figures, default=str), flush=True)


# ---- the child steps ----------------------------------------------------------------------------


def build(month_rows: int, other_rows: int) -> None:
    from bench import expenditure_child as x

    x._django()
    from django.core.management import call_command

    from partnercenter.billing import services
    from partnercenter.billing.models import Bill
    from partnercenter.core import clock

    t0 = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    org = x._create_organisation()
    org_s = time.perf_counter() - t0
    total = month_rows + 12 * other_rows
    figures = x.load_line_items(total, org, lambda month, _share: month_rows if month == CLOSED else other_rows)
    t0 = time.perf_counter()
    checks = x.check_data()
    check_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    with clock.frozen_at(x.now_utc()):
        done = services.catch_up(through=services.previous_month(CLOSED))
    earlier_s = time.perf_counter() - t0
    _emit(organisation_seconds=round(org_s, 1), **figures, check_seconds=round(check_s, 1), **checks,
          earlier_months=len(done.months), earlier_bills=Bill.objects.count(),
          earlier_close_seconds=round(earlier_s, 1))  # fmt: skip


def _bare_group_by(through: int) -> list[tuple[Any, ...]]:
    """The month's reseller line items grouped by the bill line's key, in plain SQL."""
    from django.db import connection

    total = "SUM(billed_cost)" if connection.vendor == "postgresql" else "exact_sum(billed_cost)"
    cols = ", ".join(KEY)
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT {cols}, {total}, COUNT(*) FROM usage_lineitem "
            "WHERE association_type = 'reseller' AND charge_day >= %s AND charge_day < %s "
            f"AND is_correction = %s AND id <= %s GROUP BY {cols}",
            [CLOSED, dt.date(2026, 7, 1), False, through],
        )
        return cur.fetchall()


class _Rollback(Exception):
    pass


def _close(commit: bool) -> tuple[float, int, int]:
    """One close of the month for all partners: seconds, bills, lines (rolled back unless ``commit``)."""
    from django.db import transaction

    from partnercenter.billing import services

    bills: list[Any] = []
    t0 = time.perf_counter()
    try:
        with transaction.atomic():
            bills = services.generate_bills(CLOSED)
            seconds = time.perf_counter() - t0
            lines = sum(b.lines.count() for b in bills)
            if not commit:
                raise _Rollback
    except _Rollback:
        pass
    return seconds, len(bills), lines


def _check_bills(rows: list[tuple[Any, ...]]) -> int:
    """The committed bill lines are the bare GROUP BY's groups with the same exact sums and counts."""
    from partnercenter.billing.models import BillLine

    want = {(r[0], r[1], r[2], r[3], r[4], r[5], r[6]): (Decimal(r[7]), r[8]) for r in rows}
    got = {
        (line.bill.partner_id, line.bill.currency, line.customer_id, line.service_type, line.service_name,
         line.region_id, line.classification): (line.amount, line.line_item_count)
        for line in BillLine.objects.filter(bill__month=CLOSED).select_related("bill")
    }  # fmt: skip
    if got != want:
        diff = [k for k in want.keys() | got.keys() if want.get(k) != got.get(k)][:5]
        raise SystemExit(f"bench.billing: the bills differ from the bare GROUP BY, e.g. {diff}")
    return len(got)


def close(repeat: int) -> None:
    from bench import expenditure_child as x

    x._django()
    from partnercenter.core import clock
    from partnercenter.usage import selectors as usage

    group_by: list[float] = []
    closes: list[float] = []
    with clock.frozen_at(x.now_utc()):
        through = usage.ledger_watermark()
        rows = _bare_group_by(through)  # warm-up: the month's pages in the cache
        for i in range(repeat):
            t0 = time.perf_counter()
            rows = _bare_group_by(through)
            group_by.append(time.perf_counter() - t0)
            seconds, bills, lines = _close(commit=i == repeat - 1)
            closes.append(seconds)
            _err(
                f"    round {i + 1}: GROUP BY {group_by[-1]:.2f} s, close {seconds:.2f} s ({bills} bills, {lines:,} lines)"
            )
    checked = _check_bills(rows)
    _emit(group_by_seconds=statistics.median(group_by), close_seconds=statistics.median(closes),
          group_by_all=group_by, close_all=closes, groups=len(rows), bills=bills, lines=lines,
          checked_lines=checked, month_line_items=sum(r[8] for r in rows))  # fmt: skip


def page_requests() -> list[tuple[str, str, bool]]:
    """(name, url, htmx) of the page and its fragments that carry figures."""
    q = f"month={CLOSED:%Y-%m}&currency=CNY"
    return [
        ("page", "/partner-bills/", False),
        ("monthly by product", f"/partner-bills/?{q}&view=product", True),
        ("monthly by customer", f"/partner-bills/?{q}&view=customer", True),
        ("monthly by customer p40", f"/partner-bills/?{q}&view=customer&page=40", True),
        ("monthly one region", f"/partner-bills/?{q}&view=product&region=cn-east-3", True),
        ("month switch", "/partner-bills/?month=2026-01&currency=CNY&view=product", True),
        ("amount due", "/partner-bills/amount-due/", True),
        ("unpaid bills", "/partner-bills/unpaid/", False),
        ("payment records", "/partner-bills/payments/", False),
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
    with clock.frozen_at(x.now_utc()):
        for i in range(n + 1):  # round 0 is the warm-up
            for name, url, htmx in reqs:
                headers = {"HX-Request": "true"} if htmx else {}
                t0 = time.perf_counter()
                r = client.get(url, headers=headers)
                ms = (time.perf_counter() - t0) * 1000
                if r.status_code != 200:
                    raise SystemExit(f"bench.billing: {url} answered {r.status_code}: {r.content[:300]!r}")
                if i:
                    times[name].append(ms)
    _emit(**{name: {"n": len(v), "p50": statistics.median(v), "p95": _pct(v, 95), "max": max(v)}
             for name, v in times.items()})  # fmt: skip


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(round(p / 100 * len(ordered) + 0.5)) - 1))
    return ordered[k]


# ---- the parent ---------------------------------------------------------------------------------


def _child(step: str, *args: str, database_url: str) -> dict[str, Any]:
    return common._child("bench.billing", step, *args, database_url=database_url, var_dir=OUT / "billing-var")


def run_engine(engine: str, url: str, steps: set[str], env: dict[str, int]) -> dict[str, float]:
    out: dict[str, float] = {}
    if "build" in steps:
        b = _child("build", str(env["month_rows"]), str(env["other_rows"]), database_url=url)
        _log(
            f"  built: {b['line_items']:,} line items in {b['load_seconds']:.0f} s (checked); "
            f"{b['earlier_months']} earlier months closed ({b['earlier_bills']} bills) in {b['earlier_close_seconds']:.0f} s"
        )
        os.sync()  # the load's dirty pages written out before anything is timed
        out[f"billing_{engine}_line_items"] = b["line_items"]
    if "close" in steps:
        c = _child("close", str(env["repeat"]), database_url=url)
        ratio = c["close_seconds"] / c["group_by_seconds"]
        _log(
            f"  close of {CLOSED:%Y-%m} ({c['month_line_items']:,} reseller line items of the month, {c['groups']:,} "
            f"groups, {c['bills']} bills): close {c['close_seconds']:.2f} s, bare GROUP BY "
            f"{c['group_by_seconds']:.2f} s, ratio {ratio:.2f} (bills checked against the GROUP BY)"
        )
        out[f"close_month_{engine}_seconds"] = round(c["close_seconds"], 2)
        out[f"group_by_{engine}_seconds"] = round(c["group_by_seconds"], 2)
        out[f"close_month_{engine}_ratio"] = round(ratio, 2)
        out[f"billing_{engine}_bill_lines"] = c["lines"]
    if "page" in steps:
        p = _child("page", str(env["requests"]), database_url=url)
        worst = 0.0
        for name, f in p.items():
            if isinstance(f, dict):
                _log(
                    f"  {name:<24} n={f['n']:<4} p50 {f['p50']:7.1f} ms  p95 {f['p95']:7.1f} ms  max {f['max']:7.1f} ms"
                )
                worst = max(worst, f["p95"])
        key = "partner_bills_page_p95_ms" + ("" if engine == "sqlite" else f"_{engine}")
        out[key] = round(worst, 1)
    return out


def main() -> None:
    env = {
        "month_rows": int(os.environ.get("BENCH_BILL_MONTH_ROWS", "1000000").replace("_", "")),
        "other_rows": int(os.environ.get("BENCH_BILL_OTHER_ROWS", "100000").replace("_", "")),
        "repeat": int(os.environ.get("BENCH_BILL_REPEAT", "3")),
        "requests": int(os.environ.get("BENCH_BILL_REQUESTS", "50")),
    }
    engines = _env_list("BENCH_ENGINES", "sqlite,postgres")
    steps = set(_env_list("BENCH_BILL_STEPS", "build,close,page"))
    keep = os.environ.get("BENCH_KEEP", "") == "1" or "build" not in steps
    OUT.mkdir(parents=True, exist_ok=True)
    _log(
        f"Partner bills benchmark: {env['month_rows']:,} line items in {CLOSED:%Y-%m}, {env['other_rows']:,} in each "
        f"of 12 other months. {_machine()}"
    )
    figures: dict[str, float] = {}

    def run(engine: str, url: str) -> None:
        figures.update(run_engine(engine, url, steps, env))

    _on_each_engine(
        "bench.billing", engines, sqlite_db=SQLITE_DB, pg_db=PG_DB, fresh="build" in steps, keep=keep, run=run
    )
    verdicts = []
    for e in engines:
        ratio = figures.get(f"close_month_{e}_ratio")
        if ratio is not None:
            verdicts.append(f"close/GROUP BY {e} {ratio:.2f}: {'met' if ratio <= TARGET_RATIO else 'MISSED'}")
        p95 = figures.get("partner_bills_page_p95_ms" + ("" if e == "sqlite" else f"_{e}"))
        if p95 is not None:
            verdicts.append(f"page p95 {e} {p95:.0f} ms: {'met' if p95 < TARGET_P95_MS else 'MISSED'}")
    _log("\n" + "; ".join(verdicts))
    path = _merge_results(figures)
    _log(f"Figures merged into {path.relative_to(ROOT)}")


def _main_child(argv: list[str]) -> None:
    step, *args = argv
    if step == "build":
        build(int(args[0]), int(args[1]))
    elif step == "close":
        close(int(args[0]))
    elif step == "page":
        page(int(args[0]))
    else:
        raise SystemExit(f"unknown step {step!r}")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        _main_child(sys.argv[1:])
    else:
        main()
