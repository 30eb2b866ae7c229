"""Reads of payment contract requests (O6), scoped through :mod:`partnercenter.scoping`: a partner
user sees their partner's contracts (a distributor also its resellers'), a platform operator all.
The state of a contract is that of its latest event, annotated in SQL for lists and filters."""

from __future__ import annotations

from django.db.models import OuterRef, QuerySet, Subquery
from django.utils.translation import gettext as _

from partnercenter import scoping
from partnercenter.accounts.models import User
from partnercenter.core.errors import NotFound

from .models import OPEN_STATES, ContractEvent, ContractState, PaymentContract


def _latest(field: str) -> Subquery:
    return Subquery(ContractEvent.objects.filter(contract=OuterRef("pk")).order_by("-at", "-id").values(field)[:1])


def contracts_for(user: User, *states: str) -> QuerySet[PaymentContract]:
    """The contracts in scope, newest first; only those in ``states`` when any is given."""
    qs = PaymentContract.objects.select_related("partner", "requested_by").annotate(
        state=_latest("state"), state_at=_latest("at")
    )
    ids = scoping.partner_ids_for(user, scoping.Purpose.VIEW)
    if ids is not None:
        qs = qs.filter(partner_id__in=ids)
    wanted = [s for s in states if s]
    if wanted:
        qs = qs.filter(state__in=wanted)
    return qs.order_by("-requested_at", "-id")


def open_contracts(user: User) -> QuerySet[PaymentContract]:
    return contracts_for(user, *OPEN_STATES)


def get_contract(user: User, number: str) -> PaymentContract:
    contract = contracts_for(user).filter(number=number).first()
    if contract is None:
        raise NotFound(_("This payment contract is not available."), code="contract_not_found")
    return contract


def history(contract: PaymentContract) -> list[ContractEvent]:
    return list(contract.events.select_related("actor").order_by("at", "id"))


def issued_event(contract: PaymentContract) -> ContractEvent:
    """The issuing event; NotFound when the contract is not issued (no PDF before)."""
    event = contract.events.select_related("actor").filter(state=ContractState.ISSUED).first()
    if event is None:
        raise NotFound(_("This payment contract is not issued yet."), code="not_issued")
    return event
