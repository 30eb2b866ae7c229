"""Parallel writes of one lead (O2): two recalls at once take it back once; dispatches racing a
recall leave a history that matches the lead. PostgreSQL: SQLite's BEGIN IMMEDIATE already
serialises every writer."""

from __future__ import annotations

import pytest
from django.db import connection

from partnercenter.core.errors import DomainError
from partnercenter.leads import services as svc
from partnercenter.leads.models import Lead, LeadEvent
from tests.lead_fixtures import leads  # noqa: F401
from tests.test_billing_concurrency import _parallel

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite: BEGIN IMMEDIATE serialises all writers"),
    pytest.mark.django_db(transaction=True),
]


def attempt(outcomes: list[str], job):  # noqa: ANN001, ANN201
    def run() -> None:
        try:
            job()
            outcomes.append("ok")
        except DomainError as e:
            outcomes.append(e.code)

    return run


def test_parallel_recalls_take_a_lead_back_once(org, leads):  # noqa: F811
    admin = org.users["sp-a-admin"]
    pk = leads["Acme Trading"].pk
    svc.dispatch(actor=admin, lead_ids=[pk], assignee="sp-a-account_manager")
    outcomes: list[str] = []
    jobs = [attempt(outcomes, lambda: svc.recall(actor=admin, lead_ids=[pk])) for _ in range(6)]
    assert _parallel(*jobs) == []
    assert sorted(outcomes) == ["not_dispatchable"] * 5 + ["ok"]
    assert LeadEvent.objects.filter(lead_id=pk, kind="recalled").count() == 1
    assert Lead.objects.get(pk=pk).assignee_id is None


def test_parallel_batches_to_one_person_dispatch_each_lead_once(org, leads):  # noqa: F811
    admin, operator = org.users["sp-a-admin"], org.users["sp-a-operator"]
    ids = [leads["Acme Trading"].pk, leads["Cedar Logistics"].pk]
    outcomes: list[str] = []

    def batch(actor):  # noqa: ANN001, ANN202
        return lambda: svc.dispatch(actor=actor, lead_ids=ids, assignee="sp-a-account_manager")

    assert _parallel(attempt(outcomes, batch(admin)), attempt(outcomes, batch(operator))) == []
    assert sorted(outcomes) == ["not_dispatchable", "ok"]
    assert LeadEvent.objects.filter(lead_id__in=ids, kind="dispatched").count() == 2
