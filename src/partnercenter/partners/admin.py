from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from . import services
from .forms import AssociationAdminForm
from .models import AccountManagerAssignment, Customer, CustomerAssociation, Partner


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "kind", "parent")
    list_filter = ("kind",)
    search_fields = ("code", "name")


class AssociationInline(admin.TabularInline):
    """History, read-only: editing a row here would move recorded charges to another partner."""

    model = CustomerAssociation
    fk_name = "customer"
    extra = 0
    fields = ("partner", "association_type", "valid_from", "valid_to")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("account_id", "name", "created_at")
    search_fields = ("account_id", "name", "email")
    inlines = [AssociationInline]


@admin.register(CustomerAssociation)
class CustomerAssociationAdmin(admin.ModelAdmin):
    """Associations are added through ``services.associate_customer`` (the rules of the API and
    CLI) and never edited or deleted: the history is what charges were attributed by."""

    list_display = ("customer", "partner", "association_type", "valid_from", "valid_to")
    list_filter = ("association_type",)
    search_fields = ("customer__account_id", "partner__code")
    autocomplete_fields = ("customer", "partner")
    add_form = AssociationAdminForm
    add_fields = ("customer", "partner", "association_type", "valid_from_day")

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.add_fields if obj is None else (*self.list_display, "created_at", "created_by")

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = self.add_form
            kwargs["fields"] = AssociationAdminForm.Meta.fields
        return super().get_form(request, obj, change, **kwargs)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        data = form.cleaned_data
        assoc = services.associate_customer(
            customer=data["customer"],
            partner=data["partner"],
            association_type=data["association_type"],
            valid_from=data["valid_from"],
            actor=request.user,  # type: ignore[arg-type]
        )
        obj.pk, obj.valid_from = assoc.pk, assoc.valid_from


@admin.register(AccountManagerAssignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ("customer", "manager", "partner", "assigned_at", "effective_from", "ended_at")
    search_fields = ("customer__account_id", "manager__username")
