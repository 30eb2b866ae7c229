"""HTTP API of the operations app; routes are added by the issue that builds it."""

from ninja import Router

router = Router(tags=["operations"])
