"""HTTP API of the customer_bills app; routes are added by the issue that builds it."""

from ninja import Router

router = Router(tags=["customer_bills"])
