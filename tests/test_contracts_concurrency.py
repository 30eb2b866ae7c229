"""Payment contracts under concurrency (O6): requests of several partners at once get distinct
numbers without gaps, a repeated Idempotency-Key makes one contract, and an issue racing a
rejection leaves exactly one of them. PostgreSQL: SQLite's BEGIN IMMEDIATE serialises writers."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from partnercenter.contracts import selectors, services
from partnercenter.contracts.models import ContractEvent, PaymentContract
from partnercenter.core import clock
from partnercenter.core.errors import Conflict
from tests.test_billing_concurrency import _parallel

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite: BEGIN IMMEDIATE serialises all writers"),
    pytest.mark.django_db(transaction=True),
]
AT = dt.datetime(2026, 3, 10, 4, 0, tzinfo=dt.UTC)


def _request(org, username: str, key: str = ""):
    def job():
        return services.request_contract(
            actor=org.users[username], amount="10", currency="CNY", purpose="p", idempotency_key=key
        )

    return job


def test_requests_at_once_get_distinct_numbers_and_one_key_one_contract(org):
    with clock.frozen_at(AT):
        users = ["sp-a-finance", "sp-b-finance", "dist-finance", "sub1-finance"]
        errors = _parallel(
            *[_request(org, u) for u in users], _request(org, "sp-a-admin", "k"), _request(org, "sp-a-admin", "k")
        )
    assert errors == []
    numbers = sorted(PaymentContract.objects.values_list("number", flat=True))
    assert numbers == [f"PC-202603-{n:06d}" for n in range(1, 6)]
    assert PaymentContract.objects.filter(idempotency_key="k").count() == 1


def test_issue_racing_a_rejection_leaves_one(org):
    with clock.frozen_at(AT):
        c = services.request_contract(actor=org.users["sp-a-finance"], amount="1", currency="CNY", purpose="p")
        services.start_processing(actor=org.users["op"], number=c.number)
        op = org.users["op"]
        errors = _parallel(
            lambda: services.issue(actor=op, number=c.number, terms="t"),
            lambda: services.reject(actor=op, number=c.number, reason="r"),
        )
    assert len(errors) == 1 and isinstance(errors[0], Conflict)
    assert ContractEvent.objects.filter(contract=c).count() == 3
    assert selectors.get_contract(op, c.number).state in ("issued", "rejected")
