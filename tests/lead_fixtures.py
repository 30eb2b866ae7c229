"""Leads for the tests: a few per partner, imported as the platform operator would."""

from __future__ import annotations

import pytest

from partnercenter.accounts import services as account_services
from partnercenter.core import clock, menus
from partnercenter.leads import services as svc
from partnercenter.leads.models import Lead, LeadEvent, LeadRequest
from tests.conftest import T0


def row(partner: str, company: str, contact: str = "王小明", **kw: str) -> dict[str, str]:
    base = {
        "partner": partner,
        "company": company,
        "contact_name": contact,
        "phone": "13912345678",
        "email": "wang.xiaoming@example.com",
        "source": "Website",
        "product_interest": "Elastic Cloud Server",
    }
    return {**base, **kw}


@pytest.fixture
def leads(org):
    """sp-a: three leads, sp-b: one. The sp-a operator is granted the Lead Dispatch menu."""
    with clock.frozen_at(T0):
        made = svc.create_leads(
            actor=org.users["op"],
            rows=[
                row("sp-a", "Acme Trading"),
                row("sp-a", "Blue River Foods", "Alice Smith", email="alice@blueriver.example"),
                row("sp-a", "Cedar Logistics", product_interest="Object Storage"),
                row("sp-b", "Delta Retail"),
            ],
        )
    account_services.set_menus(
        actor=org.users["sp-a-admin"],
        user=org.users["sp-a-operator"],
        menu_codes=[*org.users["sp-a-operator"].menu_codes(), menus.LEAD_DISPATCH],
    )
    return {x.company: x for x in made}


def snapshot() -> tuple:
    """Everything a refused write must leave as it was."""
    return (
        list(Lead.objects.order_by("pk").values_list("pk", "status", "assignee_id", "dispatched_at")),
        list(LeadEvent.objects.order_by("pk").values_list("pk", "kind")),
        LeadRequest.objects.count(),
    )
