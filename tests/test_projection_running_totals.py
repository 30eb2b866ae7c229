"""Running totals maintained by ingestion (usage/running: begin, stage_sums, finish), against a model: after any
sequence of steps, in any order of days, each key has a row for every day it was given a delta,
holding the sums of all its deltas through that day, exactly (the split integers as given, not
normalised: :func:`stage` writes them into the scratch table the way ``stage_sums`` does); and
``stage_sums`` sums split amounts per classification exactly."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from partnercenter.core.money import CONTEXT, canonical, join, split, split_numeric_sql
from partnercenter.usage import running
from partnercenter.usage.models import CustomerRunningTotal, CustomerTotalKey

SETTINGS = settings(
    max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
FIRST = dt.date(2026, 3, 1)
KEYS = [("a1", "sp-a", "reseller", "USD"), ("a1", "sp-a", "reseller", "CNY"), ("a2", "sp-a", "referral", "USD")]
WIDTH = len(CustomerRunningTotal.VALUE_FIELDS)

vector = st.lists(st.integers(-(10**12), 10**12), min_size=WIDTH, max_size=WIDTH)
step = st.dictionaries(st.tuples(st.integers(0, 9), st.sampled_from(range(len(KEYS)))), vector, min_size=1, max_size=12)


def stage(deltas: dict) -> None:
    """Integer vectors ``{(day, customer, partner, association_type, currency): [13 ints]}`` into
    the batch's scratch table, as given (``stage_sums`` only ever writes split amounts)."""
    columns = ["day", *running._DELTA_KEY, *running._V]
    with connection.cursor() as cur:
        cur.executemany(
            f"INSERT INTO {running._DELTA} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})",
            [(*key, *vec) for key, vec in deltas.items()],
        )


def batch_of(deltas: dict) -> None:
    """One batch of one step: its deltas staged, then applied."""
    running.begin()
    stage(deltas)
    running.finish()


def keyed(org, key_index: int) -> tuple[int, int, str, str]:
    customer, partner, assoc, currency = KEYS[key_index]
    return org.customers[customer].pk, org.partners[partner].pk, assoc, currency


def expected(org, steps: list[dict]) -> dict[tuple[tuple[int, int, str, str], dt.date], list[int]]:
    deltas: dict[tuple[int, dt.date], list[int]] = {}
    for s in steps:
        for (offset, k), vec in s.items():
            slot = deltas.setdefault((k, FIRST + dt.timedelta(days=offset)), [0] * WIDTH)
            for i in range(WIDTH):
                slot[i] += vec[i]
    model = {}
    for k, day in deltas:
        total = [0] * WIDTH
        for (k2, d2), vec in deltas.items():
            if k2 == k and d2 <= day:
                total = [a + b for a, b in zip(total, vec, strict=True)]
        model[(keyed(org, k), day)] = total
    return model


def stored_by_key() -> dict[tuple[tuple[int, int, str, str], dt.date], list[int]]:
    return {
        ((r[0], r[1], r[2], r[3]), r[4]): list(r[5:])
        for r in CustomerRunningTotal.objects.values_list(
            "key__customer_id",
            "key__partner_id",
            "key__association_type",
            "key__currency",
            "day",
            *CustomerRunningTotal.VALUE_FIELDS,
        )
    }


@SETTINGS
@given(steps=st.lists(step, min_size=1, max_size=4))
def test_steps_in_any_day_order_leave_the_cumulative_sums(org, steps):
    CustomerRunningTotal.objects.all().delete()
    CustomerTotalKey.objects.all().delete()
    for s in steps:
        batch_of({(FIRST + dt.timedelta(days=offset), *keyed(org, k)): vec for (offset, k), vec in s.items()})
    assert stored_by_key() == expected(org, steps)


@SETTINGS
@given(batches=st.lists(st.lists(step, min_size=1, max_size=3), min_size=1, max_size=3))
def test_a_batch_staged_in_steps_is_applied_once_at_its_end(org, batches):
    """A batch stages its steps' deltas (the same key and day may come in several) and applies
    them when it finishes: the same sums as one step each."""
    CustomerRunningTotal.objects.all().delete()
    CustomerTotalKey.objects.all().delete()
    for batch in batches:
        running.begin()
        for s in batch:
            stage({(FIRST + dt.timedelta(days=offset), *keyed(org, k)): vec for (offset, k), vec in s.items()})
        running.finish()
    assert stored_by_key() == expected(org, [s for batch in batches for s in batch])


