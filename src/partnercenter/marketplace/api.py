"""HTTP API of the marketplace app."""

from ninja import Router

from partnercenter.core import menus
from partnercenter.core.decorators import router_menu

router = Router(tags=["marketplace"])
router_menu(router, menus.MARKETPLACE_LINKS)
