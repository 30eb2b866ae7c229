"""Template filters of the partner bill pages: amounts shown to the currency's minor unit (the
exact value goes in ``data-exact`` / ``title``)."""

from __future__ import annotations

from decimal import Decimal

from django import template

from partnercenter.core.money import round_minor, to_str

register = template.Library()


@register.filter
def minor(value: Decimal | None, currency: str) -> str:
    if value is None:
        return ""
    return format(round_minor(value, currency), ",f")


@register.filter
def exact(value: Decimal | None) -> str:
    return "" if value is None else to_str(value)
