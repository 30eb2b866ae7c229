"""The menu catalogue: the console navigation of the seeds, and the unit of menu permission.

A partner user's role is a preset of these menus; a partner admin may grant or remove menus
per user (seed 002). Operators without a menu neither see it nor reach it by URL.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Menu:
    code: str
    label: str | Promise
    group: str | Promise
    url_name: str


CUSTOMER_EXPENDITURE = "customer_expenditure"
CUSTOMER_MANAGEMENT = "customer_management"
CUSTOMER_ASSIGNMENT = "customer_assignment"
CUSTOMER_ALERTS = "customer_alerts"
LEAD_DISPATCH = "lead_dispatch"
MARKETPLACE_LINKS = "marketplace_links"
REVENUE_SHARING = "revenue_sharing"
PAYMENT_CONTRACTS = "payment_contracts"
PARTNER_BILLS = "partner_bills"
INCENTIVE_MANAGEMENT = "incentive_management"
CUSTOMER_BILLS = "customer_bills"
EXPORTS = "exports"
USER_MANAGEMENT = "user_management"

SALES_CUSTOMERS = _("Sales › Customers")
SALES_EXPANSION = _("Sales › Expansion")
SALES_MARKETPLACE = _("Sales › Marketplace")
SALES_FINANCE = _("Sales › Financial Information")
SALES_INCENTIVES = _("Sales › Incentives")
CUSTOMER_BUSINESS = _("Customer Business")
EXPORTS_GROUP = _("Exports")
SETTINGS_GROUP = _("Settings")

CATALOGUE: tuple[Menu, ...] = (
    Menu(CUSTOMER_EXPENDITURE, _("Customer Expenditure"), SALES_CUSTOMERS, "expenditure:index"),
    Menu(CUSTOMER_MANAGEMENT, _("Customer Management"), SALES_CUSTOMERS, "partners:customers"),
    Menu(CUSTOMER_ASSIGNMENT, _("Customer Assignment"), SALES_CUSTOMERS, "partners:assignment"),
    Menu(CUSTOMER_ALERTS, _("Customer Alerts"), SALES_CUSTOMERS, "alerts:index"),
    Menu(LEAD_DISPATCH, _("Lead Dispatch"), SALES_EXPANSION, "leads:index"),
    Menu(MARKETPLACE_LINKS, _("Share Product Link"), SALES_MARKETPLACE, "marketplace:index"),
    Menu(REVENUE_SHARING, _("Revenue Sharing"), SALES_MARKETPLACE, "marketplace:revenue"),
    Menu(PARTNER_BILLS, _("Partner Bills"), SALES_FINANCE, "billing:index"),
    Menu(PAYMENT_CONTRACTS, _("Payment Contracts"), SALES_FINANCE, "contracts:index"),
    Menu(INCENTIVE_MANAGEMENT, _("Incentive Management"), SALES_INCENTIVES, "incentives:index"),
    Menu(CUSTOMER_BILLS, _("Customer Bills"), CUSTOMER_BUSINESS, "customer_bills:index"),
    Menu(EXPORTS, _("Export History"), EXPORTS_GROUP, "exports:index"),
    Menu(USER_MANAGEMENT, _("Users and Permissions"), SETTINGS_GROUP, "accounts:users"),
)
BY_CODE = {m.code: m for m in CATALOGUE}
CODES = tuple(BY_CODE)

# What an API route declares instead of a menu when no menu gates it (``core/decorators.api_menu``):
# any signed-in user (their own tokens, ``/me``, the partners in their scope) …
API_SIGNED_IN = "signed_in"
# … platform operators only (their console is the operator admin, which has no partner menu) …
API_PLATFORM_OPERATOR = "platform_operator"
# … or the menu of the export kind named in the request, checked by ``exports.services.create_export``
# exactly as the console's export form is.
API_EXPORT_KIND = "export_kind"
API_DECLARATIONS = frozenset({*CODES, API_SIGNED_IN, API_PLATFORM_OPERATOR, API_EXPORT_KIND})
