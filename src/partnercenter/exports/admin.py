from django.contrib import admin

from .models import ExportTask


@admin.register(ExportTask)
class ExportTaskAdmin(admin.ModelAdmin):
    list_display = ("created_at", "kind", "format", "status", "created_by", "partner", "row_count", "file_size")
    list_filter = ("status", "format", "kind")
    search_fields = ("id", "created_by__username", "partner__code", "file_name")
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in ExportTask._meta.fields]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False
