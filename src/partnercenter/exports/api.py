"""HTTP API of the exports app; routes are added by the issue that builds it."""

from ninja import Router

router = Router(tags=["exports"])
