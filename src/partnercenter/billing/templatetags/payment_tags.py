"""Template filters of the payment pages."""

from __future__ import annotations

from decimal import Decimal

from django import template

from partnercenter.billing.payment_services import shown

register = template.Library()


@register.filter
def money(value: Decimal | None, currency: str) -> str:
    """An amount to its currency's minor unit, as people read it (``1234.5`` CNY → ``1,234.50``)."""
    if value is None:
        return "—"
    text = shown(value, currency)
    sign = "-" if text.startswith("-") else ""
    whole, dot, frac = text.lstrip("-").partition(".")
    return f"{sign}{int(whole):,}{dot}{frac}"
