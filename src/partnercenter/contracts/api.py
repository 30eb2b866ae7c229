"""API of payment contracts (O6), mounted at /api/v1/payment-contracts: the list and one contract
with its history, a partner's request, the operator's steps (start processing, issue, reject) and
the issued contract's PDF. Thin: reads in :mod:`.selectors`, writes in :mod:`.services`. Amounts
are exact decimal strings."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest, HttpResponse
from ninja import Field, Path, Query, Router, Schema, Status

from partnercenter.accounts.api import current_user
from partnercenter.accounts.schemas import ErrorOut
from partnercenter.core import menus
from partnercenter.core.decorators import router_menu
from partnercenter.core.money import canonical as to_str
from partnercenter.core.pagination import IdempotencyKey, limit_field, offset_field

from . import pdf, selectors, services
from .models import ContractEvent, ContractState, PaymentContract

router = Router(tags=["payment contracts"])
router_menu(router, menus.PAYMENT_CONTRACTS)

ERRORS: dict[int, type[ErrorOut]] = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}
WRITE_ERRORS: dict[int, type[ErrorOut]] = {**ERRORS, 409: ErrorOut}
NUMBER_PATTERN = r"^PC-\d{6}-\d{6}$"
KEY_HELP = (
    "The same key with the same request answers the first result again; with another request it is 409 "
    "`idempotency_key_reused`."
)


class ContractsQuery(Schema):
    state: ContractState | None = Field(None, description="Requested, processing, issued or rejected.")
    limit: int = limit_field()
    offset: int = offset_field()


class EventOut(Schema):
    state: str
    at: dt.datetime
    actor: str = Field(description="The username of who did it.")
    terms: str = Field(description="Issued: the contract's terms; otherwise empty.")
    reason: str = Field(description="Rejected: why; otherwise empty.")


class ContractOut(Schema):
    number: str = Field(description="PC-YYYYMM-nnnnnn")
    partner: str = Field(description="The partner's code.")
    partner_name: str
    amount: str = Field(description="Exact decimal string.")
    currency: str
    purpose: str
    state: str = Field(description="The state of the latest event.")
    requested_at: dt.datetime
    requested_by: str


class ContractDetailOut(ContractOut):
    history: list[EventOut]


class ContractsPage(Schema):
    total: int
    limit: int
    offset: int
    items: list[ContractOut]


class RequestIn(Schema):
    amount: str = Field(..., max_length=40, description="Positive, at most the currency's minor unit in places.")
    currency: str = Field(..., max_length=3, description="ISO 4217, e.g. CNY.")
    purpose: str = Field(..., max_length=500)


class IssueIn(Schema):
    terms: str = Field(..., max_length=5000, description="The contract's terms, printed on its PDF.")


class RejectIn(Schema):
    reason: str = Field(..., max_length=500)


def contract_out(c: PaymentContract) -> ContractOut:
    return ContractOut(
        number=c.number,
        partner=c.partner.code,
        partner_name=c.partner.name,
        amount=to_str(c.amount),
        currency=c.currency,
        purpose=c.purpose,
        state=getattr(c, "state", ContractState.REQUESTED),
        requested_at=c.requested_at,
        requested_by=c.requested_by.username,
    )


def event_out(e: ContractEvent) -> EventOut:
    return EventOut(state=e.state, at=e.at, actor=e.actor.username, terms=e.terms, reason=e.reason)


def _detail(request: HttpRequest, number: str) -> ContractDetailOut:
    c = selectors.get_contract(current_user(request), number)
    return ContractDetailOut(**contract_out(c).dict(), history=[event_out(e) for e in selectors.history(c)])


def _number() -> str:
    return Path(..., pattern=NUMBER_PATTERN, description="The contract number, PC-YYYYMM-nnnnnn.")  # type: ignore[no-any-return]


@router.get(
    "",
    response={200: ContractsPage, **ERRORS},
    summary="Payment contracts",
    description="The payment contracts in the caller's scope, newest first, optionally by state (a platform "
    "operator sees every partner's, a distributor also its resellers'). Bad filters are 422.",
)
def list_contracts(request: HttpRequest, q: Query[ContractsQuery]) -> ContractsPage:
    qs = selectors.contracts_for(current_user(request), q.state or "")
    items = [contract_out(c) for c in qs[q.offset : q.offset + q.limit]]
    return ContractsPage(total=qs.count(), limit=q.limit, offset=q.offset, items=items)


@router.post(
    "",
    response={201: ContractDetailOut, 200: ContractDetailOut, **WRITE_ERRORS},
    summary="Request a payment contract",
    description="O6: a partner user holding the menu requests a payment contract for their own partner, at any "
    "time; 201 with the new contract (state `requested`). A platform operator: 403 `request_forbidden`; an invalid "
    "amount, currency or purpose: 422 naming the field; nothing is written on a refusal.\n\n`Idempotency-Key`: "
    + KEY_HELP
    + " A repeat answers 200.",
)
def request_contract(request: HttpRequest, body: RequestIn, idempotency_key: IdempotencyKey = None) -> Status:
    user = current_user(request)
    key = idempotency_key or ""
    existed = (
        bool(key)
        and user.partner_id is not None
        and PaymentContract.objects.filter(partner_id=user.partner_id, idempotency_key=key).exists()
    )
    c = services.request_contract(
        actor=user, amount=body.amount, currency=body.currency, purpose=body.purpose, idempotency_key=key
    )
    return Status(200 if existed else 201, _detail(request, c.number))


@router.get(
    "/{number}",
    response={200: ContractDetailOut, **ERRORS},
    summary="One payment contract with its history",
    description="Its figures, its state (the latest event's) and its history (requested, processing, issued with "
    "the terms, rejected with the reason; who and when). Out of scope or unknown: 404 `contract_not_found`; a "
    "malformed number: 422.",
)
def get_contract(request: HttpRequest, number: str = _number()) -> ContractDetailOut:
    return _detail(request, number)


STEP_DOC = (
    " Platform operators only: anyone else 403 `process_forbidden`; out of scope or unknown: 404; from another "
    "state: 409 `invalid_state`; a malformed number or body: 422. Nothing changes on a refusal.\n\n"
    "`Idempotency-Key`: the same key for the same step answers the contract unchanged."
)


@router.post(
    "/{number}/process",
    response={200: ContractDetailOut, **WRITE_ERRORS},
    summary="Start processing (platform operators)",
    description="requested → processing." + STEP_DOC,
)
def process(request: HttpRequest, number: str = _number(), idempotency_key: IdempotencyKey = None) -> ContractDetailOut:
    services.start_processing(actor=current_user(request), number=number, idempotency_key=idempotency_key or "")
    return _detail(request, number)


@router.post(
    "/{number}/issue",
    response={200: ContractDetailOut, **WRITE_ERRORS},
    summary="Issue with the contract's terms (platform operators)",
    description="processing → issued; the PDF is then available." + STEP_DOC,
)
def issue(
    request: HttpRequest, body: IssueIn, number: str = _number(), idempotency_key: IdempotencyKey = None
) -> ContractDetailOut:
    services.issue(actor=current_user(request), number=number, terms=body.terms, idempotency_key=idempotency_key or "")
    return _detail(request, number)


@router.post(
    "/{number}/reject",
    response={200: ContractDetailOut, **WRITE_ERRORS},
    summary="Reject with a reason (platform operators)",
    description="requested or processing → rejected." + STEP_DOC,
)
def reject(
    request: HttpRequest, body: RejectIn, number: str = _number(), idempotency_key: IdempotencyKey = None
) -> ContractDetailOut:
    services.reject(
        actor=current_user(request), number=number, reason=body.reason, idempotency_key=idempotency_key or ""
    )
    return _detail(request, number)


@router.get(
    "/{number}/pdf",
    response={200: None, **ERRORS},
    summary="The issued contract as a PDF",
    description="`application/pdf`. Out of scope or unknown: 404 `contract_not_found`; not issued yet: 404 "
    "`not_issued`; a malformed number: 422.",
    openapi_extra={"responses": {200: {"description": "The PDF", "content": {"application/pdf": {}}}}},
)
def contract_pdf(request: HttpRequest, number: str = _number()) -> HttpResponse:
    c = selectors.get_contract(current_user(request), number)
    response = HttpResponse(pdf.render_contract(c), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="contract-{c.number}.pdf"'
    response["Cache-Control"] = "private, no-store"
    return response
