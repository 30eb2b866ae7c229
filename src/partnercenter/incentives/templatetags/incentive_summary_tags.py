"""Template filters of the incentive pages."""

from __future__ import annotations

from decimal import Decimal

from django import template

from partnercenter.core.money import canonical

register = template.Library()


@register.filter
def percent(rate: Decimal | None) -> str:
    """A rate as a percentage, exactly: ``0.03`` → ``3 %``, ``0.125`` → ``12.5 %``."""
    if rate is None:
        return "—"
    return f"{canonical(rate * 100)} %"
