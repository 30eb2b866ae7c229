"""Operator screens of customer bills: read-only. Bills, confirmations and the credit ledger are
append-only and written by the services only (generation, confirmation, grants, reclaims)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import Confirmation, CreditAlert, CreditEntry, CustomerBill


class ReadOnly(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(CustomerBill)
class CustomerBillAdmin(ReadOnly):
    list_display = ("id", "partner", "customer", "month", "currency", "total", "line_item_count", "generated_at")
    list_filter = ("month", "currency")
    search_fields = ("customer__account_id", "partner__code")
    list_select_related = ("partner", "customer")


@admin.register(Confirmation)
class ConfirmationAdmin(ReadOnly):
    list_display = ("id", "bill", "partner", "amount", "is_full", "batch", "confirmed_at", "confirmed_by")
    search_fields = ("bill__customer__account_id", "partner__code", "batch")
    list_select_related = ("bill", "partner", "confirmed_by")


@admin.register(CreditEntry)
class CreditEntryAdmin(ReadOnly):
    list_display = (
        "id", "partner", "customer", "currency", "kind", "amount", "limit_after", "used_after", "available_after",
        "created_at", "created_by",
    )  # fmt: skip
    list_filter = ("kind", "currency")
    search_fields = ("customer__account_id", "partner__code", "remark")
    list_select_related = ("partner", "customer", "created_by")


@admin.register(CreditAlert)
class CreditAlertAdmin(ReadOnly):
    list_display = ("id", "partner", "customer", "currency", "threshold_percent", "available", "limit", "raised_at")
    list_filter = ("threshold_percent",)
    search_fields = ("customer__account_id", "partner__code")
    list_select_related = ("partner", "customer")