def test_a_day_before_every_stored_day_shifts_them_all_and_builds_on_nothing(org):
    a1 = keyed(org, 0)
    batch_of({(dt.date(2026, 3, 10), *a1): [1] * WIDTH, (dt.date(2026, 3, 20), *a1): [2] * WIDTH})
    batch_of({(dt.date(2026, 3, 5), *a1): [10] * WIDTH, (dt.date(2026, 3, 15), *a1): [100] * WIDTH})
    assert stored_by_key() == {
        (a1, dt.date(2026, 3, 5)): [10] * WIDTH,
        (a1, dt.date(2026, 3, 10)): [11] * WIDTH,
        (a1, dt.date(2026, 3, 15)): [111] * WIDTH,
        (a1, dt.date(2026, 3, 20)): [113] * WIDTH,
    }
    # the key is stored once, and a second key of the customer gets its own
    batch_of({(dt.date(2026, 3, 20), *keyed(org, 1)): [7] * WIDTH})
    assert CustomerTotalKey.objects.filter(customer_id=a1[0]).count() == 2


# Sums as ingestion stages them: up to 15 places, a step's sum for one key up to ±10^18.
amounts = st.builds(
    lambda units, places: Decimal(units).scaleb(-places),
    st.integers(-(10**33) + 1, 10**33 - 1),
    st.integers(0, 15),
).filter(lambda d: abs(d) < Decimal(10**18))
CLASSES = CustomerRunningTotal.CLASSES
staged_sums = st.dictionaries(
    st.tuples(st.integers(0, 4), st.sampled_from(range(len(KEYS))), st.sampled_from(CLASSES)),
    st.tuples(amounts, st.integers(1, 1000)),
    min_size=1,
    max_size=15,
)


@SETTINGS
@given(sums=staged_sums)
def test_stage_sums_adds_each_classification_exactly(org, sums):
    """Sums per (day, key, classification) staged as the rollups' scratch table holds them (the
    amount and its split): the running totals then join to the exact cumulative amount of each
    classification and count the lines."""
    CustomerRunningTotal.objects.all().delete()
    CustomerTotalKey.objects.all().delete()
    columns = (
        "day, customer_id, partner_id, association_type, classification, currency, amount, line_count, units, hi, lo"
    )
    with connection.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS pc_test_sums")
        cur.execute(
            "CREATE TEMP TABLE pc_test_sums (day date, customer_id bigint, partner_id bigint, association_type "
            "varchar(16), classification varchar(16), currency varchar(3), amount numeric(38, 15), line_count bigint, "
            "units bigint, hi bigint, lo bigint)"
        )
        rows = []
        for (offset, k, cls), (amount, count) in sums.items():
            customer, partner, assoc, currency = keyed(org, k)
            day = FIRST + dt.timedelta(days=offset)
            # As the projections stage it: PostgreSQL numeric; SQLite text and its split beside it.
            stored = amount if connection.vendor == "postgresql" else canonical(amount)
            rows.append((day, customer, partner, assoc, cls, currency, stored, count, *split(amount)))
        cur.executemany(f"INSERT INTO pc_test_sums ({columns}) VALUES ({', '.join(['%s'] * 11)})", rows)
        running.begin()
        running.stage_sums("pc_test_sums")
        running.finish()
        cur.execute("DROP TABLE pc_test_sums")
    want = {}
    for offset, k in {(offset, k) for offset, k, _cls in sums}:
        slot = {c: Decimal(0) for c in CLASSES} | {"lines": 0}
        for (offset2, k2, cls2), (amount2, count2) in sums.items():
            if k2 == k and offset2 <= offset:
                slot[cls2] = CONTEXT.add(slot[cls2], amount2)  # 33 digits: beyond the default context
                slot["lines"] += count2
        want[(keyed(org, k), FIRST + dt.timedelta(days=offset))] = slot
    got = {
        key: {c: join(*vec[3 * i : 3 * i + 3]) for i, c in enumerate(CLASSES)} | {"lines": vec[12]}
        for key, vec in stored_by_key().items()
    }
    assert got == want


EDGES = ["0", "1", "-1", "0.5", "-0.5", "0.000000000000001", "-0.000000000000001", "1000", "-1000",
         "999999999999999999.999999999999999", "-999999999999999999.999999999999999", "-12.000000000000001"]  # fmt: skip


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL splits numeric sums in SQL")
@pytest.mark.django_db
@settings(max_examples=200, deadline=None, derandomize=True)
@given(amount=amounts)
def test_postgresql_splits_a_numeric_sum_as_split_does(amount):
    units, hi, lo = split_numeric_sql("a")
    with connection.cursor() as cur:
        for value in [amount, *map(Decimal, EDGES)]:
            cur.execute(f"SELECT {units}, {hi}, {lo} FROM (SELECT CAST(%s AS numeric(38, 15)) AS a) t", [value])
            assert tuple(cur.fetchone()) == split(value), value
