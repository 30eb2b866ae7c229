"""HTTP API of the contracts app."""

from ninja import Router

from partnercenter.core import menus
from partnercenter.core.decorators import router_menu

router = Router(tags=["contracts"])
router_menu(router, menus.PAYMENT_CONTRACTS)
