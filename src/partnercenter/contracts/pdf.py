"""The PDF of an issued payment contract (O6, X3), drawn with WeasyPrint like the bill documents
(:mod:`partnercenter.billing.pdf`): Noto Sans CJK through fontconfig so Chinese and English names
render and extract as text, nothing fetched while rendering. The amount is printed to the
currency's minor unit, which it never exceeds (the request refuses more places)."""

from __future__ import annotations

from typing import Any, NoReturn

from django.template.loader import render_to_string

from partnercenter.core import clock, money

from . import selectors
from .models import PaymentContract


class ExternalResourceRefused(Exception):
    pass


def _refuse_fetch(url: str, *args: Any, **kwargs: Any) -> NoReturn:
    raise ExternalResourceRefused(f"a contract document loads nothing from outside ({url})")


def render_contract(contract: PaymentContract) -> bytes:
    """The issued contract as a PDF; NotFound while it is not issued."""
    event = selectors.issued_event(contract)
    context = {
        "contract": contract,
        "partner": contract.partner,
        "amount_text": f"{money.round_minor(contract.amount, contract.currency):,}",
        "terms": event.terms,
        "issued_on": clock.billing_date(event.at),
        "requested_on": clock.billing_date(contract.requested_at),
    }
    # Imported here: WeasyPrint loads pango when imported, which only the documents need.
    from weasyprint import HTML

    html = render_to_string("contracts/pdf/contract.html", context)
    return bytes(HTML(string=html, base_url=None, url_fetcher=_refuse_fetch).write_pdf())
