"""Operator screens of leads: the operator adds leads here (through the same validation and
history as the API and the CLI); dispatch, recall and status belong to the partner's console, and
the history is append-only, so neither is edited here."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from partnercenter.core.errors import ValidationFailed

from . import services
from .models import Lead, LeadEvent


class LeadForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = Lead
        fields = ("partner", "company", "contact_name", "phone", "email", "source", "product_interest")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        row = {k: v for k, v in data.items() if k != "partner"}
        row["partner"] = data["partner"].code if data.get("partner") else ""
        for problem in services.validate_rows([row]):
            field = problem["column"] if problem["column"] in self.fields else None
            self.add_error(field, str(problem["why"]))
        return data


@admin.register(Lead)
class LeadAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = LeadForm
    list_display = ("number", "partner", "company", "status", "assignee", "created_at")
    list_filter = ("status",)
    search_fields = ("number", "company", "partner__code")
    list_select_related = ("partner", "assignee")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Lead, form: Any, change: bool) -> None:
        row = {k: getattr(obj, k) for k in services.COLUMNS if k != "partner"}
        row["partner"] = obj.partner.code
        try:
            (made,) = services.create_leads(actor=request.user, rows=[row])  # type: ignore[arg-type]
        except ValidationFailed as e:  # the form already validated; a race is all that is left
            raise ValueError(e.message) from e
        obj.pk, obj.number = made.pk, made.number


@admin.register(LeadEvent)
class LeadEventAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("lead", "kind", "at", "actor", "assignee", "from_status", "to_status")
    list_filter = ("kind",)
    search_fields = ("lead__number",)
    list_select_related = ("lead", "actor", "assignee")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
