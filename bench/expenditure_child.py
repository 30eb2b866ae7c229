"""The measured processes of ``python -m bench.expenditure``, one per step.

``python -m bench.expenditure_child build ROWS``   migrate DATABASE_URL, create the organisation, load
                                                  ROWS line items (set-based SQL) and check them
``python -m bench.expenditure_child summary N``    time the summary page and API (N requests each)
``python -m bench.expenditure_child export FMT ROWS``  export about ROWS detail rows as FMT through
                                                  ``exports.services.run_export`` (from the kind's
                                                  Arrow batches; ``BENCH_EXP_EXPORT_PATH=rows``:
                                                  from its rows, per cell)

Each prints one JSON object on its last stdout line.

The data set
------------
Ingesting 10,000,000 rows through ``usage.ingest`` takes 15+ minutes per engine on the bench machine
(``python -m bench`` measures that path), so this step writes the same stored shapes with
``INSERT … SELECT`` instead, one "batch" per month:

* a staging table of rows with the amount as an integer number of 10^-10 units (amounts have 2, 6
  or 10 decimal places), customer, day, hour, product, region, project, category;
* ``usage_lineitem``: random 16-byte identity, the partner and association type in force at the
  charge (from the customer's association history), ``charge_day``/``charge_month`` in the billing
  time zone, ``billed_cost`` as canonical decimal text (SQLite) or numeric (PostgreSQL), the
  classification from the category and the sign, exactly as ``ingest._classify``;
* the daily rollups and the per-customer running totals: after the load, by
  ``usage.rebuild.rebuild_totals`` (what ``partnercenter rebuild-totals`` runs), so the benchmark
  reads totals of the product's own definition;
* an ``IngestBatch`` per month (counts and totals) and a ``Freshness`` row.

``check_data`` then compares, for several customers, the summary selector's figures and the
daily rollups with an independent ``Decimal`` sum of their ``LineItem.billed_cost``, and checks
stored amount texts and classifications on a sample.
"""

# ruff: noqa: S608 - the load SQL is built from this module's constants and integers, never from input
from __future__ import annotations

import datetime as dt
import json
import os
import random
import resource
import statistics
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

# ---- the scenario (shared with bench/expenditure.py) ----------------------------------------

DATA_START = dt.date(2025, 7, 1)
DATA_END = dt.date(2026, 7, 19)  # inclusive: 13 months, the last one partial
NOW_LOCAL = (2026, 7, 20, 10, 0)  # "now" (billing time zone) while timing: this month has 18 visible days
BIG = "big-sp"
BIG_CUSTOMERS = 5000
OTHERS = (  # code, name, kind, parent, customers, association type
    ("bench-dist", "Bench Distribution Co.", "distributor", None, 300, "reseller"),
    ("bench-2lr", "Bench Second-Level Reseller", "second_level_reseller", "bench-dist", 200, "reseller"),
    ("bench-ref", "Bench Referrals", "referral", None, 300, "referral"),
)
MOVERS = range(4960, 5000)  # big-sp customers that came from bench-dist at MOVE_DN
LEAVERS = range(5000, 5020)  # bench-dist customers that were big-sp's until LEAVE_DN
MOVE_DN, LEAVE_DN = 200, 250
MANAGER_CUSTOMERS = (200, 800)  # customers assigned to big-sp's account managers 1 and 2
ASSIGNED_LOCAL = (2026, 3, 10, 11, 0)
E = 10**10  # amounts are integers of 10^-10 in staging
PRODUCTS = (  # code, name, category, service type, mode, publisher
    ("ecs", "Elastic Cloud Server", "Compute", "cloud", "pay_per_use", ""),
    ("ecs-m", "Elastic Cloud Server", "Compute", "cloud", "prepaid_monthly", ""),
    ("ecs-y", "Elastic Cloud Server", "Compute", "cloud", "prepaid_yearly", ""),
    ("evs", "Elastic Volume Service", "Storage", "cloud", "pay_per_use", ""),
    ("obs", "Object Storage Service", "Storage", "cloud", "pay_per_use", ""),
    ("rds", "Relational Database Service", "Databases", "cloud", "prepaid_monthly", ""),
    ("cdn", "Content Delivery Network", "Networking", "cloud", "monthly_95th_bandwidth", ""),
    ("eip", "Elastic IP", "Networking", "cloud", "pay_per_use", ""),
    ("waf", "SecureWAF Pro", "Security", "marketplace", "prepaid_yearly", "SecureWAF Co., Ltd."),
    ("bi", "DataViz BI", "Analytics", "marketplace", "prepaid_monthly", "DataViz Software Ltd."),
)
REGIONS = (
    ("cn-north-4", "CN North-Beijing4"),
    ("cn-east-3", "CN East-Shanghai1"),
    ("cn-south-1", "CN South-Guangzhou"),
    ("ap-southeast-1", "CN-Hong Kong"),
)
PROJECTS = ("", "default", "web-shop", "data-platform", "mobile-app")
STEMS = ("Contoso", "Northwind", "Fabrikam", "Tailspin", "Wingtip", "Litware", "Proseware", "Lucerne",
         "Woodgrove", "Coho", "Alpine", "Adatum", "Relecloud", "Harbor", "Redwood", "Orchid")  # fmt: skip
NOUNS = ("Traders", "Systems", "Analytics", "Logistics", "Labs", "Holdings", "Media", "Software")
PROVIDER = "Partner Cloud"


def _emit(**figures: Any) -> None:
    figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(figures, default=str), flush=True)


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "partnercenter.settings")
    import django

    django.setup()


def _local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    from partnercenter.core import clock

    return dt.datetime(year, month, day, hour, minute, tzinfo=clock.billing_tz()).astimezone(dt.UTC)


def now_utc() -> dt.datetime:
    return _local(*NOW_LOCAL)


