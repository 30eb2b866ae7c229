"""HTTP API of the alerts app."""

from ninja import Router

from partnercenter.core import menus
from partnercenter.core.decorators import router_menu

router = Router(tags=["alerts"])
router_menu(router, menus.CUSTOMER_ALERTS)
