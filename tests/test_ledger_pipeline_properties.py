"""The ledger end to end, over generated batches: FOCUS CSV files and native records, valid and
invalid, through the public ingestion services.

After every batch: a rejected one changed nothing (every usage table and the ledger version as
they were); an accepted one left line items, daily rollups and running totals equal to an
independent Decimal computation here (classification, the day in Asia/Shanghai, exact sums per
key), and ``rebuild_totals()`` then recomputes the same rollups and running totals. The charges
straddle midnight in Shanghai, include refunds (negative usage), tax and credits, amounts with 15
decimal places and at the largest accepted magnitude, and batches are sent again (nothing new).
"""

from __future__ import annotations

import csv
import datetime as dt
import tempfile
from collections import Counter, defaultdict
from decimal import Context, Decimal, Inexact
from pathlib import Path
from unittest import mock
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from partnercenter.core.money import MAX_AMOUNT
from partnercenter.usage import formats, rebuild, services
from partnercenter.usage.ingest import ledger_version
from partnercenter.usage.models import LineItem
from partnercenter.usage.pipeline import batch as pipeline_batch
from tests.test_rebuild_totals import running_values
from tests.test_usage_ingest import rollups_by_key, snapshot
from tests.test_usage_properties import ACCOUNTS, expected_class, wipe

