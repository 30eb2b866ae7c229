"""Periodic work of the incentives app, run by ``partnercenter tick`` and the worker every minute."""

from __future__ import annotations

from . import services


def catch_up() -> services.CatchUp:
    """Generate the due incentive periods not generated yet and refresh today's estimates
    (idempotent)."""
    return services.catch_up()
