"""The demo's leads: four per partner, some dispatched and followed up, each with its history."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from partnercenter.core import clock
from partnercenter.leads.models import Lead, LeadEvent
from partnercenter.partners.demo import build_demo
from partnercenter.partners.models import Partner

NOW = dt.datetime(2026, 3, 10, 4, 0, tzinfo=dt.UTC)


def test_demo_leads(db):
    with clock.frozen_at(NOW):
        build_demo(usage_months=1)
    partners = Partner.objects.count()
    assert Lead.objects.count() == 4 * partners
    assert Counter(Lead.objects.values_list("status", flat=True)) == Counter(
        {"new": 2 * partners, "qualified": partners, "contacting": partners}
    )
    assert Lead.objects.filter(assignee__isnull=False).count() == 2 * partners
    assert all(x.assignee.role == "account_manager" for x in Lead.objects.filter(assignee__isnull=False))
    assert Counter(LeadEvent.objects.values_list("kind", flat=True)) == Counter(
        {"created": 4 * partners, "dispatched": 3 * partners, "recalled": partners, "status_changed": 3 * partners}
    )
    assert max(LeadEvent.objects.values_list("at", flat=True)) < NOW
