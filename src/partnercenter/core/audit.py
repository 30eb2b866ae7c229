"""Who did what, and why: one helper every service uses to append to the audit log."""

from __future__ import annotations

from typing import Any

from partnercenter.core import clock


def record(actor: Any, action: str, *, partner: Any = None, target: str = "", **detail: Any) -> None:
    from partnercenter.accounts.models import AuditEntry

    AuditEntry.objects.create(
        at=clock.now(),
        actor=actor if getattr(actor, "pk", None) else None,
        action=action,
        partner=partner,
        target=target,
        detail=detail,
    )
