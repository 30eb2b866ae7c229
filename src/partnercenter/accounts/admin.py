from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from .models import ApiToken, AuditEntry, User


@admin.register(User)
class PartnerUserAdmin(UserAdmin):
    list_display = ("username", "partner", "role", "is_staff", "is_active")
    list_filter = ("role", "is_staff", "is_active", "partner__kind")
    search_fields = ("username", "email", "partner__code")
    fieldsets = (*UserAdmin.fieldsets, ("Partner Center", {"fields": ("partner", "role", "menus")}))  # type: ignore[misc]
    add_fieldsets = (*UserAdmin.add_fieldsets, ("Partner Center", {"fields": ("partner", "role")}))


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("prefix", "user", "created_at", "expires_at", "revoked_at", "last_used_at")
    readonly_fields = ("user", "digest", "prefix", "created_at", "expires_at", "last_used_at")


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ("at", "actor", "action", "partner", "target")
    list_filter = ("action",)

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
