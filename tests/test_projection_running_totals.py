"""Running totals maintained by ingestion (usage/running: begin, stage, finish), against a model: after any
sequence of steps, in any order of days, each key has a row for every day it was given a delta,
holding the sums of all its deltas through that day, exactly (the split integers as given, not
normalised)."""

from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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


def batch_of(deltas: dict) -> None:
    """One batch of one step: its deltas staged, then applied."""
    running.begin()
    running.stage(deltas)
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
            running.stage({(FIRST + dt.timedelta(days=offset), *keyed(org, k)): vec for (offset, k), vec in s.items()})
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
