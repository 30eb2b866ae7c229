from django.contrib import admin

from .models import ClosedMonth, DailyRollup, Freshness, IngestBatch


@admin.register(IngestBatch)
class IngestBatchAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "source",
        "file_name",
        "format",
        "status",
        "rows_total",
        "rows_new",
        "rows_present",
        "finished_at",
    )
    list_filter = ("source", "format", "status")
    readonly_fields = [f.name for f in IngestBatch._meta.fields]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(Freshness)
class FreshnessAdmin(admin.ModelAdmin):
    list_display = ("source", "complete_until", "updated_at")


@admin.register(ClosedMonth)
class ClosedMonthAdmin(admin.ModelAdmin):
    list_display = ("partner", "month", "closed_at")


@admin.register(DailyRollup)
class DailyRollupAdmin(admin.ModelAdmin):
    list_display = ("day", "customer", "partner", "service_name", "classification", "currency", "amount", "line_count")
    list_filter = ("classification", "currency", "service_type")

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
