"""Periodic work of the billing app, run by ``partnercenter tick`` and the worker every minute."""

from __future__ import annotations

from . import services


def catch_up() -> services.CatchUp:
    """Generate the due bills that do not exist yet and refresh today's estimate (idempotent)."""
    return services.catch_up()
