"""The demo sign-ins printed by `make run` (and listed in the README)."""

from __future__ import annotations

from django.conf import settings


def signin_table() -> str:
    from partnercenter.accounts.models import User

    lines = [f"Demo sign-ins (password for all: {settings.DEMO_PASSWORD!r}):"]
    for u in User.objects.select_related("partner").order_by("partner__code", "role", "username"):
        where = f"{u.partner.code} ({u.partner.get_kind_display()})" if u.partner else "platform operator"
        role = u.get_role_display() if u.role else "operator (staff)"
        lines.append(f"  {u.username:<32} {role:<18} {where}")
    return "\n".join(lines) + "\n"
