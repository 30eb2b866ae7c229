"""API routes of export tasks (rule X1): create, list, one task, download.

Visibility and download rights are those of :mod:`.selectors`; a task the caller may not see
answers 404 exactly like one that does not exist.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import FileResponse, HttpRequest
from django.urls import reverse
from django.utils.translation import gettext
from ninja import Field, Query, Router, Schema, Status

from partnercenter.accounts.api import current_user
from partnercenter.accounts.schemas import ErrorOut
from partnercenter.core import menus
from partnercenter.core.decorators import api_menu, router_menu
from partnercenter.core.pagination import IdempotencyKey, offset_field

from . import registry, selectors, services
from .models import ExportStatus, ExportTask
from .writers import CONTENT_TYPES

router = Router(tags=["exports"])
router_menu(router, menus.EXPORTS)

ERRORS: dict[int, type[ErrorOut]] = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}


class ExportIn(Schema):
    kind: str = Field(..., max_length=64, description="An export kind, e.g. `expenditure_summary`.")
    format: str = Field(
        "xlsx", description="`xlsx` or `csv` for tables, `pdf` for documents (the export kind says which)."
    )
    params: dict[str, Any] = Field(default_factory=dict, description="The search options of the export.")


class ExportOut(Schema):
    id: str
    kind: str
    kind_label: str
    format: str
    status: str
    params: dict[str, Any]
    search_options: str = Field(description="The search options for people, in the caller's language.")
    row_count: int
    file_size: int | None
    file_name: str
    error: str
    created_by: str
    partner: str | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    expires_at: dt.datetime | None
    download_url: str | None


class ExportPage(Schema):
    total: int
    limit: int
    offset: int
    items: list[ExportOut]


class ExportQuery(Schema):
    limit: int = Field(20, ge=1, le=200)
    offset: int = offset_field()
    status: ExportStatus | None = None


def export_out(task: ExportTask) -> ExportOut:
    kind = registry.find(task.kind)
    return ExportOut(
        id=str(task.pk),
        kind=task.kind,
        kind_label=str(kind.label) if kind else task.kind,
        format=task.format,
        status=task.status,
        params=task.params,
        search_options=registry.describe_params(task.kind, task.params),
        row_count=task.row_count,
        file_size=task.file_size,
        file_name=task.file_name,
        error=gettext(task.error) if task.error else "",
        created_by=task.created_by.username,
        partner=task.partner.code if task.partner else None,
        created_at=task.created_at,
        started_at=task.started_at,
        finished_at=task.finished_at,
        expires_at=task.expires_at,
        download_url=reverse("api:export_download", args=[str(task.pk)])
        if task.status == ExportStatus.SUCCEEDED
        else None,
    )


@router.post(
    "",
    response={202: ExportOut, 409: ErrorOut, **ERRORS},
    summary="Create an export task",
    description=(
        "Answers at once with the queued task; the file is written in the background. Needs the menu of "
        "the export kind (403 `menu_forbidden`). Everything is checked before the task is queued: an "
        "unknown kind or format, or search options of the wrong type, an unknown value, an inverted date "
        "range or an unknown option, are 422 with `details` naming each field (`params.start`, …); options "
        "that match nothing are 422 `nothing_to_export`.\n\n"
        "The same request by the same user within 10 seconds (a double click) answers the first task. "
        "With an `Idempotency-Key` header the same key always answers the same task; the same key with "
        "a different body is 409 `idempotency_key_reused`."
    ),
)
@api_menu(menus.API_EXPORT_KIND)
def create_export(request: HttpRequest, body: ExportIn, idempotency_key: IdempotencyKey = None) -> Status[ExportOut]:
    user = current_user(request)
    task, _created = services.create_export(
        user, body.kind, body.params, body.format, idempotency_key=idempotency_key or ""
    )
    return Status(202, export_out(task))


@router.get(
    "",
    response={200: ExportPage, **ERRORS},
    summary="Export history",
    description="The caller's export tasks, newest first (a partner admin: all of the partner's). "
    "Needs the exports menu.",
)
def list_exports(request: HttpRequest, filters: Query[ExportQuery]) -> ExportPage:
    user = current_user(request)
    qs = selectors.visible_tasks(user)
    services.refresh(qs)
    if filters.status:
        qs = qs.filter(status=filters.status)
    total = qs.count()
    rows = qs[filters.offset : filters.offset + filters.limit]
    return ExportPage(total=total, limit=filters.limit, offset=filters.offset, items=[export_out(t) for t in rows])


@router.get("/{task_id}", response={200: ExportOut, **ERRORS}, summary="One export task")
def get_export(request: HttpRequest, task_id: str) -> ExportOut:
    user = current_user(request)
    task = selectors.get_task(user, task_id)
    services.refresh(selectors.visible_tasks(user).filter(pk=task.pk))
    task.refresh_from_db()
    return export_out(task)


@router.get(
    "/{task_id}/download",
    response={200: None, **ERRORS},
    url_name="export_download",
    summary="Download the file of a succeeded export",
    description="404 unless the task succeeded, its file has not expired (7 days) and the caller may see it.",
)
def download_export(request: HttpRequest, task_id: str) -> FileResponse:
    user = current_user(request)
    return file_response(selectors.downloadable_task(user, task_id))


def file_response(task: ExportTask) -> FileResponse:
    """Stream the file as an attachment named like ``expenditure-summary-20261122-101500.xlsx``."""
    response = FileResponse(
        open(task.path, "rb"),  # noqa: SIM115 - FileResponse closes it
        as_attachment=True,
        filename=task.file_name,
        content_type=CONTENT_TYPES[task.format],
    )
    response["Cache-Control"] = "private, no-store"
    return response
