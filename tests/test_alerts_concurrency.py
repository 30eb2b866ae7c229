"""Customer alerts at once (O3): parallel catch-ups raise each condition once, and parallel
handlings of one alert record one note. PostgreSQL: SQLite's BEGIN IMMEDIATE already serialises
every writer."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from partnercenter.alerts import services as svc
from partnercenter.alerts.models import CustomerAlert
from partnercenter.core.errors import DomainError
from tests.test_billing_close import DUE, ingest, on
from tests.test_billing_concurrency import _parallel
from tests.test_customer_confirm import RECORDS
from tests.test_customer_credit import close_march

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite: BEGIN IMMEDIATE serialises all writers"),
    pytest.mark.django_db(transaction=True),
]
RAISED = DUE + dt.timedelta(days=16)


def test_parallel_catch_ups_raise_each_condition_once(org):
    ingest(RECORDS, on(2, month=4))
    close_march(DUE)
    counts: list[int] = []
    assert _parallel(*(lambda: counts.append(svc.raise_due(RAISED)) for _ in range(4))) == []
    assert sum(counts) == 5
    assert CustomerAlert.objects.count() == 5


def test_parallel_handlings_record_one_note(org):
    ingest(RECORDS, on(2, month=4))
    close_march(DUE)
    svc.raise_due(RAISED)
    alert = CustomerAlert.objects.get(customer__account_id="a1")
    outcomes: list[str] = []

    def handler(user: str):
        def run() -> None:
            try:
                outcomes.append(svc.handle(actor=org.users[user], alert_id=alert.pk, note=f"by {user}").note)
            except DomainError as e:
                outcomes.append(e.code)

        return run

    users = ["sp-a-admin", "sp-a-operator", "sp-a-admin", "sp-a-operator"]
    assert _parallel(*(handler(u) for u in users)) == []
    assert sorted(o for o in outcomes if o == "already_handled") == ["already_handled"] * 3
    alert.refresh_from_db()
    assert [o for o in outcomes if o != "already_handled"] == [alert.note]
