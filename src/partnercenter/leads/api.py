"""HTTP API of the leads app."""

from ninja import Router

from partnercenter.core import menus
from partnercenter.core.decorators import router_menu

router = Router(tags=["leads"])
router_menu(router, menus.LEAD_DISPATCH)
