"""Partner-user roles and the menu preset each one starts with (seed 002)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from partnercenter.core import menus


class Role(models.TextChoices):
    ADMIN = "admin", _("Admin")
    OPERATOR = "operator", _("Operator")
    ACCOUNT_MANAGER = "account_manager", _("Account manager")
    FINANCE = "finance", _("Finance")


# The admin always has every menu; the other roles start from these and an admin may grant or
# remove menus per user.
PRESETS: dict[str, frozenset[str]] = {
    Role.ADMIN: frozenset(menus.CODES),
    Role.OPERATOR: frozenset(
        {
            menus.CUSTOMER_MANAGEMENT,
            menus.CUSTOMER_EXPENDITURE,
            menus.CUSTOMER_ALERTS,
            menus.MARKETPLACE_LINKS,
            menus.EXPORTS,
        }
    ),
    # Account managers are the staff leads are dispatched to (O2) and see their customers' alerts.
    Role.ACCOUNT_MANAGER: frozenset(
        {
            menus.CUSTOMER_EXPENDITURE,
            menus.CUSTOMER_MANAGEMENT,
            menus.CUSTOMER_ALERTS,
            menus.LEAD_DISPATCH,
            menus.EXPORTS,
        }
    ),
    Role.FINANCE: frozenset(
        {
            menus.PARTNER_BILLS,
            menus.INCENTIVE_MANAGEMENT,
            menus.CUSTOMER_BILLS,
            menus.REVENUE_SHARING,
            menus.PAYMENT_CONTRACTS,
            menus.EXPORTS,
        }
    ),
}

# Menus only an admin may hold, whatever is granted.
ADMIN_ONLY = frozenset({menus.USER_MANAGEMENT})
# Roles allowed to reveal masked sensitive data (rule E5).
MAY_REVEAL_SENSITIVE = frozenset({Role.ADMIN, Role.ACCOUNT_MANAGER})
# Menus a kind of partner never gets, whatever its users' roles or grants: a referral partner
# holds only referral customers, so it has no partner bill (rule B1).
NOT_FOR_PARTNER_KIND: dict[str, frozenset[str]] = {"referral": frozenset({menus.PARTNER_BILLS})}
