"""API routes for partners, customers, associations and account-manager assignments.

Every read and every id named in a request goes through :mod:`partnercenter.scoping`; an object
outside the caller's scope answers 404 exactly like one that does not exist.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from ninja import Query, Router, Status

from partnercenter import scoping
from partnercenter.accounts.api import current_user, require_platform_operator
from partnercenter.accounts.models import AuditEntry, User
from partnercenter.accounts.schemas import ErrorOut
from partnercenter.core import audit, clock, masking, menus
from partnercenter.core.decorators import api_menu, router_menu
from partnercenter.core.errors import Conflict, NotFound
from partnercenter.core.pagination import IdempotencyKey

from . import selectors, services
from .models import AccountManagerAssignment, Customer, CustomerAssociation, Partner
from .schemas import (
    AssignedCustomer,
    AssignmentIn,
    AssignmentOut,
    AssignmentResult,
    AssociationIn,
    AssociationOut,
    CustomerDetail,
    CustomerIn,
    CustomerItem,
    CustomerPage,
    CustomerQuery,
    PartnerIn,
    PartnerOut,
    UnassignedCustomer,
    UnassignmentIn,
    UnassignmentResult,
)

router = Router(tags=["partners"])
router_menu(router, menus.CUSTOMER_MANAGEMENT)

ERRORS: dict[int, type[ErrorOut]] = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}
IDEMPOTENCY_WINDOW = dt.timedelta(hours=24)
IDEMPOTENCY_ACTION = "api.idempotency_key"


def _partner_out(p: Partner) -> PartnerOut:
    return PartnerOut(code=p.code, name=p.name, kind=p.kind, parent=p.parent.code if p.parent else None)


def _day_start(day: dt.date | None) -> dt.datetime:
    return clock.start_of_day(day) if day is not None else clock.now()


# --- partners -------------------------------------------------------------------------------


@router.get("/partners", response={200: list[PartnerOut], **ERRORS}, summary="Partners the caller may see")
@api_menu(menus.API_SIGNED_IN)
def list_partners(request: HttpRequest) -> list[PartnerOut]:
    user = current_user(request)
    return [_partner_out(p) for p in scoping.partners_for(user).select_related("parent")]


@router.get("/partners/{code}", response={200: PartnerOut, **ERRORS}, summary="One partner")
@api_menu(menus.API_SIGNED_IN)
def get_partner(request: HttpRequest, code: str) -> PartnerOut:
    return _partner_out(scoping.get_partner(current_user(request), code))


@router.post("/partners", response={201: PartnerOut, **ERRORS}, summary="Onboard a partner (platform operator)")
@api_menu(menus.API_PLATFORM_OPERATOR)
def create_partner(request: HttpRequest, body: PartnerIn) -> Status[PartnerOut]:
    user = current_user(request)
    require_platform_operator(user)
    partner = services.create_partner(
        code=body.code, name=body.name, kind=body.kind, parent_code=body.parent, actor=user
    )
    return Status(201, _partner_out(partner))


# --- customers ------------------------------------------------------------------------------


def _item(customer: Customer, assoc: CustomerAssociation | None) -> dict[str, Any]:
    return {
        "account_id": customer.account_id,
        "name": masking.mask_name(customer.name),
        "email": masking.mask_email(customer.email),
        "mobile": masking.mask_mobile(customer.mobile),
        "association_type": assoc.association_type if assoc else None,
        "partner": assoc.partner.code if assoc else None,
        "account_manager": getattr(assoc, "manager_username", None),
    }


@router.get(
    "/customers",
    response={200: CustomerPage, **ERRORS},
    summary="Customers in the caller's scope",
    description="Current associations in scope; an account manager sees only the customers assigned to them. "
    "Name, email and mobile are masked.",
)
def list_customers(request: HttpRequest, filters: Query[CustomerQuery]) -> CustomerPage:
    user = current_user(request)
    manager_id = None
    if filters.manager:
        manager = scoping.partner_users_for(user).filter(username=filters.manager).first()
        if manager is None:
            raise NotFound(f"No account manager {filters.manager!r}.")
        manager_id = manager.pk
    qs = selectors.customer_rows(
        user,
        selectors.CustomerFilter(
            search=filters.search,
            association_type=filters.association_type or "",
            manager_id=manager_id,
            unassigned=filters.unassigned,
            partner_code=filters.partner or "",
        ),
    )
    total = qs.count()
    rows = qs[filters.offset : filters.offset + filters.limit]
    return CustomerPage(
        total=total,
        limit=filters.limit,
        offset=filters.offset,
        items=[CustomerItem(**_item(a.customer, a)) for a in rows],
    )


def _detail(user: User, account_id: str) -> CustomerDetail:
    customer = scoping.get_customer(user, account_id)
    row = selectors.customer_rows(user, selectors.CustomerFilter()).filter(customer=customer).first()
    associations = selectors.association_history(user, account_id)
    assignments = selectors.assignment_history(user, account_id)
    ids = scoping.partner_ids_for(user)
    if ids is not None:  # assignments made while another partner held the customer are not ours
        assignments = assignments.filter(partner_id__in=ids)
    return CustomerDetail(
        **_item(customer, row),
        associations=[
            AssociationOut(
                partner=a.partner.code,
                association_type=a.association_type,
                valid_from=a.valid_from,
                valid_to=a.valid_to,
            )
            for a in associations
        ],
        assignments=[
            AssignmentOut(
                manager=a.manager.username,
                assigned_at=a.assigned_at,
                effective_from=a.effective_from,
                ended_at=a.ended_at,
            )
            for a in assignments
        ],
    )


@router.get(
    "/customers/{account_id}",
    response={200: CustomerDetail, **ERRORS},
    summary="One customer, with its association and assignment history",
)
def get_customer(request: HttpRequest, account_id: str) -> CustomerDetail:
    return _detail(current_user(request), account_id)


@router.post(
    "/customers",
    response={201: CustomerDetail, 409: ErrorOut, **ERRORS},
    summary="Register a customer with its first association (platform operator)",
)
@api_menu(menus.API_PLATFORM_OPERATOR)
def create_customer(request: HttpRequest, body: CustomerIn) -> Status[CustomerDetail]:
    user = current_user(request)
    require_platform_operator(user)
    customer = services.create_customer(
        account_id=body.account_id,
        name=body.name,
        email=body.email,
        mobile=body.mobile,
        partner_code=body.partner,
        association_type=body.association_type,
        valid_from=_day_start(body.valid_from),
        actor=user,
    )
    return Status(201, _detail(user, customer.account_id))


@router.post(
    "/customers/{account_id}/associations",
    response={201: AssociationOut, **ERRORS},
    summary="Associate a customer with a partner from a day on (platform operator)",
    description="The customer's current association ends where the new one starts; history is kept. "
    "Recorded history is never moved: 422 `valid_from_too_early` (details name `valid_from` and the "
    "earliest day allowed) when the customer has a charge at or after `valid_from`, or when its month "
    "is already billed for the partner losing or gaining the customer.",
)
@api_menu(menus.API_PLATFORM_OPERATOR)
def associate_customer(request: HttpRequest, account_id: str, body: AssociationIn) -> Status[AssociationOut]:
    user = current_user(request)
    require_platform_operator(user)
    customer = scoping.get_customer(user, account_id, scoping.Purpose.ACT)
    partner = scoping.get_partner(user, body.partner, scoping.Purpose.ACT)
    assoc = services.associate_customer(
        customer=customer,
        partner=partner,
        association_type=body.association_type,
        valid_from=_day_start(body.valid_from),
        actor=user,
    )
    return Status(
        201,
        AssociationOut(
            partner=partner.code,
            association_type=assoc.association_type,
            valid_from=assoc.valid_from,
            valid_to=assoc.valid_to,
        ),
    )


# --- assignments ----------------------------------------------------------------------------


def _fingerprint(body: AssignmentIn | UnassignmentIn) -> str:
    request: dict[str, Any] = {"account_ids": sorted(set(body.account_ids))}
    if isinstance(body, AssignmentIn):
        request["manager"] = body.manager
    else:  # a key used for an assignment cannot replay as an unassignment
        request["action"] = "unassign"
    canonical = json.dumps(request, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _actable_customers(user: User, account_ids: list[str]) -> list[Customer]:
    """The customers the user may act on, or 404 naming every id that is not one."""
    wanted = sorted(set(account_ids))
    customers = list(scoping.customers_for(user, scoping.Purpose.ACT).filter(account_id__in=wanted))
    unknown = sorted(set(wanted) - {c.account_id for c in customers})
    if unknown:
        raise NotFound(f"No customer with account id(s): {', '.join(unknown)}.", details=unknown)
    return customers


def _remember(user: User, key: str | None, fingerprint: str, result: Any, partner: Partner | None) -> None:
    """Keep the answer under the caller's Idempotency-Key, for a repeat of the same request."""
    if key:
        audit.record(
            user,
            IDEMPOTENCY_ACTION,
            partner=partner,
            target=key,
            request=fingerprint,
            response=result.model_dump(mode="json"),
        )