def account_id(cidx: int) -> str:
    return f"4{cidx:011d}"


def customer_name(cidx: int) -> str:
    return f"{STEMS[cidx % len(STEMS)]} {NOUNS[(cidx // 16) % len(NOUNS)]} {cidx:05d}"


# ---- build ------------------------------------------------------------------------------------


def _customer_plan() -> list[dict[str, Any]]:
    """Per customer index: partner history (code, association type, from day number, to day number)."""
    plan: list[dict[str, Any]] = []
    cidx = 0
    for _ in range(BIG_CUSTOMERS):
        kind = "referral" if cidx % 5 == 0 else "reseller"
        plan.append({"cidx": cidx, "history": [(BIG, kind, None, None)]})
        cidx += 1
    for code, _name, _kind, _parent, count, assoc in OTHERS:
        for _ in range(count):
            kind = assoc if assoc == "referral" or cidx % 7 else "referral"
            plan.append({"cidx": cidx, "history": [(code, kind, None, None)]})
            cidx += 1
    for i in MOVERS:
        kind = plan[i]["history"][0][1]
        plan[i]["history"] = [("bench-dist", kind, None, MOVE_DN), (BIG, kind, MOVE_DN, None)]
    for i in LEAVERS:
        kind = plan[i]["history"][0][1]
        plan[i]["history"] = [(BIG, kind, None, LEAVE_DN), ("bench-dist", kind, LEAVE_DN, None)]
    return plan


def _create_users() -> dict[str, Any]:
    from partnercenter.accounts import services as account_services
    from partnercenter.accounts.roles import Role

    users = {}
    for uname, code, role in (
        ("big-sp-admin", BIG, Role.ADMIN),
        ("big-sp-am", BIG, Role.ACCOUNT_MANAGER),
        ("big-sp-am-2", BIG, Role.ACCOUNT_MANAGER),
        ("bench-dist-admin", "bench-dist", Role.ADMIN),
    ):
        # No password (None stores an unusable one without hashing): the bench signs in with force_login.
        users[uname] = account_services.create_user(
            username=uname,
            password=None,  # type: ignore[arg-type]  # Django's set_password(None): unusable, no hashing
            check_password=False,
            partner_code=code,
            role=role,  # type: ignore[arg-type]
            email=f"{uname}@example.com",
            first_name=uname,
        )
    return users


def _create_customers(plan: list[dict[str, Any]], partners: dict[str, Any], first_valid: dt.datetime) -> dict[str, int]:
    """The customers of ``plan`` and their association histories; their ids by account."""
    from partnercenter.core import clock
    from partnercenter.partners.models import Customer, CustomerAssociation

    now = clock.now()
    # Thousands of customers: bulk create (the services create one at a time, with an audit row each).
    Customer.objects.bulk_create(
        [
            Customer(
                account_id=account_id(p["cidx"]),
                name=customer_name(p["cidx"]),
                email=f"billing{p['cidx']}@example.com",
                mobile=f"138{p['cidx']:08d}",
                created_at=now,
            )
            for p in plan
        ],
        batch_size=2000,
    )
    ids = dict(Customer.objects.values_list("account_id", "pk"))
    day_start = {None: first_valid, MOVE_DN: clock.start_of_day(DATA_START + dt.timedelta(days=MOVE_DN)),
                 LEAVE_DN: clock.start_of_day(DATA_START + dt.timedelta(days=LEAVE_DN))}  # fmt: skip
    assocs = []
    for p in plan:
        for code, kind, frm, to in p["history"]:
            assocs.append(
                CustomerAssociation(
                    customer_id=ids[account_id(p["cidx"])],
                    partner=partners[code],
                    association_type=kind,
                    valid_from=day_start[frm],
                    valid_to=None if to is None else day_start[to],
                    created_at=now,
                )
            )
    CustomerAssociation.objects.bulk_create(assocs, batch_size=2000)
    return ids


def _assign_managers(users: dict[str, Any]) -> None:
    from partnercenter.core import clock
    from partnercenter.partners import services
    from partnercenter.partners.models import Customer

    # Account managers: through the service, at a moment inside the data (E3 windows cut the history).
    big_customers = list(Customer.objects.filter(account_id__in=[account_id(i) for i in range(0, BIG_CUSTOMERS)]))
    big_customers.sort(key=lambda c: c.account_id)
    rng = random.Random(7)
    chosen = rng.sample(big_customers, sum(MANAGER_CUSTOMERS))
    with clock.frozen_at(_local(*ASSIGNED_LOCAL)):
        admin = users["big-sp-admin"]
        services.assign_customers(actor=admin, customers=chosen[: MANAGER_CUSTOMERS[0]], manager=users["big-sp-am"])
        services.assign_customers(actor=admin, customers=chosen[MANAGER_CUSTOMERS[0] :], manager=users["big-sp-am-2"])


def _create_organisation() -> dict[str, Any]:
    from django.db import transaction

    from partnercenter.core import clock
    from partnercenter.partners import services
    from partnercenter.partners.models import Partner

    onboard = clock.start_of_day(DATA_START - dt.timedelta(days=40)) + dt.timedelta(hours=10)
    first_valid = clock.start_of_day(DATA_START - dt.timedelta(days=30))
    plan = _customer_plan()
    with clock.frozen_at(onboard), transaction.atomic():
        services.create_partner(code=BIG, name="Big Solutions Ltd.", kind="solution_provider")
        for code, name, kind, parent, _count, _assoc in OTHERS:
            services.create_partner(code=code, name=name, kind=kind, parent_code=parent)
        partners = {p.code: p for p in Partner.objects.all()}
        users = _create_users()
        ids = _create_customers(plan, partners, first_valid)
    _assign_managers(users)
    return {"plan": plan, "partners": {c: p.pk for c, p in partners.items()}, "customer_ids": ids}


