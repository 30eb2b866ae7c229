"""Writes for partners, customers, associations and account-manager assignments.

Services validate everything before writing and never commit on their own: the caller's
request, command or job owns the transaction (they use ``transaction.atomic`` so that a
multi-row write is all-or-nothing even when called outside one).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q

from partnercenter.accounts.models import User
from partnercenter.accounts.roles import Role
from partnercenter.core import audit, clock, limits
from partnercenter.core.errors import Conflict, NotFound, ValidationFailed
from partnercenter.usage import selectors as ledger

from .models import (
    AccountManagerAssignment,
    AssociationType,
    Customer,
    CustomerAssociation,
    Partner,
    PartnerKind,
)

_CODE_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_ACCOUNT_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_MOBILE_RE = re.compile(r"^\+?[0-9 ()-]{5,32}$")


def _kinds_allowing(association_type: str) -> set[str]:
    if association_type == AssociationType.REFERRAL:
        return {k.value for k in PartnerKind}
    # A referral partner only refers: the customer pays the cloud directly.
    return {k.value for k in PartnerKind} - {PartnerKind.REFERRAL.value}


def create_partner(
    *, code: str, name: str, kind: str, parent_code: str | None = None, actor: User | None = None
) -> Partner:
    errors: dict[str, str] = {}
    if not _CODE_RE.match(code or "") or len(code) > 64:
        errors["code"] = "must be lowercase letters, digits and single hyphens (at most 64 characters)"
    elif Partner.objects.filter(code=code).exists():
        errors["code"] = f"partner {code!r} already exists"
    if not (name or "").strip():
        errors["name"] = "must not be empty"
    if kind not in PartnerKind.values:
        errors["kind"] = f"must be one of {', '.join(PartnerKind.values)}"
    parent = None
    if kind == PartnerKind.SECOND_LEVEL_RESELLER:
        if not parent_code:
            errors["parent"] = "a second-level reseller needs its distributor (--parent)"
        else:
            parent = Partner.objects.filter(code=parent_code).first()
            if parent is None:
                errors["parent"] = f"no partner with code {parent_code!r}"
            elif parent.kind != PartnerKind.DISTRIBUTOR:
                errors["parent"] = f"{parent_code!r} is not a distributor"
    elif parent_code:
        errors["parent"] = "only a second-level reseller has a parent"
    if errors:
        raise ValidationFailed("The partner is not valid.", details=errors)
    with transaction.atomic():
        partner = Partner.objects.create(code=code, name=name.strip(), kind=kind, parent=parent, created_at=clock.now())
        audit.record(actor, "partner.create", partner=partner, target=code, kind=kind)
    return partner


@dataclass
class CustomerRow:
    account_id: str
    name: str
    email: str
    mobile: str
    partner: str
    association_type: str
    valid_from: dt.date
    line: int = 0  # the row's number in the file (the header is row 1)


IMPORT_COLUMNS = ("account_id", "name", "email", "mobile", "partner", "association_type", "valid_from")


def _customer_field_errors(account_id: str, name: str, email: str, mobile: str) -> list[str]:
    problems = []
    if not _ACCOUNT_RE.match(account_id or ""):
        problems.append("account_id: must be 1-64 letters, digits or . _ : -")
    if not (name or "").strip():
        problems.append("name: must not be empty")
    if email:
        try:
            validate_email(email)
        except ValidationError:
            problems.append(f"email: {email!r} is not an email address")
    if mobile and not _MOBILE_RE.match(mobile):
        problems.append(f"mobile: {mobile!r} is not a phone number")
    return problems


def create_customer(
    *,
    account_id: str,
    name: str,
    email: str = "",
    mobile: str = "",
    partner_code: str,
    association_type: str,
    valid_from: dt.datetime | None = None,
    actor: User | None = None,
) -> Customer:
    problems = _customer_field_errors(account_id, name, email, mobile)
    partner = Partner.objects.filter(code=partner_code).first()
    if partner is None:
        problems.append(f"partner: no partner with code {partner_code!r}")
    if association_type not in AssociationType.values:
        problems.append(f"association_type: must be one of {', '.join(AssociationType.values)}")
    elif partner is not None and partner.kind not in _kinds_allowing(association_type):
        problems.append(f"association_type: a {partner.get_kind_display()} cannot hold {association_type} customers")
    if valid_from is not None:
        try:
            limits.check_instant(valid_from)
        except limits.OutOfRange as e:
            problems.append(f"valid_from: {e}")
    if Customer.objects.filter(account_id=account_id).exists():
        raise Conflict(f"Customer {account_id!r} already exists.", code="customer_exists")
    if problems:
        raise ValidationFailed("The customer is not valid.", details=problems)
    assert partner is not None
    with transaction.atomic():
        now = clock.now()
        # A new customer has no charges yet, but its first association may still not start in a
        # month already billed for the partner; the lock keeps billing from closing one meanwhile.
        ledger.hold_ledger_still()
        _refuse_moving_history(None, [partner], valid_from or now)
        customer = Customer.objects.create(
            account_id=account_id, name=name.strip(), email=email, mobile=mobile, created_at=now
        )
        CustomerAssociation.objects.create(
            customer=customer,
            partner=partner,
            association_type=association_type,
            valid_from=valid_from or now,
            created_at=now,
            created_by=actor if actor and actor.pk else None,
        )
        audit.record(actor, "customer.create", partner=partner, target=account_id, association_type=association_type)
    return customer


class HistoryRecorded(ValidationFailed):
    """An association would start before recorded history: charges already in the ledger, or a
    month already billed. ``earliest`` is the first billing-time-zone day it may start on."""

    code = "valid_from_too_early"

    def __init__(self, message: str, *, valid_from: dt.datetime, earliest: dt.date, reason: str) -> None:
        super().__init__(message, details={"valid_from": reason})
        self.valid_from = valid_from
        self.earliest = earliest


def _local(instant: dt.datetime) -> str:
    return instant.astimezone(clock.billing_tz()).strftime("%Y-%m-%d %H:%M:%S")


def _next_month(month: dt.date) -> dt.date:
    return (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def _refuse_moving_history(customer: Customer | None, partners: Sequence[Partner], valid_from: dt.datetime) -> None:
    """Refuse a ``valid_from`` that would re-attribute recorded history.

    Line items keep the partner and association type in force at charge time (ingestion stores
    them, rollups and running totals are keyed on them), so an association may only start after
    the customer's latest recorded charge: a charge starting exactly at ``valid_from`` belongs to
    the new association and therefore counts. Nor may it start in a month already billed
    (``usage.ClosedMonth``) for the partner losing or gaining the customer. The caller holds
    ``ledger.hold_ledger_still()`` so no ingestion lands between this check and its write.
    """
    reasons: list[str] = []
    earliest = clock.billing_date(valid_from)
    span = ledger.charges_at_or_after(customer.pk, valid_from) if customer is not None else None
    if customer is not None and span is not None:
        earliest = max(earliest, clock.billing_date(span.last) + dt.timedelta(days=1))
        reasons.append(
            f"customer {customer.account_id!r} already has {span.count} recorded charge(s) from "
            f"{_local(span.first)} to {_local(span.last)} ({clock.billing_tz()}), "
            "which an association cannot move to another partner"
        )
    codes = {p.pk: p.code for p in partners}
    closed = ledger.closed_months_from(codes, clock.billing_date(valid_from).replace(day=1))
    if closed:
        earliest = max(earliest, _next_month(closed[-1][1]))
        billed = ", ".join(f"{m:%Y-%m} for {codes[p]!r}" for p, m in closed)
        reasons.append(f"the month(s) {billed} are already billed")
    if reasons:
        reason = "; ".join(reasons) + f". Choose {earliest.isoformat()} or later."
        raise HistoryRecorded(
            f"The association cannot start at {_local(valid_from)}: it would change recorded history.",
            valid_from=valid_from,
            earliest=earliest,
            reason=reason,
        )


def check_association(
    *, customer: Customer, partner: Partner, association_type: str, valid_from: dt.datetime
) -> CustomerAssociation | None:
    """Validate moving ``customer`` to ``partner`` from ``valid_from`` without writing anything.

    Returns the open association the move would end (None if there is none); when that is already
    ``partner`` with ``association_type``, the move changes nothing. Raises ValidationFailed, or
    HistoryRecorded when the move would change recorded charges or a billed month. Inside the
    caller's transaction the answer stays true until it commits (see ``associate_customer``).
    """
    if association_type not in AssociationType.values:
        raise ValidationFailed(f"association_type must be one of {', '.join(AssociationType.values)}.")
    if partner.kind not in _kinds_allowing(association_type):
        raise ValidationFailed(f"A {partner.get_kind_display()} cannot hold {association_type} customers.")
    with transaction.atomic():
        # The ledger check and the write must see the same ledger: an ingestion committing in
        # between would store charges under the old partner after the check. Ingestion serialises
        # on one lock and reads associations only after taking it, so taking that lock here (before
        # reading anything, held until the caller's transaction ends) orders every batch wholly
        # before or wholly after this change. A row lock on the customer would not do: ingestion
        # never locks customer rows.
        ledger.hold_ledger_still()
        current = (
            CustomerAssociation.objects.select_for_update()
            .select_related("partner")
            .filter(customer=customer, valid_to__isnull=True)
            .first()
        )
        if current is not None:
            if current.partner_id == partner.pk and current.association_type == association_type:
                return current
            if valid_from <= current.valid_from:
                raise ValidationFailed("The new association must start after the current one started.")
        losing = [current.partner] if current is not None else []
        _refuse_moving_history(customer, [*losing, partner], valid_from)
    return current


def associate_customer(
    *, customer: Customer, partner: Partner, association_type: str, valid_from: dt.datetime, actor: User | None = None
) -> CustomerAssociation:
    """Move a customer to ``partner`` from ``valid_from``: the open association ends there.

    Refused (HistoryRecorded) when it would move recorded charges or start in a billed month.
    """
    with transaction.atomic():
        current = check_association(
            customer=customer, partner=partner, association_type=association_type, valid_from=valid_from
        )
        if current is not None:
            if current.partner_id == partner.pk and current.association_type == association_type:
                return current
            current.valid_to = valid_from
            current.save(update_fields=["valid_to"])
            # Assignments belong to the partner that held the customer.
            AccountManagerAssignment.objects.filter(customer=customer, ended_at__isnull=True).exclude(
                partner=partner
            ).update(ended_at=valid_from)
        assoc = CustomerAssociation.objects.create(
            customer=customer,
            partner=partner,
            association_type=association_type,
            valid_from=valid_from,
            created_at=clock.now(),
            created_by=actor if actor and actor.pk else None,
        )
        audit.record(
            actor, "customer.associate", partner=partner, target=customer.account_id, association_type=association_type
        )
    return assoc


@dataclass
class ImportResult:
    created: int


def parse_customer_csv(text: str) -> tuple[list[CustomerRow], list[str]]:
    """Parse and validate an import file completely; returns rows and every problem found."""
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in IMPORT_COLUMNS if c not in header]
    if missing:
        return [], [f"header: missing column(s) {', '.join(missing)}"]
    rows: list[CustomerRow] = []
    errors: list[str] = []
    seen: dict[str, int] = {}
    partners = {p.code: p for p in Partner.objects.all()}
    existing = set(Customer.objects.values_list("account_id", flat=True))
    for number, raw in enumerate(reader, start=2):
        r = {k.strip(): (v or "").strip() for k, v in raw.items() if k}
        problems = _customer_field_errors(r["account_id"], r["name"], r["email"], r["mobile"])
        if r["account_id"] in existing:
            problems.append(f"account_id: customer {r['account_id']!r} already exists")
        if r["account_id"] in seen:
            problems.append(f"account_id: duplicate of row {seen[r['account_id']]}")
        seen.setdefault(r["account_id"], number)
        partner = partners.get(r["partner"])
        if partner is None:
            problems.append(f"partner: no partner with code {r['partner']!r}")
        if r["association_type"] not in AssociationType.values:
            problems.append(f"association_type: must be one of {', '.join(AssociationType.values)}")
        elif partner is not None and partner.kind not in _kinds_allowing(r["association_type"]):
            problems.append(f"association_type: partner {partner.code!r} cannot hold {r['association_type']} customers")
        try:
            valid_from = limits.check_day(dt.date.fromisoformat(r["valid_from"]))
        except limits.OutOfRange as e:
            problems.append(f"valid_from: {r['valid_from']!r} is {e}")
            valid_from = dt.date.min
        except ValueError:
            problems.append(f"valid_from: {r['valid_from']!r} is not a date (YYYY-MM-DD)")
            valid_from = dt.date.min
        errors += [f"row {number}: {p}" for p in problems]
        if not problems:
            rows.append(
                CustomerRow(
                    r["account_id"],
                    r["name"],
                    r["email"],
                    r["mobile"],
                    r["partner"],
                    r["association_type"],
                    valid_from,
                    number,
                )
            )
    if not rows and not errors:
        errors.append("file: no data rows")
    return rows, errors


def _row_number(problem: str) -> int:
    found = re.match(r"row (\d+):", problem)
    return int(found.group(1)) if found else 0


def _import_history_errors(rows: list[CustomerRow], partners: dict[str, Partner]) -> list[str]:
    """Rows whose association would start in a billed month (imported customers are new, so they
    have no recorded charges); in file order, like the other problems."""
    errors = []
    for r in rows:
        try:
            _refuse_moving_history(None, [partners[r.partner]], clock.start_of_day(r.valid_from))
        except HistoryRecorded as e:
            errors.append(f"row {r.line}: valid_from: {e.details['valid_from']}")
    return errors


def import_customers(text: str, *, actor: User | None = None) -> ImportResult:
    """All-or-nothing import of ``account_id,name,email,mobile,partner,association_type,valid_from``.

    ``valid_from`` is a calendar day in the billing time zone; the association starts at its 00:00.
    """
    rows, errors = parse_customer_csv(text)
    partners = {p.code: p for p in Partner.objects.filter(code__in={r.partner for r in rows})}
    with transaction.atomic():
        # Checked under the ledger lock, as associate_customer does, so no month closes meanwhile.
        ledger.hold_ledger_still()
        errors = sorted(errors + _import_history_errors(rows, partners), key=_row_number)
        if errors:
            raise ValidationFailed(
                f"The file was rejected: {len(errors)} problem(s); nothing was imported.", details=errors
            )
        now = clock.now()
        customers = Customer.objects.bulk_create(
            [
                Customer(account_id=r.account_id, name=r.name, email=r.email, mobile=r.mobile, created_at=now)
                for r in rows
            ]
        )
        by_account = {
            c.account_id: c for c in Customer.objects.filter(account_id__in=[c.account_id for c in customers])
        }
        CustomerAssociation.objects.bulk_create(
            [
                CustomerAssociation(
                    customer=by_account[r.account_id],
                    partner=partners[r.partner],
                    association_type=r.association_type,
                    valid_from=clock.start_of_day(r.valid_from),
                    created_at=now,
                    created_by=actor if actor and actor.pk else None,
                )
                for r in rows
            ]
        )
        audit.record(actor, "customer.import", target=f"{len(rows)} customers")
    return ImportResult(created=len(rows))


def assign_customers(
    *, actor: User, customers: Sequence[Customer], manager: User, at: dt.datetime | None = None
) -> list[AccountManagerAssignment]:
    """Assign customers to an account manager in one batch (rule O1).

    Each customer's open assignment ends now; the new one takes effect at 00:00 of the next day
    in the billing time zone (rule E3). Re-assigning to the current manager changes nothing.
    The caller has already scoped ``customers`` to what ``actor`` may act on.
    """
    at = at or clock.now()
    if manager.role != Role.ACCOUNT_MANAGER or not manager.is_active:
        raise ValidationFailed(f"{manager.username!r} is not an active account manager.")
    if not customers:
        raise ValidationFailed("Choose at least one customer.")
    current_partner = dict(
        CustomerAssociation.objects.filter(customer__in=customers, valid_from__lte=at)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gt=at))
        .values_list("customer_id", "partner_id")
    )
    wrong = [c.account_id for c in customers if current_partner.get(c.pk) != manager.partner_id]
    if wrong:
        raise ValidationFailed("These customers do not belong to the account manager's partner.", details=sorted(wrong))
    partner = manager.partner
    assert partner is not None  # an account manager always belongs to a partner
    created = []
    with transaction.atomic():
        ids = sorted(c.pk for c in customers)  # lock in a fixed order
        open_rows = {
            a.customer_id: a
            for a in AccountManagerAssignment.objects.select_for_update()
            .filter(customer_id__in=ids, ended_at__isnull=True)
            .order_by("customer_id")
        }
        for customer in sorted(customers, key=lambda c: c.pk):
            current = open_rows.get(customer.pk)
            if current is not None and current.manager_id == manager.pk:
                continue
            if current is not None:
                current.ended_at = at
                current.save(update_fields=["ended_at"])
            created.append(
                AccountManagerAssignment.objects.create(
                    customer=customer,
                    partner=partner,
                    manager=manager,
                    assigned_at=at,
                    effective_from=clock.start_of_next_day(at),
                    assigned_by=actor if actor.pk else None,
                )
            )
        audit.record(
            actor,
            "customer.assign",
            partner=manager.partner,
            target=manager.username,
            customers=[c.account_id for c in customers],
        )
    return created


def unassign_customers(
    *, actor: User, customers: Sequence[Customer], at: dt.datetime | None = None
) -> list[AccountManagerAssignment]:
    """Remove the current account manager from customers in one batch (rule O1).

    Like an assignment (rule E3) the change takes effect at 00:00 of the next day in the billing
    time zone: the manager keeps the customer until then, so a day is never split between
    "assigned" and "not assigned". The assignment row is kept with its end (history). A customer
    without an open assignment is left as it is, so a retry has no second effect. Returns the
    assignments ended. The caller has already scoped ``customers`` to what ``actor`` may act on.
    """
    at = at or clock.now()
    if not customers:
        raise ValidationFailed("Choose at least one customer.")
    end = clock.start_of_next_day(at)
    with transaction.atomic():
        ended = list(
            AccountManagerAssignment.objects.select_for_update()
            .filter(customer_id__in=sorted(c.pk for c in customers), ended_at__isnull=True)
            .select_related("customer", "manager")
            .order_by("customer_id")
        )
        for row in ended:
            # An assignment made today starts at ``end`` too: it ends before it was ever visible.
            row.ended_at = max(end, row.effective_from)
            row.save(update_fields=["ended_at"])
        if ended:
            audit.record(
                actor,
                "customer.unassign",
                partner=actor.partner,
                target=f"{len(ended)} customers",
                customers=[r.customer.account_id for r in ended],
                managers=sorted({r.manager.username for r in ended}),
                effective=end.isoformat(),
            )
    return ended


def get_partner_by_code(code: str) -> Partner:
    try:
        return Partner.objects.get(code=code)
    except Partner.DoesNotExist:
        raise NotFound(f"No partner with code {code!r}.") from None


def get_customer_by_account_id(account_id: str) -> Customer:
    try:
        return Customer.objects.get(account_id=account_id)
    except Customer.DoesNotExist:
        raise NotFound(f"No customer with account id {account_id!r}.") from None