def _replayed(user: User, key: str, fingerprint: str) -> dict[str, Any] | None:
    entry = (
        AuditEntry.objects.filter(
            action=IDEMPOTENCY_ACTION, actor=user, target=key, at__gte=clock.now() - IDEMPOTENCY_WINDOW
        )
        .order_by("-at", "-id")
        .first()
    )
    if entry is None:
        return None
    if entry.detail.get("request") != fingerprint:
        raise Conflict("This Idempotency-Key was already used with a different request.", code="idempotency_key_reused")
    response: dict[str, Any] = entry.detail["response"]
    return response


@router.post(
    "/assignments",
    response={200: AssignmentResult, 409: ErrorOut, **ERRORS},
    summary="Assign customers to an account manager",
    description=(
        "Needs the customer_assignment menu. Every account id must be a customer the caller may act on "
        "and the manager an account manager of the caller's partner; otherwise 404 naming the unknown ids, "
        "and nothing changes. The manager sees the customers' expenditure from 00:00 of the next day "
        "(billing time zone).\n\n"
        "Idempotent: assigning a customer to its current manager changes nothing, so a retry has no second "
        "effect. With an `Idempotency-Key` header, a repeat of the same request by the same user within 24 "
        "hours returns the first answer without writing again; the same key with a different body answers "
        "409 `idempotency_key_reused`."
    ),
)
@api_menu(menus.CUSTOMER_ASSIGNMENT)
def assign_customers(
    request: HttpRequest, body: AssignmentIn, idempotency_key: IdempotencyKey = None
) -> AssignmentResult | dict[str, Any]:
    user = current_user(request)
    fingerprint = _fingerprint(body)
    if idempotency_key:
        previous = _replayed(user, idempotency_key, fingerprint)
        if previous is not None:
            return previous
    customers = _actable_customers(user, body.account_ids)
    manager = selectors.account_managers(user).filter(username=body.manager).first()
    if manager is None:
        raise NotFound(f"No account manager {body.manager!r}.")
    with transaction.atomic():
        services.assign_customers(actor=user, customers=customers, manager=manager)
        open_rows = AccountManagerAssignment.objects.filter(
            customer__in=customers, manager=manager, ended_at__isnull=True
        ).select_related("customer")
        result = AssignmentResult(
            manager=manager.username,
            assignments=sorted(
                (
                    AssignedCustomer(
                        account_id=a.customer.account_id,
                        assigned_at=a.assigned_at,
                        effective_from=a.effective_from,
                    )
                    for a in open_rows
                ),
                key=lambda a: a.account_id,
            ),
        )
        _remember(user, idempotency_key, fingerprint, result, manager.partner)
    return result


