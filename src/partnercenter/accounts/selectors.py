"""Reads for users and tokens."""

from __future__ import annotations

from django.db.models import QuerySet

from partnercenter import scoping

from .models import User


def manageable_users(actor: User) -> QuerySet[User]:
    """Users whose menus ``actor`` may edit: an admin's own partner's users."""
    if actor.is_platform_operator:
        return User.objects.filter(partner__isnull=False).select_related("partner").order_by("partner__code", "username")
    if actor.is_partner_admin:
        return scoping.partner_users_for(actor, scoping.Purpose.ACT).order_by("username")
    return User.objects.none()
