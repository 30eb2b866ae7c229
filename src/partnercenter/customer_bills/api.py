"""HTTP API of the customer_bills app; routes are added by the issue that builds it."""

from ninja import Router

from partnercenter.core import menus
from partnercenter.core.decorators import router_menu

router = Router(tags=["customer_bills"])
router_menu(router, menus.CUSTOMER_BILLS)