@router.post(
    "/assignments/unassign",
    response={200: UnassignmentResult, 409: ErrorOut, **ERRORS},
    summary="Remove the account manager from customers",
    description=(
        "Needs the customer_assignment menu. Every account id must be a customer the caller may act on; "
        "otherwise 404 naming the unknown ids, and nothing changes. Like an assignment, the change takes effect "
        "at 00:00 of the next day (billing time zone): the manager sees the customers until then. The ended "
        "assignments are kept as history.\n\n"
        "Idempotent: a customer without an account manager is left as it is, so a retry has no second effect "
        "and answers the same. The `Idempotency-Key` header works as for `POST /assignments`."
    ),
)
def unassign_customers(
    request: HttpRequest, body: UnassignmentIn, idempotency_key: IdempotencyKey = None
) -> UnassignmentResult | dict[str, Any]:
    user = current_user(request)
    scoping.require_menu(user, menus.CUSTOMER_ASSIGNMENT)
    fingerprint = _fingerprint(body)
    if idempotency_key:
        previous = _replayed(user, idempotency_key, fingerprint)
        if previous is not None:
            return previous
    customers = _actable_customers(user, body.account_ids)
    at = clock.now()
    with transaction.atomic():
        services.unassign_customers(actor=user, customers=customers, at=at)
        ending = selectors.ending_assignments(customers, at)
        result = UnassignmentResult(
            unassigned=[
                UnassignedCustomer(account_id=a.customer.account_id, manager=a.manager.username, ended_at=a.ended_at)
                for a in ending
                if a.ended_at is not None  # always: ending rows have an end
            ]
        )
        _remember(user, idempotency_key, fingerprint, result, user.partner)
    return result
