"""HTTP API of the usage app; routes are added by the issue that builds it."""

from ninja import Router

router = Router(tags=["usage"])
