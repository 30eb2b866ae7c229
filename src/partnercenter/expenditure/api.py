"""HTTP API of the expenditure app; routes are added by the issue that builds it."""

from ninja import Router

router = Router(tags=["expenditure"])
