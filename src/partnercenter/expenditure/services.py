"""Writes for customer expenditure: the only one is the audited reveal of sensitive columns (E5)."""

from __future__ import annotations

from collections.abc import Iterable

from partnercenter.accounts.models import User
from partnercenter.core import audit, masking
from partnercenter.core.errors import Forbidden, ValidationFailed

SENSITIVE_COLUMNS = ("name", "email", "mobile")


def may_reveal(user: User) -> bool:
    return masking.may_reveal(user)


def reveal(user: User, columns: Iterable[str], *, where: str) -> frozenset[str]:
    """Record that ``user`` asked to see the full content of sensitive columns on ``where``.

    The eye toggle is an explicit request: every reveal is written to the audit log with the
    user and the time, and refused for roles that may not see sensitive data.
    """
    wanted = frozenset(c for c in columns if c)
    if not wanted:
        return wanted
    unknown = sorted(wanted - set(SENSITIVE_COLUMNS))
    if unknown:
        raise ValidationFailed(
            f"reveal: {', '.join(unknown)} cannot be revealed; the columns that can are "
            f"{', '.join(SENSITIVE_COLUMNS)}.",
            details=[{"where": "query.reveal", "why": f"unknown column {c!r}"} for c in unknown],
        )
    if not may_reveal(user):
        raise Forbidden("Your role may not see customers' sensitive data.", code="reveal_forbidden")
    audit.record(user, "sensitive.reveal", partner=user.partner, target=where, columns=sorted(wanted))
    return wanted
