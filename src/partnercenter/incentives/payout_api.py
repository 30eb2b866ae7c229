"""Routes added by the issue that builds them."""

from ninja import Router

from partnercenter.core import menus
from partnercenter.core.decorators import router_menu

router = Router(tags=["incentives"])
router_menu(router, menus.INCENTIVE_MANAGEMENT)
