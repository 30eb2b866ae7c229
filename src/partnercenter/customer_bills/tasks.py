"""Periodic work of the customer_bills app, run by ``partnercenter tick`` and the worker every
minute, after the partner bills."""

from __future__ import annotations

from . import services


def catch_up() -> services.CatchUp:
    """Generate the due customer bills that do not exist yet (idempotent)."""
    return services.catch_up()
