"""Usage API: ingestion batches (platform operators only)."""

from __future__ import annotations

import decimal
import json
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja import Query, Router, Schema, Status

from partnercenter.accounts.schemas import ErrorOut
from partnercenter.core import menus
from partnercenter.core.decorators import router_menu
from partnercenter.core.errors import Forbidden, NotFound, ValidationFailed
from partnercenter.core.http import read_body
from partnercenter.core.pagination import PageQuery

from . import formats, selectors, services

router = Router(tags=["usage"])
router_menu(router, menus.API_PLATFORM_OPERATOR)

ERRORS: dict[int, type[ErrorOut]] = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}


class BatchOut(Schema):
    id: int
    source: str
    file_name: str
    format: str
    checksum: str
    status: str
    rows_total: int
    rows_new: int
    rows_present: int
    rows_corrections: int
    totals: dict[str, dict[str, str]]
    started_at: Any
    finished_at: Any


def _require_operator(request: HttpRequest) -> None:
    user: Any = request.user
    if not user.is_platform_operator:
        raise Forbidden("Only platform operators load usage.")


@router.post(
    "/batches",
    response={201: dict, 422: dict, 401: ErrorOut, 403: ErrorOut, 413: ErrorOut},
    summary="Ingest a batch of line items",
    description=(
        'JSON: `{"format": "native"|"focus", "source": "…", "items": [ {…}, … ]}`. '
        "NDJSON: `Content-Type: application/x-ndjson`, one record per line, `?format=` and `?source=`. "
        "The batch is atomic: any invalid row rejects it (422) with row, column and reason, and nothing is written. "
        "Amounts are exact decimal strings. "
        f"The body may be up to {settings.USAGE_BATCH_MAX_BYTES // (1024 * 1024)} MiB "
        "(`PARTNERCENTER_USAGE_BATCH_MAX_MB`); a larger one answers 413 `payload_too_large`."
    ),
)
def create_batch(request: HttpRequest, format: str = formats.NATIVE, source: str = "") -> Status:
    _require_operator(request)
    raw = read_body(request, settings.USAGE_BATCH_MAX_BYTES)
    content_type = (request.content_type or "").lower()
    if content_type in ("application/x-ndjson", "application/ndjson", "application/jsonl"):
        if format not in formats.FORMATS:
            raise ValidationFailed(f"format must be one of {', '.join(formats.FORMATS)}.")
        try:
            report = services.ingest_ndjson(raw, fmt=format, source=source, actor=request.user)
        except (ValueError, UnicodeDecodeError) as e:
            raise ValidationFailed(f"The NDJSON body is not valid: {e}") from None
    else:
        try:
            body = json.loads(raw or b"null", parse_float=decimal.Decimal)
        except (ValueError, UnicodeDecodeError) as e:
            raise ValidationFailed(f"The body is not valid JSON: {e}") from None
        if not isinstance(body, dict) or not isinstance(body.get("items"), list):
            raise ValidationFailed('The body must be an object with an "items" list.')
        fmt = body.get("format", format)
        if fmt not in formats.FORMATS:
            raise ValidationFailed(f"format must be one of {', '.join(formats.FORMATS)}.")
        try:
            report = services.ingest_records(
                body["items"], fmt=fmt, source=str(body.get("source") or source), actor=request.user
            )
        except ValueError as e:
            raise ValidationFailed(str(e)) from None
    data = report.as_dict()
    if not report.accepted:
        data = {
            "code": "batch_rejected",
            "message": f"The batch was rejected: {report.error_count} problem(s); nothing was written.",
            **data,
        }
        return Status(422, data)
    return Status(201, data)


@router.get("/batches", response={200: list[BatchOut], **ERRORS})
def list_batches(request: HttpRequest, page: Query[PageQuery]) -> Any:
    _require_operator(request)
    rows = selectors.batches_for(request.user)[page.offset : page.offset + page.limit]  # type: ignore[arg-type]
    return list(rows)


@router.get("/batches/{batch_id}", response={200: BatchOut, **ERRORS})
def get_batch(request: HttpRequest, batch_id: int) -> Any:
    _require_operator(request)
    batch = selectors.batches_for(request.user).filter(pk=batch_id).first()  # type: ignore[arg-type]
    if batch is None:
        raise NotFound(f"No batch {batch_id}.")
    return batch
