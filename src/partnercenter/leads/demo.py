"""Leads for the demo organisation: a few per partner, imported by the platform operator over the
last weeks, some dispatched to the partner's first account manager (one recalled and dispatched
again) and followed up, so the page shows every state and a history."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable

from partnercenter.accounts.models import User
from partnercenter.core import clock
from partnercenter.partners.models import Partner

from . import services

COMPANIES = (
    ("杭州青禾科技有限公司", "陈思远", "Elastic Cloud Server"),
    ("Northwind Traders", "Laura Callahan", "Object Storage Service"),
    ("苏州明远物流有限公司", "周晓燕", "Relational Database Service"),
    ("Blue Harbor Media", "Daniel Ortiz", "Content Delivery Network"),
    ("上海云帆教育科技有限公司", "李海峰", "Elastic Cloud Server"),
)
SOURCES = ("Website", "Trade fair", "Marketplace inquiry", "Webinar")
STAFF_STEPS = ("contacting", "qualified")


def _phone(rng: random.Random) -> str:
    return f"13{rng.randrange(10**9):09d}"


def load_leads(
    *, today: dt.date, operator: User, admin: Callable[[str], User], staff: Callable[[str], User | None], seed: int
) -> int:
    """Four leads per partner; returns how many were made."""
    rng = random.Random(seed + 2)
    made = 0
    for partner in Partner.objects.order_by("code"):
        picks = rng.sample(COMPANIES, 4)
        rows = [
            {
                "partner": partner.code,
                "company": company,
                "contact_name": contact,
                "phone": _phone(rng),
                "email": f"contact{rng.randrange(1000)}@example.com",
                "source": rng.choice(SOURCES),
                "product_interest": product,
            }
            for company, contact, product in picks
        ]
        start = clock.start_of_day(today - dt.timedelta(days=20)) + dt.timedelta(hours=2)
        with clock.frozen_at(start):
            leads = services.create_leads(actor=operator, rows=rows)
        made += len(leads)
        person = staff(partner.code)
        if person is not None:
            _follow_up(leads, admin(partner.code), person, start)
    return made


def _follow_up(leads: list, admin: User, person: User, start: dt.datetime) -> None:
    """Two leads dispatched, one recalled and dispatched again, the first followed up."""
    first, second = leads[0].pk, leads[1].pk
    with clock.frozen_at(start + dt.timedelta(days=1)):
        services.dispatch(actor=admin, lead_ids=[first, second, leads[2].pk], assignee=person.username)
    with clock.frozen_at(start + dt.timedelta(days=2)):
        services.recall(actor=admin, lead_ids=[leads[2].pk], note="Wrong region")
    for n, status in enumerate(STAFF_STEPS, start=3):
        with clock.frozen_at(start + dt.timedelta(days=n)):
            services.update_status(actor=person, lead_id=first, status=status)
    with clock.frozen_at(start + dt.timedelta(days=6)):
        services.update_status(actor=person, lead_id=second, status="contacting", note="First call booked")
