"""The marketplace of the tests (O5), built on conftest's ``org``: products published by `sp-a`
(`waf`, `bi`) and `sp-b` (`scan`); `sp-b` and `dist` enrolled as customer service providers."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from partnercenter.core import clock
from partnercenter.marketplace import services as svc
from partnercenter.marketplace.models import MarketplaceProduct

SINCE = dt.datetime(2026, 1, 20, 2, 0, tzinfo=dt.UTC)


@dataclass
class Market:
    products: dict[str, MarketplaceProduct]


def make_market(org) -> Market:
    products = {}
    with clock.frozen_at(SINCE):
        for code, name, publisher, rate in [
            ("waf", "SecureWAF Pro", "sp-a", "0.2"),
            ("bi", "DataViz BI", "sp-a", "0.15"),
            ("scan", "Security Scan", "sp-b", "0.333"),
        ]:
            products[code] = svc.create_product(
                code=code, name=name, service_name=name, share_rate=Decimal(rate), publisher_code=publisher
            )
        svc.enrol_provider("sp-b")
        svc.enrol_provider("dist")
    return Market(products)
