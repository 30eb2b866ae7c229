"""Periodic work of the incentives app, run by ``partnercenter tick`` and the worker every minute."""

from __future__ import annotations

from . import services


def catch_up() -> services.CatchUp:
    """Generate the due incentive periods, confirm those past their deadline, expire those past
    their validity, and refresh today's estimates (idempotent)."""
    return services.catch_up()
