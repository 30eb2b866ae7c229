from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from .names import person_name
from .roles import ADMIN_ONLY, NOT_FOR_PARTNER_KIND, PRESETS, Role


class User(AbstractUser):
    """A platform operator (``is_staff``) or a partner user (``partner`` and ``role`` set)."""

    partner = models.ForeignKey(
        "partners.Partner", null=True, blank=True, on_delete=models.PROTECT, related_name="users"
    )
    role = models.CharField(max_length=32, choices=Role.choices, blank=True)
    # The user's menus; empty for admins (they have every menu) and for platform operators.
    menus = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(partner__isnull=True, role="") | models.Q(partner__isnull=False) & ~models.Q(role="")
                ),
                name="user_partner_and_role_together",
            )
        ]

    def get_full_name(self) -> str:
        """The person's name as shown everywhere: ``张小明`` (surname first), ``Ann Lee``."""
        return person_name(self.first_name, self.last_name)

    @property
    def display_name(self) -> str:
        """The name, or the username for someone without one."""
        return self.get_full_name() or self.username

    @property
    def is_platform_operator(self) -> bool:
        return bool(self.is_staff and self.partner_id is None)

    @property
    def is_partner_admin(self) -> bool:
        return self.partner_id is not None and self.role == Role.ADMIN

    @property
    def is_account_manager(self) -> bool:
        return self.partner_id is not None and self.role == Role.ACCOUNT_MANAGER

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Whatever changed the password (the console, the operator admin, ``changepassword``),
        # a bearer token issued under the old one must not outlive it.
        password_changed = self._password is not None and not self._state.adding  # type: ignore[attr-defined]
        super().save(*args, **kwargs)
        if password_changed:
            from .services import revoke_tokens

            revoke_tokens(user=self, actor=None, reason="password_changed")

    def menu_codes(self) -> frozenset[str]:
        if not self.is_active:
            return frozenset()
        if self.is_platform_operator:
            return PRESETS[Role.ADMIN]
        if self.partner is None:
            return frozenset()
        codes = PRESETS[Role.ADMIN] if self.is_partner_admin else frozenset(self.menus) - ADMIN_ONLY
        return codes - NOT_FOR_PARTNER_KIND.get(self.partner.kind, frozenset())


class ApiToken(models.Model):
    """A bearer token; only its SHA-256 digest is stored."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    digest = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=12)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"


class AuditEntry(models.Model):
    """Append-only record of who did what and why (menu grants, reveals of sensitive data, …)."""

    at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(User, null=True, on_delete=models.PROTECT, related_name="+")
    action = models.CharField(max_length=64)
    partner = models.ForeignKey("partners.Partner", null=True, on_delete=models.PROTECT, related_name="+")
    target = models.CharField(max_length=200, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = _("audit entries")

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} {self.target}"