class _Sql:
    """Engine-specific bits of the load SQL."""

    def __init__(self, vendor: str) -> None:
        self.pg = vendor == "postgresql"

    def amount(self, x: str) -> str:
        """Integer of 10^-10 units → the stored amount (numeric, or canonical text as money.canonical)."""
        if self.pg:
            return f"(({x})::numeric * 0.0000000001)"
        a = f"abs({x})"
        return (
            f"(CASE WHEN ({x}) < 0 THEN '-' ELSE '' END || ({a} / {E}) || "
            f"CASE WHEN {a} % {E} = 0 THEN '' ELSE '.' || rtrim(printf('%010d', {a} % {E}), '0') END)"
        )

    def integer(self, x: str) -> str:
        return f"(({x})::numeric)" if self.pg else f"(CAST(({x}) AS TEXT))"

    def identity(self) -> str:
        return "uuid_send(gen_random_uuid())" if self.pg else "randomblob(16)"

    def rand(self, n: int) -> str:
        return f"floor(random() * {n})::bigint" if self.pg else f"abs(random() % {n})"

    def false(self) -> str:
        return "false" if self.pg else "0"

    def temp(self, name: str, cols: str) -> str:
        return f"CREATE TEMP TABLE {name} ({cols})"


def _exec(cur: Any, sql: str, params: Any = ()) -> None:
    cur.execute(sql, params)


def _month_start(d: dt.date) -> dt.date:
    return d.replace(day=1)


def _next_month(d: dt.date) -> dt.date:
    return dt.date(d.year + (d.month == 12), d.month % 12 + 1, 1)


def _ts(value: dt.datetime, pg: bool) -> Any:
    return value if pg else value.replace(tzinfo=None).isoformat(" ")


def _day_value(d: dt.date, pg: bool) -> Any:
    return d if pg else d.isoformat()


def _drop_line_indexes(cur: Any, pg: bool) -> list[tuple[str, str]]:
    """The line items' secondary indexes, dropped for the load (created again afterwards)."""
    if not pg:
        cur.execute("PRAGMA cache_size = -1048576")  # 1 GiB while loading
        cur.execute("PRAGMA temp_store = MEMORY")
        cur.execute("PRAGMA synchronous = OFF")
    if pg:
        cur.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'usage_lineitem' AND indexname NOT IN "
            "(SELECT conname FROM pg_constraint WHERE conrelid = 'usage_lineitem'::regclass)"
        )
    else:
        cur.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'usage_lineitem' AND sql IS NOT NULL"
        )
    dropped = cur.fetchall()
    for name, _ddl in dropped:
        cur.execute(f'DROP INDEX "{name}"')
    return list(dropped)


def _create_scratch(cur: Any, sql: _Sql) -> None:
    pg = sql.pg
    int_t = "bigint" if pg else "INTEGER"
    day_t = "date" if pg else "TEXT"
    ts_t = "timestamptz" if pg else "TEXT"
    for ddl in (
        sql.temp(
            "bx_days",
            f"dn {int_t} PRIMARY KEY, day {day_t}, month {day_t}, bp_start {ts_t}, bp_end {ts_t}, yymm TEXT",
        ),
        sql.temp("bx_hours", f"dn {int_t}, h {int_t}, cstart {ts_t}, cend {ts_t}, PRIMARY KEY (dn, h)"),
        sql.temp(
            "bx_cust",
            f"cidx {int_t} PRIMARY KEY, account TEXT, currency TEXT, fav0 {int_t}, fav1 {int_t}, fav2 {int_t}, region {int_t}, project TEXT",
        ),
        sql.temp(
            "bx_assoc",
            f"cidx {int_t}, from_dn {int_t}, to_dn {int_t}, customer_id {int_t}, partner_id {int_t}, assoc_type TEXT",
        ),
        sql.temp(
            "bx_product",
            f"pidx {int_t} PRIMARY KEY, code TEXT, name TEXT, category TEXT, service_type TEXT, mode TEXT, publisher TEXT, prepaid {int_t}",
        ),
        sql.temp("bx_region", f"ridx {int_t} PRIMARY KEY, rid TEXT, rname TEXT"),
        sql.temp("bx_raw", f"n {int_t} PRIMARY KEY, dn {int_t}, h {int_t}, cidx {int_t}, r1 {int_t}, r2 {int_t}"),
        sql.temp(
            "bx_rows",
            f"n {int_t} PRIMARY KEY, dn {int_t}, h {int_t}, cidx {int_t}, customer_id {int_t}, partner_id {int_t}, "
            f"assoc_type TEXT, currency TEXT, pidx {int_t}, ridx {int_t}, project TEXT, cat TEXT, cls TEXT, "
            f"amt {int_t}, qty {int_t}",
        ),
    ):
        cur.execute(ddl)
    cur.execute("CREATE INDEX bx_assoc_c ON bx_assoc (cidx, from_dn)")


