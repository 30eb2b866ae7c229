"""The Bill by Instance rows of a month are written as computed, value for value (exact amounts
of 27 digits, 15 places, negatives, dates), and a rebuild replaces them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from partnercenter.usage import services as usage_services
from partnercenter.usage.models import ResourceMonth, ResourceMonthBuild
from tests.test_customer_bills_downloads_text import SHANGHAI, varied  # noqa: F401 - the fixture

MARCH = dt.date(2026, 3, 1)
AFTER = dt.datetime(2026, 4, 10, 10, 0, tzinfo=SHANGHAI)
FIELDS = [f.attname for f in ResourceMonth._meta.concrete_fields if f.attname != "id"]


def _key(values: dict) -> tuple:
    return tuple(
        values[k] for k in ("customer_id", "currency", "service_name", "x_project", "region_id", "resource_id")
    )


def test_the_rows_written_are_the_rows_computed(varied):  # noqa: F811
    through = usage_services.resource_month_through_day(MARCH, AFTER)
    computed = usage_services._resource_month_rows(MARCH, usage_services._resource_month_groups(MARCH, through))
    want = sorted(({name: getattr(r, name) for name in FIELDS} for r in computed), key=_key)
    build = usage_services.build_resource_months(MARCH, at=AFTER)
    got = sorted(ResourceMonth.objects.filter(month=MARCH).values(*FIELDS), key=_key)
    assert got == want and build.rows == len(want) > 100
    amounts = {r["amount"] for r in got}
    assert any(a < 0 for a in amounts) and any(len(a.as_tuple().digits) > 25 for a in amounts)
    assert all(isinstance(r["first_day"], dt.date) and isinstance(r["refund"], Decimal) for r in got)
    # A rebuild replaces the month's rows, never adds to them.
    usage_services.build_resource_months(MARCH, at=AFTER + dt.timedelta(hours=1))
    assert ResourceMonth.objects.filter(month=MARCH).count() == len(want)
    assert ResourceMonthBuild.objects.get(month=MARCH).rows == len(want)
