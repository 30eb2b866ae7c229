"""HTTP API of lead dispatch (O2), mounted at /api/v1/leads. Thin: rules in :mod:`.services`, reads
in :mod:`.selectors`. Contact name, phone and email are always masked in answers."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from ninja import Field, Path, Query, Router, Schema

from partnercenter.accounts.api import current_user
from partnercenter.accounts.schemas import ErrorOut
from partnercenter.core import menus
from partnercenter.core.decorators import api_menu, router_menu
from partnercenter.core.masking import mask_email, mask_mobile, mask_name
from partnercenter.core.pagination import IdempotencyKey, limit_field, offset_field

from . import selectors as sel
from . import services as svc
from .models import Lead, LeadEvent, LeadStatus

router = Router(tags=["leads"])
router_menu(router, menus.LEAD_DISPATCH)

ERRORS: dict[int, type[ErrorOut]] = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}
WRITE_ERRORS: dict[int, type[ErrorOut]] = {**ERRORS, 409: ErrorOut}
MAX_ID = 2**63 - 1
KEY_HELP = (
    "The same key with the same request answers the first result again; the same key with a different request "
    "is 409 `idempotency_key_reused`."
)
MENU_HELP = "Without the Lead Dispatch menu: 403 `menu_forbidden`. Unauthenticated: 401."


class LeadIn(Schema):
    partner: str = Field(..., max_length=64, description="The partner's code.")
    company: str = Field(..., max_length=200)
    contact_name: str = Field(..., max_length=100)
    phone: str = Field("", max_length=32)
    email: str = Field("", max_length=254)
    source: str = Field("", max_length=100)
    product_interest: str = Field("", max_length=200)


class LeadsIn(Schema):
    leads: list[LeadIn] = Field(..., min_length=1, max_length=svc.MAX_IMPORT)


class LeadOut(Schema):
    id: int
    number: str
    partner: str
    company: str
    contact_name: str = Field(description="Masked.")
    phone: str = Field(description="Masked.")
    email: str = Field(description="Masked.")
    source: str
    product_interest: str
    status: LeadStatus
    assignee: str | None = Field(description="The username of the staff member it is dispatched to.")
    dispatched_at: dt.datetime | None
    created_at: dt.datetime


class LeadsQuery(Schema):
    q: str = Field("", max_length=100, description="Company, number or contact (as the caller may see it).")
    status: LeadStatus | None = None
    assignee: str = Field("", max_length=150, description='A username, or "none" for leads not dispatched.')
    product: str = Field("", max_length=100, description="Part of the product interest.")
    limit: int = limit_field()
    offset: int = offset_field()


class LeadsPage(Schema):
    total: int
    limit: int
    offset: int
    items: list[LeadOut]


class DispatchIn(Schema):
    lead_ids: list[int] = Field(..., min_length=1, max_length=svc.MAX_BATCH)
    assignee: str = Field(..., max_length=150, description="The username of a staff member of the leads' partner.")
    note: str = Field("", max_length=500)


class RecallIn(Schema):
    lead_ids: list[int] = Field(..., min_length=1, max_length=svc.MAX_BATCH)
    note: str = Field("", max_length=500)


class StatusIn(Schema):
    status: LeadStatus
    note: str = Field("", max_length=500)


class EventOut(Schema):
    kind: str
    at: dt.datetime
    actor: str | None
    assignee: str | None = Field(description="Dispatched: to whom; recalled: from whom.")
    from_status: str
    to_status: str
    note: str


class StaffOut(Schema):
    username: str
    name: str
    role: str


def lead_out(x: Lead) -> LeadOut:
    return LeadOut(
        id=x.pk,
        number=x.number or "",
        partner=x.partner.code,
        company=x.company,
        contact_name=mask_name(x.contact_name),
        phone=mask_mobile(x.phone),
        email=mask_email(x.email),
        source=x.source,
        product_interest=x.product_interest,
        status=LeadStatus(x.status),
        assignee=x.assignee.username if x.assignee else None,
        dispatched_at=x.dispatched_at,
        created_at=x.created_at,
    )


def event_out(e: LeadEvent) -> EventOut:
    return EventOut(
        kind=e.kind,
        at=e.at,
        actor=e.actor.username if e.actor else None,
        assignee=e.assignee.username if e.assignee else None,
        from_status=e.from_status,
        to_status=e.to_status,
        note=e.note,
    )


@router.get(
    "",
    response={200: LeadsPage, **ERRORS},
    summary="Search leads",
    description="Dispatchers (the partner's admin, an operator with the menu) see their partner's leads; any other "
    "user with the menu only the leads dispatched to them; platform operators all. Newest first. " + MENU_HELP,
)
def search(request: HttpRequest, q: Query[LeadsQuery]) -> LeadsPage:
    f = sel.LeadFilter(text=q.q, status=q.status or "", assignee=q.assignee, product=q.product)
    qs = sel.search(current_user(request), f)
    items = [lead_out(x) for x in qs[q.offset : q.offset + q.limit]]
    return LeadsPage(total=qs.count(), limit=q.limit, offset=q.offset, items=items)


@router.post(
    "",
    response={200: list[LeadOut], **WRITE_ERRORS},
    summary="Import leads (platform operator)",
    description="One or more leads, all or nothing: any problem (422 `invalid_leads`, `details` lists each row, "
    "column and why; rows counted from 1) imports none. Not a platform operator: 403. Unauthenticated: 401."
    + "\n\n`Idempotency-Key`: "
    + KEY_HELP,
)
@api_menu(menus.API_PLATFORM_OPERATOR)
def import_leads(request: HttpRequest, body: LeadsIn, idempotency_key: IdempotencyKey = None) -> list[LeadOut]:
    rows = [r.dict() for r in body.leads]
    leads = svc.create_leads(actor=current_user(request), rows=rows, idempotency_key=idempotency_key or "")
    return [lead_out(x) for x in leads]


@router.get(
    "/staff",
    response={200: list[StaffOut], **ERRORS},
    summary="Staff to dispatch to",
    description="The active users of the caller's partner holding the Lead Dispatch menu (empty for a user who does "
    "not dispatch). " + MENU_HELP,
)
def staff(request: HttpRequest) -> list[StaffOut]:
    return [
        StaffOut(username=u.username, name=u.display_name, role=u.role) for u in sel.staff_for(current_user(request))
    ]


@router.post(
    "/dispatch",
    response={200: list[LeadOut], **WRITE_ERRORS},
    summary="Dispatch leads",
    description="Dispatches every lead to one staff member, all or nothing. Not a dispatcher: 403 "
    "`dispatch_forbidden`; a lead or a staff member not in the caller's partner: 404 (nothing changes); a staff "
    "member of another partner than a lead's (platform operators): 422 `other_partner`; without the menu: 422 "
    "`assignee_without_menu`; a lead converted, lost or already dispatched to that person: 409 `not_dispatchable` "
    "with the leads in `details`. " + MENU_HELP + "\n\n`Idempotency-Key`: " + KEY_HELP,
)
def dispatch(request: HttpRequest, body: DispatchIn, idempotency_key: IdempotencyKey = None) -> list[LeadOut]:
    leads = svc.dispatch(
        actor=current_user(request),
        lead_ids=body.lead_ids,
        assignee=body.assignee,
        note=body.note,
        idempotency_key=idempotency_key or "",
    )
    return [lead_out(x) for x in leads]


@router.post(
    "/recall",
    response={200: list[LeadOut], **WRITE_ERRORS},
    summary="Recall leads",
    description="Takes every lead back from the staff member it is dispatched to, all or nothing. Not a dispatcher: "
    "403 `dispatch_forbidden`; a lead not in the caller's partner: 404; a lead not dispatched, converted or lost: "
    "409 `not_dispatchable`. " + MENU_HELP + "\n\n`Idempotency-Key`: " + KEY_HELP,
)
def recall(request: HttpRequest, body: RecallIn, idempotency_key: IdempotencyKey = None) -> list[LeadOut]:
    leads = svc.recall(
        actor=current_user(request), lead_ids=body.lead_ids, note=body.note, idempotency_key=idempotency_key or ""
    )
    return [lead_out(x) for x in leads]


@router.get(
    "/{lead_id}",
    response={200: LeadOut, **ERRORS},
    summary="A lead",
    description="A lead the caller sees; any other is 404. " + MENU_HELP,
)
def get_lead(request: HttpRequest, lead_id: int = Path(..., ge=1, le=MAX_ID)) -> LeadOut:  # noqa: B008
    return lead_out(sel.lead_for(current_user(request), lead_id))


@router.get(
    "/{lead_id}/events",
    response={200: list[EventOut], **ERRORS},
    summary="A lead's history",
    description="Creation, every dispatch (to whom), recall (from whom) and status change, oldest first; a lead the "
    "caller does not see is 404. " + MENU_HELP,
)
def events(request: HttpRequest, lead_id: int = Path(..., ge=1, le=MAX_ID)) -> list[EventOut]:  # noqa: B008
    return [event_out(e) for e in sel.history(sel.lead_for(current_user(request), lead_id))]


@router.post(
    "/{lead_id}/status",
    response={200: LeadOut, **WRITE_ERRORS},
    summary="Update a lead's status",
    description="The staff member the lead is dispatched to moves it to contacting, qualified, converted or lost "
    "(`new` is 422 `invalid_status`); anyone else who sees it: 403 `status_forbidden`; not visible: 404; the "
    "status it already has: 409 `unchanged`. " + MENU_HELP + "\n\n`Idempotency-Key`: " + KEY_HELP,
)
def update_status(
    request: HttpRequest,
    body: StatusIn,
    lead_id: int = Path(..., ge=1, le=MAX_ID),  # noqa: B008
    idempotency_key: IdempotencyKey = None,
) -> LeadOut:
    lead = svc.update_status(
        actor=current_user(request),
        lead_id=lead_id,
        status=body.status,
        note=body.note,
        idempotency_key=idempotency_key or "",
    )
    return lead_out(lead)
