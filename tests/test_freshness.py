"""Rule E2 (day D is visible from 00:00 of D+2, billing time zone) and data freshness."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from partnercenter.core import clock
from partnercenter.usage import freshness, services
from partnercenter.usage.models import Freshness
from tests.test_usage_ingest import record

SHANGHAI = ZoneInfo("Asia/Shanghai")
UTC = dt.UTC


def shanghai(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    "instant, last_visible",
    [
        (shanghai(2026, 5, 11, 23, 59, 59), dt.date(2026, 5, 9)),
        (dt.datetime(2026, 5, 11, 15, 59, 59, tzinfo=UTC), dt.date(2026, 5, 9)),  # the same instant
        (dt.datetime(2026, 5, 11, 15, 59, 59, 999999, tzinfo=UTC), dt.date(2026, 5, 9)),
        (shanghai(2026, 5, 12, 0, 0, 0), dt.date(2026, 5, 10)),
        (dt.datetime(2026, 5, 11, 16, 0, 0, tzinfo=UTC), dt.date(2026, 5, 10)),  # the same instant
        (dt.datetime(2026, 5, 11, 23, 0, 0, tzinfo=UTC), dt.date(2026, 5, 10)),  # still the 11th in UTC
        (shanghai(2026, 3, 1, 0, 0, 0), dt.date(2026, 2, 27)),
        (shanghai(2026, 1, 1, 12, 0, 0), dt.date(2025, 12, 30)),
    ],
)
def test_e2_last_visible_day(instant, last_visible):
    assert freshness.last_visible_day(instant) == last_visible
    with clock.frozen_at(instant):
        assert freshness.last_visible_day() == last_visible
        assert freshness.is_day_visible(last_visible)
        assert not freshness.is_day_visible(last_visible + dt.timedelta(days=1))


def test_e2_day_d_becomes_visible_after_midnight_of_d_plus_1():
    day = dt.date(2026, 5, 10)
    with clock.frozen_at(shanghai(2026, 5, 11, 23, 59, 59)):
        assert not freshness.is_day_visible(day)
    with clock.frozen_at(shanghai(2026, 5, 12, 0, 0, 0)):
        assert freshness.is_day_visible(day)
    assert freshness.is_day_visible(day, shanghai(2026, 5, 12, 0, 0, 0))
    assert not freshness.is_day_visible(day, shanghai(2026, 5, 11, 23, 59, 59))


def _fresh(source: str, until: dt.datetime) -> None:
    Freshness.objects.create(source=source, complete_until=until, updated_at=until)


def test_complete_through_needs_freshness(db):
    assert freshness.complete_until() is None
    assert freshness.data_complete_through(shanghai(2026, 5, 12, 0, 0, 0)) is None


@pytest.mark.parametrize(
    "until, complete_day",
    [
        (shanghai(2026, 5, 10, 0, 0, 0), dt.date(2026, 5, 9)),  # 05-09 ended exactly then
        (dt.datetime(2026, 5, 9, 16, 0, 0, tzinfo=UTC), dt.date(2026, 5, 9)),  # the same instant
        (shanghai(2026, 5, 10, 0, 0, 1), dt.date(2026, 5, 9)),
        (shanghai(2026, 5, 9, 23, 59, 59), dt.date(2026, 5, 8)),  # 05-09 not finished
        (shanghai(2026, 5, 10, 23, 0, 0), dt.date(2026, 5, 9)),
        (shanghai(2026, 5, 11, 0, 0, 0), dt.date(2026, 5, 10)),  # complete through 05-10 = E2's limit
        (shanghai(2026, 5, 20, 0, 0, 0), dt.date(2026, 5, 10)),  # ingestion ahead: E2 governs
    ],
)
def test_data_complete_through(db, until, complete_day):
    _fresh("aws", until)
    at = shanghai(2026, 5, 12, 0, 0, 0)  # E2 allows up to 05-10
    assert freshness.complete_until() == until
    assert freshness.data_complete_through(at) == complete_day
    with clock.frozen_at(at):
        assert freshness.data_complete_through() == complete_day


def test_data_complete_through_one_second_before_midnight(db):
    _fresh("aws", shanghai(2026, 5, 20, 0, 0, 0))
    assert freshness.data_complete_through(shanghai(2026, 5, 11, 23, 59, 59)) == dt.date(2026, 5, 9)
    assert freshness.data_complete_through(shanghai(2026, 5, 12, 0, 0, 0)) == dt.date(2026, 5, 10)


def test_the_slowest_source_governs(db):
    _fresh("aws", shanghai(2026, 5, 11, 0, 0, 0))
    _fresh("tencent", shanghai(2026, 5, 9, 0, 0, 0))
    _fresh("native", shanghai(2026, 5, 10, 8, 0, 0))
    assert freshness.complete_until() == shanghai(2026, 5, 9, 0, 0, 0)
    assert freshness.data_complete_through(shanghai(2026, 5, 12, 0, 0, 0)) == dt.date(2026, 5, 8)


def test_ingestion_moves_freshness_forward_only(org):
    def ingest(line_id: str, end: str) -> None:
        rec = record(line_id, "a1", "1", "2026-03-01T00:00:00Z")
        rec["charge_period_end"] = end
        assert services.ingest_records([rec], source="feed").accepted

    ingest("late", "2026-03-05T16:00:00+00:00")
    assert Freshness.objects.get(source="feed").complete_until == dt.datetime(2026, 3, 5, 16, tzinfo=UTC)
    ingest("early", "2026-03-02T00:00:00+00:00")  # an older batch does not move it back
    assert Freshness.objects.get(source="feed").complete_until == dt.datetime(2026, 3, 5, 16, tzinfo=UTC)
    # 2026-03-05T16:00Z is 00:00 of 03-06 in Shanghai: complete through 03-05.
    assert freshness.data_complete_through(shanghai(2026, 3, 20, 0, 0, 0)) == dt.date(2026, 3, 5)
    # A rejected batch does not touch it.
    bad = record("bad", "a1", "x", "2026-03-01T00:00:00Z")
    bad["charge_period_end"] = "2026-04-01T00:00:00Z"
    assert not services.ingest_records([bad], source="feed").accepted
    assert Freshness.objects.get(source="feed").complete_until == dt.datetime(2026, 3, 5, 16, tzinfo=UTC)