SETTINGS = settings(
    max_examples=30, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
SHANGHAI = ZoneInfo("Asia/Shanghai")
WIDE = Context(prec=80, traps=[Inexact])
CLASSES = ("expenditure", "refund", "adjustment", "tax")
FIRST_DAY = dt.date(2026, 1, 12)  # every customer of the org fixture is associated from 2026-01-09
TINY = Decimal("1e-15")
EDGES = [MAX_AMOUNT, -MAX_AMOUNT, MAX_AMOUNT - TINY, -MAX_AMOUNT + TINY, TINY, -TINY, Decimal("0.000000000000000")]

amounts = st.one_of(
    st.integers(0, 15).flatmap(
        lambda places: st.decimals(
            min_value=-MAX_AMOUNT, max_value=MAX_AMOUNT, places=places, allow_nan=False, allow_infinity=False
        )
    ),
    st.sampled_from(EDGES),
)
# 15:59:59Z is 23:59:59 in Shanghai, 16:00:00Z the next day's midnight.
instants = st.tuples(
    st.integers(0, 20),
    st.one_of(
        st.sampled_from([(15, 59, 59), (16, 0, 0)]),
        st.tuples(st.integers(0, 23), st.integers(0, 59), st.integers(0, 59)),
    ),  # fmt: skip
).map(lambda t: dt.datetime.combine(FIRST_DAY + dt.timedelta(days=t[0]), dt.time(*t[1]), dt.UTC))


@st.composite
def charge(draw) -> dict:
    start = draw(instants)
    return {
        "account": draw(st.sampled_from(ACCOUNTS)),
        "billed_cost": draw(amounts),
        "currency": draw(st.sampled_from(("USD", "CNY"))),
        "category": draw(st.sampled_from(("Usage", "Usage", "Purchase", "Tax", "Credit", "Adjustment"))),
        "start": start,
        "end": start + dt.timedelta(hours=draw(st.integers(0, 30))),
        "service_name": draw(st.sampled_from(("ECS", "COS", ""))),
        "region_id": draw(st.sampled_from(("ap-shanghai", ""))),
        "project": draw(st.sampled_from(("", "alpha"))),
        "billing_mode": draw(st.sampled_from(("pay_per_use", "prepaid_monthly"))),
        "service_type": draw(st.sampled_from(("cloud", "marketplace"))),
    }


# One invalid value (by logical field) that rejects the whole batch.
BAD = [
    ("billed_cost", "12.3.4"),
    ("billed_cost", "NaN"),
    ("billed_cost", "1.0000000000000001"),  # 16 places
    ("billed_cost", "1000000000000.000000000000001"),  # just beyond the accepted range
    ("billed_cost", ""),
    ("account", "no-such-customer"),
    ("start", "2026-13-01T00:00:00Z"),
    ("start", "2026-02-01T00:00:00"),  # no time zone
    ("category", "usage"),
    ("currency", "XYZ"),
]


@st.composite
def batch(draw) -> dict:
    return {
        "fmt": draw(st.sampled_from(formats.FORMATS)),
        "charges": draw(st.lists(charge(), min_size=1, max_size=8)),
        "bad": draw(st.none() | st.tuples(st.sampled_from(BAD), st.integers(0, 8))),
        "again": draw(st.booleans()),  # sent a second time right after
    }


def _texts(c: dict) -> dict[str, str]:
    """A charge as the text of its logical fields."""
    return {
        **{k: v for k, v in c.items() if isinstance(v, str)},
        "billed_cost": format(c["billed_cost"], "f"),
        "start": c["start"].isoformat().replace("+00:00", "Z"),
        "end": c["end"].isoformat().replace("+00:00", "Z"),
    }


def _send(fmt: str, rows: list[dict[str, str]], folder: Path, name: str) -> services.Report:
    if fmt == formats.NATIVE:
        records = [{formats.column_name(fmt, k): v for k, v in r.items()} for r in rows]
        return services.ingest_records(records, source="prop")
    path = folder / f"{name}.csv"
    fields = list(rows[0])
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow([formats.column_name(fmt, k) for k in fields])
        w.writerows([[r[k] for k in fields] for r in rows])
    return services.ingest_path(path, fmt=formats.FOCUS, source="prop")


class Model:
    """The ledger as this test computes it: the accepted charges, and what they must sum to."""

    def __init__(self, org) -> None:
        self.charges: list[dict] = []
        self.assoc = {}
        for account, customer in org.customers.items():
            a = customer.associations.get()
            self.assoc[account] = (customer.pk, a.partner_id, a.association_type)

    def line_items(self) -> Counter:
        return Counter(self._line(c) for c in self.charges)

    def _line(self, c: dict) -> tuple:
        customer, partner, assoc = self.assoc[c["account"]]
        day = c["start"].astimezone(SHANGHAI).date()
        cls = expected_class(c["category"], c["billed_cost"])
        return (day, customer, partner, assoc, c["service_name"], c["service_type"], c["region_id"], c["project"],
                c["billing_mode"], cls, c["currency"], c["billed_cost"])  # fmt: skip

    def rollups(self) -> dict[tuple, tuple[Decimal, int]]:
        sums: dict[tuple, list] = defaultdict(lambda: [Decimal(0), 0])
        for line in map(self._line, self.charges):
            slot = sums[line[:-1]]
            slot[0] = WIDE.add(slot[0], line[-1])
            slot[1] += 1
        return {k: (v[0], v[1]) for k, v in sums.items()}

    def running(self) -> dict[tuple, tuple]:
        """Per (customer, partner, association type, currency) and day with charges: the totals per
        classification of every charge on or before that day, and their count."""
        daily: dict[tuple, dict[dt.date, list]] = defaultdict(dict)
        for line in map(self._line, self.charges):
            day, customer, partner, assoc, cls, currency, billed = *line[:4], line[9], line[10], line[11]
            slot = daily[(customer, partner, assoc, currency)].setdefault(day, [Decimal(0)] * 4 + [0])
            i = CLASSES.index(cls)
            slot[i] = WIDE.add(slot[i], billed)
            slot[4] += 1
        out = {}
        for key, days in daily.items():
            acc = [Decimal(0)] * 4 + [0]
            for day in sorted(days):
                acc = [WIDE.add(a, b) for a, b in zip(acc[:4], days[day][:4], strict=True)] + [acc[4] + days[day][4]]
                out[(*key, day)] = tuple(acc)
        return out


def stored_line_items() -> Counter:
    return Counter(
        LineItem.objects.values_list(
            "charge_day", "customer_id", "partner_id", "association_type", "service_name", "service_type",
            "region_id", "x_project", "x_billing_mode", "classification", "billing_currency", "billed_cost",
        )
    )  # fmt: skip


def _check_accepted(model: Model) -> None:
    assert stored_line_items() == model.line_items()
    derived = (rollups_by_key(), running_values())
    assert derived == (model.rollups(), model.running())
    lines = stored_line_items()
    assert rebuild.rebuild_totals() == {"daily_rollups": len(derived[0]), "customer_totals": len(derived[1])}
    assert (rollups_by_key(), running_values()) == derived
    assert stored_line_items() == lines


@SETTINGS
@given(batches=st.lists(batch(), min_size=1, max_size=3), steps=st.sampled_from([1, 2, 100_000]))
def test_batches_leave_the_ledger_equal_to_decimal_sums_and_to_a_rebuild(org, batches, steps):
    """``steps``: rows written at a time and rollup keys held before the projections take them
    (a batch's sums then reach them in several steps, one customer's day in more than one)."""
    init = pipeline_batch.Chunks.__init__

    def chunks_of(self, report, w, batch_id, layout, size):  # type: ignore[no-untyped-def]
        init(self, report, w, batch_id, layout, min(size, steps))

    with (
        mock.patch.object(pipeline_batch, "ROLLUP_FLUSH", steps),
        mock.patch.object(pipeline_batch.Chunks, "__init__", chunks_of),
    ):
        _batches_leave_the_ledger_equal(org, batches)


def _batches_leave_the_ledger_equal(org, batches):
    wipe()
    model = Model(org)
    with tempfile.TemporaryDirectory() as tmp:
        for n, b in enumerate(batches):
            fmt = b["fmt"]
            rows = [_texts(c) for c in b["charges"]]
            for i, r in enumerate(rows):
                # Distinct rows: a native line id, or a FOCUS column that enters the row's identity.
                r["line_id" if fmt == formats.NATIVE else "resource_id"] = f"b{n}-{i}"
            if b["bad"] is not None:
                (field, value), at = b["bad"]
                at = min(at, len(rows) - 1)
                rows[at] = {**rows[at], field: value}
            before, version = snapshot(), ledger_version()
            report = _send(fmt, rows, Path(tmp), f"batch-{n}")
            if b["bad"] is not None:
                assert not report.accepted
                assert report.error_count == 1
                first_row = 1 if fmt == formats.NATIVE else 2
                assert (report.errors[0].row, report.errors[0].column) == (
                    at + first_row,
                    formats.column_name(fmt, field),
                )
                assert (snapshot(), ledger_version()) == (before, version)
                event(f"{fmt} batch rejected")
                continue
            assert report.accepted, report.errors
            assert (report.rows_new, report.rows_present) == (len(rows), 0)
            model.charges += b["charges"]
            event(f"{fmt} batch accepted")
            _check_accepted(model)
            if b["again"]:
                again = _send(fmt, rows, Path(tmp), f"batch-{n}")
                assert again.accepted, again.errors
                assert (again.rows_new, again.rows_present, again.totals) == (0, len(rows), {})
                event("batch sent again")
                _check_accepted(model)