def _fill_scratch(cur: Any, pg: bool, org: dict[str, Any], days: list[dt.date]) -> None:
    """The calendar, customers, associations, products and regions the rows are drawn from."""
    from partnercenter.core import clock

    P = "%s"  # Django cursors take %s on both engines
    plan, partners, ids = org["plan"], org["partners"], org["customer_ids"]
    ncust = len(plan)

    def ts(value: dt.datetime) -> Any:
        return _ts(value, pg)

    def day_value(d: dt.date) -> Any:
        return _day_value(d, pg)

    cur.executemany(
        f"INSERT INTO bx_days VALUES ({P}, {P}, {P}, {P}, {P}, {P})",
        [
            (i, day_value(d), day_value(_month_start(d)), ts(clock.start_of_day(_month_start(d))),
             ts(clock.start_of_day(_next_month(d))), f"{d:%y%m}")
            for i, d in enumerate(days)
        ],
    )  # fmt: skip
    cur.executemany(
        f"INSERT INTO bx_hours VALUES ({P}, {P}, {P}, {P})",
        [
            (
                i,
                h,
                ts(clock.start_of_day(d) + dt.timedelta(hours=h)),
                ts(clock.start_of_day(d) + dt.timedelta(hours=h + 1)),
            )
            for i, d in enumerate(days)
            for h in range(24)
        ],
    )
    cur.executemany(
        f"INSERT INTO bx_cust VALUES ({P}, {P}, {P}, {P}, {P}, {P}, {P}, {P})",
        [
            (c, account_id(c), "USD" if c % 40 == 3 else "CNY", (c * 7) % 10, (c * 7 + 3) % 10, (c * 7 + 6) % 10,
             c % 4, PROJECTS[(c // 4) % len(PROJECTS)])
            for c in range(ncust)
        ],
    )  # fmt: skip
    cur.executemany(
        f"INSERT INTO bx_assoc VALUES ({P}, {P}, {P}, {P}, {P}, {P})",
        [
            (p["cidx"], frm if frm is not None else -100000, to if to is not None else 100000,
             ids[account_id(p["cidx"])], partners[code], kind)
            for p in plan
            for code, kind, frm, to in p["history"]
        ],
    )  # fmt: skip
    cur.executemany(
        f"INSERT INTO bx_product VALUES ({P}, {P}, {P}, {P}, {P}, {P}, {P}, {P})",
        [(i, *p, 1 if p[4].startswith("prepaid") else 0) for i, p in enumerate(PRODUCTS)],
    )
    cur.executemany(f"INSERT INTO bx_region VALUES ({P}, {P}, {P})", [(i, *r) for i, r in enumerate(REGIONS)])


def _rows_sql() -> str:
    """Each drawn row's customer, association, product, region, category, class and amount."""
    # Derived per-row values (from the stored random draws, so every expression sees the same draw).
    k = "(s.r1 % 1000)"
    cat = (
        f"(CASE WHEN {k} < 50 THEN 'Tax' WHEN {k} < 70 THEN 'Credit' "
        f"WHEN p.prepaid = 1 THEN 'Purchase' ELSE 'Usage' END)"
    )
    magnitude = (
        f"(CASE WHEN {k} < 50 THEN (s.r2 % 50000 + 1) * 100000000 "
        f"WHEN {k} < 70 THEN (CASE s.r2 % 3 WHEN 0 THEN 500000000000 WHEN 1 THEN 1000000000000 ELSE 2005000000000 END) "
        f"WHEN p.prepaid = 1 THEN (s.r2 % 1300000 + 100) * 100000000 "
        f"WHEN s.r2 % 3 = 0 THEN ((s.r2 / 3) % 20000 + 1) * 100000000 "
        f"WHEN s.r2 % 3 = 1 THEN ((s.r2 / 3) % 200000000 + 1) * 10000 "
        f"ELSE (s.r2 / 3) % 2000000000000 + 1 END)"
    )
    negative = f"({k} BETWEEN 50 AND 84)"  # credits (50..69) and refunds (70..84)
    amt = f"(CASE WHEN {negative} THEN -{magnitude} ELSE {magnitude} END)"
    cls = (
        f"(CASE WHEN {k} < 50 THEN 'tax' WHEN {k} < 70 THEN 'adjustment' "
        f"WHEN {k} < 85 THEN 'refund' ELSE 'expenditure' END)"
    )
    return f"""
        INSERT INTO bx_rows (n, dn, h, cidx, customer_id, partner_id, assoc_type, currency, pidx, ridx, project, cat, cls, amt, qty)
        SELECT s.n, s.dn, s.h, s.cidx, s.customer_id, s.partner_id, s.assoc_type, s.currency, s.pidx, s.ridx, s.project,
               {cat}, {cls}, {amt},
               CASE WHEN {k} >= 70 AND p.prepaid = 0 THEN (s.r2 / 7) % 1000 + 1 END
        FROM (
            SELECT r.n, r.dn, r.h, r.cidx, r.r1, r.r2, a.customer_id, a.partner_id, a.assoc_type, c.currency, c.project,
                   CASE WHEN (r.r1 / 1000) % 10 = 9 THEN (r.r1 / 10000) % 10
                        WHEN (r.r1 / 1000) % 10 < 4 THEN c.fav0
                        WHEN (r.r1 / 1000) % 10 < 7 THEN c.fav1 ELSE c.fav2 END AS pidx,
                   CASE WHEN (r.r1 / 10000) % 10 = 0 THEN (r.r1 / 100000) % 4 ELSE c.region END AS ridx
            FROM bx_raw r
            JOIN bx_cust c ON c.cidx = r.cidx
            JOIN bx_assoc a ON a.cidx = r.cidx AND r.dn >= a.from_dn AND r.dn < a.to_dn
        ) s JOIN bx_product p ON p.pidx = s.pidx
    """


def _line_sql(sql: _Sql) -> str:
    """The line items of the drawn rows, as ingestion stores them (``__BATCH__``: the batch id)."""
    # Exactly one of the two classification checks in the sign: Usage/Purchase with a negative amount
    # is a refund (ingest._classify); credits are adjustments; taxes are taxes.
    billed = sql.amount("r.amt")
    return f"""
        INSERT INTO usage_lineitem (
            identity, batch_id, customer_id, partner_id, association_type, charge_period_start, charge_period_end,
            charge_day, charge_month, billing_period_start, billing_period_end, charge_category, charge_class,
            classification, charge_description, charge_frequency, pricing_category, billed_cost, list_cost,
            effective_cost, billing_currency, pricing_quantity, pricing_unit, provider_name, publisher_name,
            service_type, service_name, service_category, sku_id, region_id, region_name, resource_id,
            resource_name, resource_type, x_project, x_billing_mode, x_order_id, x_line_id, is_correction)
        SELECT {sql.identity()}, __BATCH__, r.customer_id, r.partner_id, r.assoc_type, hr.cstart, hr.cend,
            d.day, d.month, d.bp_start, d.bp_end, r.cat, '',
            r.cls,
            CASE r.cat WHEN 'Tax' THEN 'VAT 6%' WHEN 'Credit' THEN 'Service credit (SLA compensation)'
                 ELSE (CASE WHEN r.amt < 0 THEN 'Refund: ' ELSE '' END) || p.name ||
                      (CASE r.cat WHEN 'Purchase' THEN ' subscription' ELSE ' usage' END) END,
            CASE r.cat WHEN 'Usage' THEN 'Usage-Based' WHEN 'Purchase' THEN 'One-Time' ELSE '' END,
            CASE r.cat WHEN 'Usage' THEN 'Standard' ELSE '' END,
            {billed},
            CASE WHEN r.cls = 'expenditure' THEN {billed} END,
            {billed},
            r.currency,
            CASE WHEN r.qty IS NOT NULL THEN {sql.integer("r.qty")} END,
            CASE WHEN r.qty IS NOT NULL THEN 'Hours' ELSE '' END,
            '{PROVIDER}', CASE WHEN p.publisher = '' THEN '{PROVIDER}' ELSE p.publisher END,
            p.service_type, p.name, p.category, 'SKU-' || p.code || '-' || g.rid, g.rid, g.rname,
            p.code || '-' || c.account || '-' || g.rid || '-' || (r.n - 3 * (r.n / 3)), p.code || '-' || r.project, p.category,
            r.project, p.mode,
            CASE WHEN r.cat = 'Purchase' THEN 'CS' || d.yymm || '-' || r.n ELSE '' END,
            'bench:' || r.n, {sql.false()}
        FROM bx_rows r
        JOIN bx_days d ON d.dn = r.dn
        JOIN bx_hours hr ON hr.dn = r.dn AND hr.h = r.h
        JOIN bx_product p ON p.pidx = r.pidx
        JOIN bx_region g ON g.ridx = r.ridx
        JOIN bx_cust c ON c.cidx = r.cidx
        ORDER BY r.dn, r.h, r.n
    """


def _month_plan(rows: int, month_rows: Callable[[dt.date, int], int] | None) -> list[tuple[dt.date, int, int, int]]:
    """(month, its first day's number, its day count, its rows) of each month's batch: rows in
    proportion to the month's days, or as many as ``month_rows`` answers."""
    ndays = (DATA_END - DATA_START).days + 1
    plan: list[tuple[dt.date, int, int, int]] = []
    d = DATA_START
    while d <= DATA_END:
        end = min(_next_month(d), DATA_END + dt.timedelta(days=1))
        dn0, nd = (d - DATA_START).days, (end - d).days
        m = rows * (dn0 + nd) // ndays - rows * dn0 // ndays
        plan.append((d, dn0, nd, m if month_rows is None else month_rows(d, m)))
        d = end
    return plan


def _draw_month(cur: Any, sql: _Sql, base: int, dn0: int, nd: int, m: int, ncust: int) -> None:
    """``m`` rows drawn at random over the month's days, hours and customers (numbered from ``base``)."""
    cur.execute("DELETE FROM bx_raw")
    cur.execute("DELETE FROM bx_rows")
    if sql.pg:
        cur.execute(
            f"INSERT INTO bx_raw SELECT {base} + i, {dn0} + {sql.rand(nd)}, {sql.rand(24)}, {sql.rand(ncust)}, "
            f"{sql.rand(10**9)}, {sql.rand(10**12)} FROM generate_series(0, {m - 1}) AS i"
        )
    else:
        cur.execute(
            f"INSERT INTO bx_raw WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i + 1 < {m}) "
            f"SELECT {base} + i, {dn0} + {sql.rand(nd)}, {sql.rand(24)}, {sql.rand(ncust)}, {sql.rand(10**9)}, "
            f"{sql.rand(10**12)} FROM seq"
        )
    cur.execute(_rows_sql())
    if sql.pg:
        cur.execute("ANALYZE bx_rows")


def _month_totals(cur: Any) -> tuple[dict[str, dict[str, Decimal]], int]:
    """The drawn month's totals per currency and class, as a batch report holds them, and its rows."""
    # A month's sum of 10^-10 units overflows 64 bits: summed in two parts (amt = q * 10^6 + r).
    cur.execute(
        "SELECT currency, cls, SUM(amt / 1000000), SUM(amt - (amt / 1000000) * 1000000), COUNT(*) "
        "FROM bx_rows GROUP BY currency, cls"
    )
    totals: dict[str, dict[str, Decimal]] = {}
    stored = 0
    for cur_code, c, q, r, n in cur.fetchall():
        totals.setdefault(cur_code, {})[c] = Decimal(int(q) * 1_000_000 + int(r)).scaleb(-10).normalize()
        stored += n
    for t in totals.values():
        for c in ("expenditure", "refund", "adjustment", "tax"):
            t.setdefault(c, Decimal(0))
        t["net"] = t["expenditure"] + t["refund"] + t["adjustment"] + t["tax"]
        t["refund"] = -t["refund"] if t["refund"] else Decimal(0)
    return totals, stored


def _load_month(sql: _Sql, i: int, plan: tuple[dt.date, int, int, int], base: int, ncust: int) -> tuple[float, float]:
    """One month's batch of line items; the seconds it took to draw them and to store them."""
    from django.db import connection, transaction

    from partnercenter.core import clock
    from partnercenter.usage.models import IngestBatch

    month, dn0, nd, m = plan
    with transaction.atomic(), connection.cursor() as cur:
        started = clock.now()
        batch = IngestBatch.objects.create(
            source="bench-expenditure", file_name=f"bench-{month:%Y-%m}.csv", format="focus",
            checksum=f"{i:064x}", started_at=started, finished_at=started,
        )  # fmt: skip
        t0 = time.perf_counter()
        _draw_month(cur, sql, base, dn0, nd, m, ncust)
        t1 = time.perf_counter()
        cur.execute(_line_sql(sql).replace("__BATCH__", str(int(batch.pk))))
        t2 = time.perf_counter()
        totals, stored = _month_totals(cur)
        IngestBatch.objects.filter(pk=batch.pk).update(
            rows_total=stored, rows_new=stored,
            totals={cc: {k2: format(v, "f") for k2, v in sorted(t.items())} for cc, t in sorted(totals.items())},
            finished_at=clock.now(),
        )  # fmt: skip
    _log(f"    {month:%Y-%m}: {stored:,} rows ({t2 - t0:.1f} s)")
    return t1 - t0, t2 - t1


def _finish_load(dropped: list[tuple[str, str]], pg: bool, timings: dict[str, float]) -> None:
    """The dropped indexes created again, the scratch tables dropped, the derived totals rebuilt."""
    from django.db import connection

    from partnercenter.core import clock
    from partnercenter.usage import rebuild
    from partnercenter.usage.models import Freshness

    t0 = time.perf_counter()
    with connection.cursor() as cur:
        for _name, ddl in dropped:
            cur.execute(ddl)
        for table in ("bx_raw", "bx_rows", "bx_days", "bx_hours", "bx_cust", "bx_assoc", "bx_product", "bx_region"):
            cur.execute(f"DROP TABLE {table}")
    timings["indexes"] = time.perf_counter() - t0
    # The derived totals as the product defines them: rebuilt from the line items just loaded.
    for name, part in (("daily_rollups", "rollups"), ("customer_totals", "running_totals")):
        t0 = time.perf_counter()
        rebuild.rebuild_totals([name])
        timings[part] = time.perf_counter() - t0
    Freshness.objects.update_or_create(
        source="bench-expenditure",
        defaults={"complete_until": clock.start_of_day(DATA_END + dt.timedelta(days=1)), "updated_at": now_utc()},
    )
    with connection.cursor() as cur:
        if not pg:
            cur.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            return
        t0 = time.perf_counter()
        # A bulk load is followed by autovacuum's ANALYZE in production; done here explicitly.
        for table in ("usage_lineitem", "usage_dailyrollup", "usage_customertotalkey", "usage_customerrunningtotal"):
            cur.execute(f"VACUUM ANALYZE {table}")
        timings["analyze"] = time.perf_counter() - t0


def load_line_items(
    rows: int, org: dict[str, Any], month_rows: Callable[[dt.date, int], int] | None = None
) -> dict[str, Any]:
    """Load ``rows`` line items spread over the months in proportion to their days, or, with
    ``month_rows``, as many as ``month_rows(month, proportional share)`` answers for each month."""
    from django.db import connection

    from partnercenter.core import clock

    sql = _Sql(connection.vendor)
    ndays = (DATA_END - DATA_START).days + 1
    tz = clock.billing_tz()
    offsets = {dt.datetime.combine(DATA_START + dt.timedelta(days=i), dt.time(), tz).utcoffset() for i in range(ndays)}
    assert len(offsets) == 1, "the loader assumes a billing time zone without DST"
    t_all = time.perf_counter()
    with connection.cursor() as cur:
        # Secondary indexes of the line items are dropped during the load and created afterwards.
        dropped = _drop_line_indexes(cur, sql.pg)
        _create_scratch(cur, sql)
        _fill_scratch(cur, sql.pg, org, [DATA_START + dt.timedelta(days=i) for i in range(ndays)])
    timings = {"stage": 0.0, "line_items": 0.0}
    base = 0
    for i, plan in enumerate(_month_plan(rows, month_rows)):
        stage, lines = _load_month(sql, i, plan, base, len(org["plan"]))
        timings["stage"] += stage
        timings["line_items"] += lines
        base += plan[3]
    _finish_load(dropped, sql.pg, timings)
    return {
        "load_seconds": round(time.perf_counter() - t_all, 1),
        "load_parts_seconds": {k: round(v, 1) for k, v in timings.items()},
    }


_ROLLUP_CHECK = ("partner_id", "service_name", "region_id", "x_project", "x_billing_mode", "classification")


def _summary_by_customer(admin: Any, start: dt.date, end: dt.date) -> tuple[Any, dict[str, dict[str, Decimal]]]:
    """The expenditure summary over the period and its totals per account."""
    from partnercenter.core import clock
    from partnercenter.core.money import CONTEXT
    from partnercenter.expenditure import selectors

    with clock.frozen_at(now_utc()):
        s = selectors.summary(admin, selectors.SummaryFilter(start=start, end=end), limit=100_000)
    by_customer: dict[str, dict[str, Decimal]] = {}
    for r in s.rows:
        t = by_customer.setdefault(
            r.account_id, {k: Decimal(0) for k in ("expenditure", "refund", "adjustment", "tax", "net")}
        )
        for k in t:
            t[k] = CONTEXT.add(t[k], getattr(r, k))
    return s, by_customer


def _check_customer_summary(
    cust: Any, big: Any, start: dt.date, end: dt.date, got: dict[str, Decimal] | None
) -> tuple[str | None, int]:
    """A problem if the summary's totals of ``cust`` differ from the Decimal sums of its line
    items, and how many line items were summed."""
    from partnercenter.core.money import CONTEXT
    from partnercenter.usage.models import LineItem

    expected = {k: Decimal(0) for k in ("expenditure", "refund", "adjustment", "tax")}
    qs = LineItem.objects.filter(customer=cust, partner=big, charge_day__gte=start, charge_day__lte=end)
    rows = 0
    for billed, cls in qs.values_list("billed_cost", "classification"):
        expected[cls] = CONTEXT.add(expected[cls], billed)
        rows += 1
    expected["net"] = sum(expected.values(), Decimal(0))
    expected["refund"] = -expected["refund"]
    got = got or {k: Decimal(0) for k in expected}
    if any(got[k] != expected[k] for k in expected):
        return f"summary of {cust.account_id}: {got} != {expected}", rows
    return None, rows


def _check_customer_rollups(cust: Any) -> str | None:
    """A problem if the rollups of ``cust`` (all partners) differ from its line items, per day and key."""
    from partnercenter.core.money import CONTEXT
    from partnercenter.usage.models import DailyRollup, LineItem

    li: dict[tuple[Any, ...], Decimal] = {}
    for row in LineItem.objects.filter(customer=cust).values_list("charge_day", *_ROLLUP_CHECK, "billed_cost"):
        key = row[:7]
        li[key] = CONTEXT.add(li.get(key, Decimal(0)), row[7])
    ru = {r[:7]: r[7] for r in DailyRollup.objects.filter(customer=cust).values_list("day", *_ROLLUP_CHECK, "amount")}
    if li != ru:
        return f"rollups of {cust.account_id} differ from its line items ({len(li)} vs {len(ru)} keys)"
    return None


def _check_counts(problems: list[str]) -> tuple[int, int, int]:
    """Line items, rollups and running totals hold the same lines; their row counts."""
    from django.db import connection
    from django.db.models import Count

    from partnercenter.usage.models import CustomerRunningTotal, LineItem

    n_li = LineItem.objects.count()
    n_cdt = CustomerRunningTotal.objects.aggregate(n=Count("id"))["n"]
    with connection.cursor() as cur:
        # Each key's latest running total holds all its lines.
        cur.execute(
            "SELECT SUM(r.line_count) FROM usage_customerrunningtotal r JOIN (SELECT key_id, MAX(day) AS d "
            "FROM usage_customerrunningtotal GROUP BY key_id) m ON m.key_id = r.key_id AND m.d = r.day"
        )
        cdt_lines = int(cur.fetchone()[0])
        cur.execute("SELECT SUM(line_count), COUNT(*) FROM usage_dailyrollup")
        ru_lines, n_ru = (int(v) for v in cur.fetchone())
    if not (cdt_lines == ru_lines == n_li):
        problems.append(f"line counts differ: line items {n_li}, rollups {ru_lines}, running totals {cdt_lines}")
    return n_li, n_ru, n_cdt


def _check_sample(problems: list[str]) -> int:
    """Stored texts and classifications on a sample of the line items; its size."""
    from django.db import connection

    from partnercenter.core.money import canonical

    with connection.cursor() as cur:
        cur.execute(
            "SELECT billed_cost, classification, charge_category, list_cost, effective_cost FROM usage_lineitem "
            "WHERE id % 997 = 0"
        )
        sample_rows = cur.fetchall()
    for billed, cls, cat, lc, ec in sample_rows:
        d = Decimal(billed)
        if connection.vendor == "sqlite" and (canonical(d) != billed or ec != billed):
            problems.append(f"not canonical: {billed!r}")
        want = {"Tax": "tax", "Credit": "adjustment"}.get(cat) or ("expenditure" if d >= 0 else "refund")
        if cls != want:
            problems.append(f"classification {cls} for {cat} {billed}")
        if (lc is not None) != (cls == "expenditure"):
            problems.append(f"list cost {lc!r} for {cls}")
    return len(sample_rows)


def check_data(sample: int = 6) -> dict[str, Any]:
    """The loaded shapes agree with the line items: summary and rollups vs Decimal sums of billed_cost."""
    from partnercenter.accounts.models import User
    from partnercenter.partners.models import Customer, Partner

    admin = User.objects.get(username="big-sp-admin")
    big = Partner.objects.get(code=BIG)
    rng = random.Random(11)
    picks = [rng.randrange(0, 4960), MOVERS[3], LEAVERS[2], 3, 43, rng.randrange(0, 4960)][:sample]  # 3, 43: USD
    start, end = DATA_START + dt.timedelta(days=150), DATA_END - dt.timedelta(days=2)
    problems: list[str] = []
    checked_rows = 0
    s, by_customer = _summary_by_customer(admin, start, end)
    for cidx in picks:
        cust = Customer.objects.get(account_id=account_id(cidx))
        found, rows = _check_customer_summary(
            cust, big, start, min(end, s.period.end), by_customer.get(cust.account_id)
        )
        checked_rows += rows
        problems += [p for p in (found, _check_customer_rollups(cust)) if p]
    n_li, n_ru, n_cdt = _check_counts(problems)
    n_sample = _check_sample(problems)
    if problems:
        for p in problems[:20]:
            _log("  CHECK FAILED: " + p)
        raise SystemExit("bench: the loaded data set does not check out")
    return {
        "line_items": n_li,
        "rollups": n_ru,
        "running_totals": n_cdt,
        "checked_customers": len(picks),
        "checked_line_items": checked_rows,
        "checked_sample": n_sample,
    }


def build(rows: int) -> None:
    _django()
    from django.core.management import call_command

    t0 = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    migrate_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    org = _create_organisation()
    org_s = time.perf_counter() - t0
    figures = load_line_items(rows, org)
    t0 = time.perf_counter()
    checks = check_data()
    _emit(migrate_seconds=round(migrate_s, 1), organisation_seconds=round(org_s, 1), **figures,
          check_seconds=round(time.perf_counter() - t0, 1), **checks)  # fmt: skip


# ---- summary timing -----------------------------------------------------------------------------

THREE_MONTHS = ("2026-04-01", "2026-06-30")


def summary_requests(manager: bool) -> list[tuple[str, str, str]]:
    """(kind, variant, url) for the page and the API."""
    s, e = THREE_MONTHS
    variants = [
        ("this month", "", ""),
        ("3 months", f"start={s}&end={e}", f"start={s}&end={e}"),
        ("name", "name=Contoso", "name=Contoso"),
        ("referral", "association_type=referral", "association_type=referral"),
        ("sort net", "sort=-net", "sort=-net"),
        ("page 5", "page=5", "offset=80"),
    ]
    out = []
    for name, page_q, api_q in variants:
        out.append(("page", name, "/expenditure/" + (f"?{page_q}" if page_q else "")))
        out.append(("api", name, "/api/v1/expenditure/summary?limit=20" + (f"&{api_q}" if api_q else "")))
    del manager
    return out


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(round(p / 100 * len(ordered) + 0.5)) - 1))
    return ordered[k]


def summary(n: int) -> None:
    _django()
    from django.test import Client

    from partnercenter.accounts.models import User
    from partnercenter.core import clock

    results: dict[str, Any] = {}
    with clock.frozen_at(now_utc()):
        for who in ("big-sp-admin", "big-sp-am"):
            client = Client()
            client.force_login(User.objects.get(username=who))
            reqs = summary_requests(who != "big-sp-admin")
            count = n if who == "big-sp-admin" else max(30, n // 2)
            for _kind, _v, url in reqs:  # warm-up: every request once (>= 5 per kind)
                r = client.get(url)
                assert r.status_code == 200, (url, r.status_code, r.content[:500])
            times: dict[str, list[float]] = {"page": [], "api": []}
            per_variant: dict[str, list[float]] = {}
            totals: dict[str, int] = {}
            page_reqs = [q for q in reqs if q[0] == "page"]
            api_reqs = [q for q in reqs if q[0] == "api"]
            for i in range(count):
                for kind, variant, url in (page_reqs[i % len(page_reqs)], api_reqs[i % len(api_reqs)]):
                    t0 = time.perf_counter()
                    r = client.get(url)
                    ms = (time.perf_counter() - t0) * 1000
                    if r.status_code != 200:
                        raise SystemExit(f"bench: {url} answered {r.status_code}")
                    if kind == "api" and variant not in totals:
                        totals[variant] = r.json()["total"]
                    times[kind].append(ms)
                    per_variant.setdefault(f"{kind} {variant}", []).append(ms)
            results[who] = {
                kind: {"n": len(v), "p50": statistics.median(v), "p95": _pct(v, 95), "max": max(v)}
                for kind, v in times.items()
            }
            results[who]["variants"] = {k: round(statistics.median(v), 1) for k, v in per_variant.items()}
            results[who]["rows_matching"] = totals
    _emit(**results)


# ---- export timing ------------------------------------------------------------------------------


def export_range(rows: int) -> tuple[dt.date, dt.date, int]:
    """The most recent days (up to the last visible one) whose big-sp line items add up to >= rows."""
    from django.db.models import Sum

    from partnercenter.partners.models import Partner
    from partnercenter.usage.freshness import last_visible_day
    from partnercenter.usage.models import DailyRollup

    end = last_visible_day(now_utc())
    big = Partner.objects.get(code=BIG)
    per_day = dict(
        DailyRollup.objects.filter(partner=big, day__lte=end)
        .values_list("day")
        .annotate(n=Sum("line_count"))
        .order_by()
    )
    total, day = 0, end
    while total < rows and day >= DATA_START:
        total += per_day.get(day, 0)
        day -= dt.timedelta(days=1)
    return day + dt.timedelta(days=1), end, total


def export(fmt: str, rows: int) -> None:
    _django()
    from partnercenter.accounts.models import User
    from partnercenter.core import clock
    from partnercenter.exports import services
    from partnercenter.exports.models import ExportTask

    if os.environ.get("BENCH_EXP_EXPORT_PATH") == "rows":  # the per-cell writers, for comparison
        import dataclasses

        from partnercenter.exports import registry

        registry.register(dataclasses.replace(registry.get("expenditure_details"), arrow=None))
    admin = User.objects.get(username="big-sp-admin")
    start, end, expected = export_range(rows)
    created = False
    while not created:  # a fresh task (the same request within seconds would answer an earlier one)
        with clock.frozen_at(now_utc() + dt.timedelta(seconds=random.randrange(1, 20_000))):
            task, created = services.create_export(
                admin, "expenditure_details", {"start": start.isoformat(), "end": end.isoformat()}, fmt
            )
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    profile = os.environ.get("BENCH_EXP_PROFILE")
    t0 = time.perf_counter()
    if profile:
        import cProfile

        cProfile.runctx("services.run_export(str(task.pk))", globals(), {"services": services, "task": task}, profile)
    else:
        services.run_export(str(task.pk))
    seconds = time.perf_counter() - t0
    done = ExportTask.objects.get(pk=task.pk)
    if done.status != "succeeded" or done.row_count != expected:
        raise SystemExit(f"bench: export {done.status} with {done.row_count} rows (expected {expected}): {done.error}")
    size = done.file_size
    if os.environ.get("BENCH_KEEP") != "1":
        done.path.unlink(missing_ok=True)
    _emit(format=fmt, rows=done.row_count, seconds=round(seconds, 2), start=start.isoformat(), end=end.isoformat(),
          file_mb=round((size or 0) / 1e6, 1), rss_before_run_mb=round(rss_before, 1))  # fmt: skip


def main(argv: list[str]) -> None:
    step, *args = argv
    if step == "build":
        build(int(args[0]))
    elif step == "summary":
        summary(int(args[0]))
    elif step == "export":
        export(args[0], int(args[1]))
    else:
        raise SystemExit(f"unknown step {step!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
