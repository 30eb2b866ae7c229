from django.contrib import admin

from .models import AccountManagerAssignment, Customer, CustomerAssociation, Partner


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "kind", "parent")
    list_filter = ("kind",)
    search_fields = ("code", "name")


class AssociationInline(admin.TabularInline):
    model = CustomerAssociation
    fk_name = "customer"
    extra = 0
    fields = ("partner", "association_type", "valid_from", "valid_to")


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("account_id", "name", "created_at")
    search_fields = ("account_id", "name", "email")
    inlines = [AssociationInline]


@admin.register(CustomerAssociation)
class CustomerAssociationAdmin(admin.ModelAdmin):
    list_display = ("customer", "partner", "association_type", "valid_from", "valid_to")
    list_filter = ("association_type",)
    search_fields = ("customer__account_id", "partner__code")


@admin.register(AccountManagerAssignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ("customer", "manager", "partner", "assigned_at", "effective_from", "ended_at")
    search_fields = ("customer__account_id", "manager__username")
