from django.contrib import admin

from .models import MarketplaceOrder, MarketplaceProduct, ProductLink, ServiceProvider


@admin.register(MarketplaceProduct)
class MarketplaceProductAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "service_name", "publisher", "share_rate", "active")


@admin.register(ServiceProvider)
class ServiceProviderAdmin(admin.ModelAdmin):
    list_display = ("partner", "since")


@admin.register(ProductLink)
class ProductLinkAdmin(admin.ModelAdmin):
    list_display = ("product", "partner", "token", "created_at")
    readonly_fields = ("token", "created_at")


@admin.register(MarketplaceOrder)
class MarketplaceOrderAdmin(admin.ModelAdmin):
    list_display = ("order_id", "product", "partner", "customer", "amount", "currency", "association", "received_at")

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
