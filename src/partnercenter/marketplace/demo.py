"""The demo's marketplace (O5): the marketplace products of ``usage.demo.PRODUCTS`` published by a
demo partner with a platform share rate, and enrolled customer service providers with a link."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from partnercenter.accounts.models import User
from partnercenter.core import clock
from partnercenter.usage.demo import PRODUCTS

from . import services

PUBLISHER = "bluesky-sp"
PROVIDERS = ("bluesky-sp", "yunfan-sp")
SHARE_RATES = {"waf": Decimal("0.2"), "bi": Decimal("0.15")}


@dataclass(frozen=True)
class Made:
    products: int
    providers: int


def load_marketplace(*, since: dt.date, link_by: User | None = None) -> Made:
    """Products and enrolments from ``since`` (the first demo month); ``link_by`` (a user of the
    first provider) gets a link of the first product."""
    made = 0
    with clock.frozen_at(clock.start_of_day(since)):
        for p in PRODUCTS:
            if not p.publisher:
                continue
            services.create_product(
                code=p.code,
                name=p.name,
                service_name=p.name,
                share_rate=SHARE_RATES.get(p.code, Decimal("0.1")),
                publisher_code=PUBLISHER,
            )
            made += 1
        for code in PROVIDERS:
            services.enrol_provider(code)
        if link_by is not None and made:
            services.share_link(link_by, next(p.code for p in PRODUCTS if p.publisher))
    return Made(products=made, providers=len(PROVIDERS))
