"""Export tasks (rule X1): one row per export a user asked for, its state and its file."""

from __future__ import annotations

import uuid
from pathlib import Path

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class ExportFormat(models.TextChoices):
    CSV = "csv", "CSV"
    XLSX = "xlsx", "XLSX"
    PDF = "pdf", "PDF"


class ExportStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    EXPIRED = "expired", _("Expired")


ACTIVE_STATUSES = (ExportStatus.QUEUED, ExportStatus.RUNNING)


def export_root() -> Path:
    """Where export files live: ``$VAR_DIR/exports/<partner code>/<task id>.<format>``."""
    return Path(settings.VAR_DIR) / "exports"


class ExportTask(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="export_tasks")
    # The owner's partner; null for a platform operator's export.
    partner = models.ForeignKey(
        "partners.Partner", null=True, blank=True, on_delete=models.PROTECT, related_name="export_tasks"
    )
    kind = models.CharField(max_length=64)
    params = models.JSONField(default=dict, blank=True)
    format = models.CharField(max_length=8, choices=ExportFormat.choices)
    status = models.CharField(max_length=16, choices=ExportStatus.choices, default=ExportStatus.QUEUED)
    row_count = models.PositiveBigIntegerField(default=0)
    file_size = models.PositiveBigIntegerField(null=True, blank=True)
    file_name = models.CharField(max_length=200)
    # Relative to export_root(); the file exists only while status is succeeded.
    storage_path = models.CharField(max_length=300)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # sha256 of user + kind + params + format: the same request twice within seconds is one task.
    request_fingerprint = models.CharField(max_length=64)
    idempotency_key = models.CharField(max_length=200, blank=True)
    # The language the user asked in: column headers and the sheet name are written in it.
    language = models.CharField(max_length=16, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["created_by", "-created_at"], name="export_owner_recent"),
            models.Index(fields=["partner", "-created_at"], name="export_partner_recent"),
            models.Index(fields=["created_by", "request_fingerprint", "-created_at"], name="export_dedup"),
            models.Index(fields=["status", "expires_at"], name="export_status_expiry"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["created_by", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="export_idempotency_key_once_per_user",
            ),
            models.CheckConstraint(condition=Q(format__in=["csv", "xlsx", "pdf"]), name="export_format_known"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.format} ({self.status})"

    @property
    def path(self) -> Path:
        return export_root() / self.storage_path

    @property
    def part_path(self) -> Path:
        """The file while it is being written; never offered for download."""
        path = self.path
        return path.with_name(path.name + ".part")

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES
