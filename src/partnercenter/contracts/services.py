"""Writes of payment contract requests (O6).

* **Requesting** is open at any time to a partner user holding the Payment Contracts menu, for
  their own partner only. The input is validated in full before anything is written; a refusal
  writes nothing.
* **Processing** belongs to platform operators: start processing (requested → processing), issue
  with the contract's terms (processing → issued) or reject with a reason (requested or
  processing → rejected). Any other move is a 409 ``invalid_state`` and writes nothing.
* **Idempotent.** A request carrying an Idempotency-Key already used by the partner answers the
  first contract again when the request is the same, and 409 ``idempotency_key_reused`` when it
  is not. An operator's step repeated with the same key answers the contract unchanged.
* **Concurrency.** Every write first locks the partner row (the fixed first lock of the project),
  then the contract. Numbers run across partners, so two partners' requests may pick the same
  one: the unique constraint refuses the second, which retries with the next number."""

from __future__ import annotations

import hashlib
import json
import unicodedata
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from partnercenter import scoping
from partnercenter.accounts.models import User
from partnercenter.billing.payment_services import clean_amount, clean_currency
from partnercenter.core import audit, clock, menus
from partnercenter.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from partnercenter.partners.models import Partner

from .models import ContractEvent, ContractState, PaymentContract

MAX_TEXT = {"purpose": 500, "reason": 500, "terms": 5000, "idempotency_key": 200}
NUMBER_ATTEMPTS = 5
ALLOWED_FROM = {
    ContractState.PROCESSING: (ContractState.REQUESTED,),
    ContractState.ISSUED: (ContractState.PROCESSING,),
    ContractState.REJECTED: (ContractState.REQUESTED, ContractState.PROCESSING),
}


def _invalid(where: str, why: str) -> ValidationFailed:
    return ValidationFailed(f"{where}: {why}.", details=[{"where": where, "why": why}])


def clean_text(value: Any, where: str, *, required: bool = True, multiline: bool = False) -> str:
    raw = str(value or "")
    text = (
        "\n".join(" ".join(line.split()) for line in raw.strip().splitlines()) if multiline else " ".join(raw.split())
    )
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs") and c != "\n" for c in text):
        raise _invalid(where, _("must not contain control characters"))
    if required and not text:
        raise _invalid(where, _("is required"))
    if len(text) > MAX_TEXT[where]:
        raise _invalid(where, _("is longer than %(n)d characters") % {"n": MAX_TEXT[where]})
    return text


def _fingerprint(**request: Any) -> str:
    text = json.dumps(request, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _lock(partner_id: int) -> None:
    Partner.objects.select_for_update().filter(pk=partner_id).values_list("pk", flat=True).first()


def _requesting_partner(actor: User) -> Partner:
    if actor.partner_id is None or not scoping.has_menu(actor, menus.PAYMENT_CONTRACTS):
        raise Forbidden(
            _("Only a partner user holding the Payment Contracts menu may request a payment contract."),
            code="request_forbidden",
        )
    partner = actor.partner
    assert partner is not None
    return partner


def _next_number(at_month: str) -> str:
    prefix = f"PC-{at_month}-"
    last = (
        PaymentContract.objects.filter(number__startswith=prefix)
        .order_by("-number")
        .values_list("number", flat=True)
        .first()
    )
    return f"{prefix}{(int(last[len(prefix) :]) + 1 if last else 1):06d}"


def _repeat(partner: Partner, key: str, fingerprint: str) -> PaymentContract | None:
    if not key:
        return None
    earlier = PaymentContract.objects.filter(partner=partner, idempotency_key=key).first()
    if earlier is not None and earlier.request_fingerprint != fingerprint:
        raise Conflict(
            _("This Idempotency-Key was already used with a different request."), code="idempotency_key_reused"
        )
    return earlier


def request_contract(
    *, actor: User, amount: Any, currency: Any, purpose: Any, idempotency_key: str = ""
) -> PaymentContract:
    """A partner user requests a payment contract for their own partner (O6: at any time)."""
    partner = _requesting_partner(actor)
    code = clean_currency(currency)
    value: Decimal = clean_amount(amount, code)
    text = clean_text(purpose, "purpose")
    key = clean_text(idempotency_key, "idempotency_key", required=False)
    fp = _fingerprint(op="request", partner=partner.pk, amount=value, currency=code, purpose=text)
    for _attempt in range(NUMBER_ATTEMPTS):
        try:
            return _create(actor, partner, value, code, text, key, fp)
        except IntegrityError:
            # Another request took the same number (numbers run across partners): take the next.
            continue
    raise Conflict(_("Too many requests at the same moment; please try again."), code="busy")


def _create(actor: User, partner: Partner, value: Decimal, code: str, text: str, key: str, fp: str) -> PaymentContract:
    with transaction.atomic():
        _lock(partner.pk)
        earlier = _repeat(partner, key, fp)
        if earlier is not None:
            return earlier
        at = clock.now()
        contract = PaymentContract.objects.create(
            number=_next_number(f"{clock.billing_date(at):%Y%m}"),
            partner=partner,
            amount=value,
            currency=code,
            purpose=text,
            requested_at=at,
            requested_by=actor,
            idempotency_key=key,
            request_fingerprint=fp,
        )
        ContractEvent.objects.create(contract=contract, state=ContractState.REQUESTED, at=at, actor=actor)
        audit.record(actor, "contracts.request", partner=partner, target=contract.number, amount=str(value))
    return contract


def state_of(contract: PaymentContract) -> str:
    last = contract.events.order_by("-at", "-id").values_list("state", flat=True).first()
    return last or ContractState.REQUESTED


def _move(actor: User, number: str, to: ContractState, key: str, **detail: str) -> PaymentContract:
    if not actor.is_platform_operator:
        raise Forbidden(_("Only a platform operator processes payment contracts."), code="process_forbidden")
    key = clean_text(key, "idempotency_key", required=False)
    found = PaymentContract.objects.filter(number=number).values_list("partner_id", flat=True).first()
    if found is None:
        raise NotFound(_("This payment contract is not available."), code="contract_not_found")
    with transaction.atomic():
        _lock(found)
        contract = PaymentContract.objects.select_for_update().get(number=number)
        if key and contract.events.filter(idempotency_key=key, state=to).exists():
            return contract
        current = state_of(contract)
        if current not in ALLOWED_FROM[to]:
            raise Conflict(
                _("This payment contract is %(state)s: it cannot become %(to)s.")
                % {"state": ContractState(current).label.lower(), "to": to.label.lower()},
                code="invalid_state",
            )
        ContractEvent.objects.create(
            contract=contract, state=to, at=clock.now(), actor=actor, idempotency_key=key, **detail
        )
        audit.record(actor, f"contracts.{to.value}", partner=contract.partner, target=contract.number, **detail)
    return contract


def start_processing(*, actor: User, number: str, idempotency_key: str = "") -> PaymentContract:
    return _move(actor, number, ContractState.PROCESSING, idempotency_key)


def issue(*, actor: User, number: str, terms: Any, idempotency_key: str = "") -> PaymentContract:
    text = clean_text(terms, "terms", multiline=True)
    return _move(actor, number, ContractState.ISSUED, idempotency_key, terms=text)


def reject(*, actor: User, number: str, reason: Any, idempotency_key: str = "") -> PaymentContract:
    text = clean_text(reason, "reason")
    return _move(actor, number, ContractState.REJECTED, idempotency_key, reason=text)
