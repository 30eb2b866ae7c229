"""HTTP API of the billing app; routes are added by the issue that builds it."""

from ninja import Router

from partnercenter.core import menus
from partnercenter.core.decorators import router_menu

router = Router(tags=["billing"])
router_menu(router, menus.PARTNER_BILLS)
