"""Writes of incentive programs (I1): defining a program with its rates and enrolling partners by
code or by kind, and a partner leaving a program (which starts the year after which its issued
incentives expire, I8). Bad input changes nothing: everything is checked before the first write,
and every problem is reported at once, naming the field."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from partnercenter.accounts.models import User
from partnercenter.core import audit, clock
from partnercenter.core.errors import Conflict, ValidationFailed
from partnercenter.core.money import InvalidAmount, amount, is_currency
from partnercenter.partners.models import AssociationType, Partner, PartnerKind
from partnercenter.usage.models import ServiceType

from . import calculation
from .models import Enrolment, PeriodKind, Program, Rate


@dataclass(frozen=True)
class RateSpec:
    """A rate as given: ``rate`` is a fraction (0.05 is 5 %), applying from ``min_base``."""

    rate: Any
    min_base: Any = "0"
    product_type: str = ""


@dataclass
class _Checked:
    rates: list[tuple[str, Decimal, Decimal]]
    partners: list[Partner]


def _check_rates(rates: Sequence[RateSpec], product_types: Sequence[str], errors: dict[str, str]) -> list[Any]:
    out: list[tuple[str, Decimal, Decimal]] = []
    for i, spec in enumerate(rates):
        try:
            rate, min_base = amount(spec.rate), amount(spec.min_base)
        except InvalidAmount as exc:
            errors[f"rates[{i}]"] = _("not an amount: %(why)s") % {"why": exc}
            continue
        if not 0 < rate <= 1:
            errors[f"rates[{i}].rate"] = _("a rate is a fraction greater than 0 and at most 1 (0.05 means 5 percent)")
        if min_base < 0:
            errors[f"rates[{i}].min_base"] = _("a tier's minimum base cannot be negative")
        if product_types and spec.product_type and spec.product_type not in product_types:
            errors[f"rates[{i}].product_type"] = _("%(type)s is not one of the program's product types") % {
                "type": spec.product_type
            }
        if any(pt == spec.product_type and mb == min_base for pt, mb, _ in out):
            errors[f"rates[{i}]"] = _('a second rate for product type "%(type)s" from %(min)s') % {
                "type": spec.product_type,
                "min": min_base,
            }
        out.append((spec.product_type, min_base, rate))
    if not rates:
        errors["rates"] = _("a program needs at least one rate")
    covered = {pt for pt, _, _ in out}
    uncovered = [pt for pt in product_types if pt not in covered] if "" not in covered else []
    if not product_types and "" not in covered and out:
        errors["rates"] = _(
            "without a list of product types, a rate for every product type (empty product type) is needed"
        )
    elif uncovered:
        errors["rates"] = _("no rate for the product type(s) %(types)s and no rate for every product type") % {
            "types": ", ".join(uncovered)
        }
    return out


def _check_period(period: str, valid_from: dt.date, valid_to: dt.date | None, errors: dict[str, str]) -> None:
    if period not in PeriodKind.values:
        errors["period"] = _("must be one of %(values)s") % {"values": ", ".join(PeriodKind.values)}
        return
    if calculation.period_start(valid_from, period) != valid_from:
        errors["valid_from"] = _("must be the first day of a %(period)s period, not %(day)s") % {
            "period": period,
            "day": valid_from.isoformat(),
        }
    if valid_to is not None:
        last_day = calculation.period_end(calculation.period_start(valid_to, period), period) - dt.timedelta(days=1)
        if valid_to != last_day:
            errors["valid_to"] = _("must be the last day of a %(period)s period, not %(day)s") % {
                "period": period,
                "day": valid_to.isoformat(),
            }
        elif valid_to < valid_from:
            errors["valid_to"] = _("must not be before valid_from")


def _check_partners(codes: Iterable[str], kinds: Iterable[str], errors: dict[str, str]) -> list[Partner]:
    codes, kinds = list(codes), list(kinds)
    found = {p.code: p for p in Partner.objects.filter(code__in=codes)}
    missing = [c for c in codes if c not in found]
    if missing:
        errors["partner_codes"] = _("no partner with the code(s) %(codes)s") % {"codes": ", ".join(missing)}
    by_kind = list(Partner.objects.filter(kind__in=kinds)) if kinds else []
    chosen = {p.pk: p for p in [*found.values(), *by_kind]}
    return [chosen[pk] for pk in sorted(chosen)]


def check_definition(fields: dict[str, Any], program_pk: int | None = None) -> dict[str, str]:
    """The problems of a program's fields (not its rates or partners), by field name; empty when
    it is valid. ``program_pk`` is the program being changed, if any (its own code is not taken)."""
    errors: dict[str, str] = {}
    code, name = fields["code"] or "", (fields["name"] or "").strip()
    if not code or not all(ch.isascii() and (ch.isalnum() or ch in "-_") for ch in code):
        errors["code"] = _("letters, digits, - and _ only")
    elif Program.objects.filter(code=code).exclude(pk=program_pk or 0).exists():
        errors["code"] = _("a program with the code %(code)s exists already") % {"code": code}
    if not name:
        errors["name"] = _("a program needs a name")
    if not is_currency(fields["currency"] or ""):
        errors["currency"] = _("%(code)s is not an ISO 4217 currency code") % {"code": fields["currency"]}
    if fields["association_type"] not in AssociationType.values:
        errors["association_type"] = _("must be one of %(values)s") % {"values": ", ".join(AssociationType.values)}
    bad = [s for s in fields["service_types"] or [] if s not in ServiceType.values]
    if bad:
        errors["service_types"] = _("unknown service type(s): %(values)s") % {"values": ", ".join(map(str, bad))}
    bad = [k for k in fields["partner_kinds"] or [] if k not in PartnerKind.values]
    if bad:
        errors["partner_kinds"] = _("unknown partner kind(s): %(values)s") % {"values": ", ".join(map(str, bad))}
    if not 0 <= (fields["confirmation_days"] or 0) <= 90:
        errors["confirmation_days"] = _("between 0 and 90 days")
    if fields["valid_from"] is None:
        errors["valid_from"] = _("a program needs its first day")
    else:
        _check_period(fields["period"], fields["valid_from"], fields["valid_to"], errors)
    return errors


def check_rates(rates: Sequence[RateSpec], product_types: Sequence[str]) -> dict[str, str]:
    """The problems of a program's rates, by ``rates[i].field``; empty when they are valid."""
    errors: dict[str, str] = {}
    _check_rates(rates, product_types, errors)
    return errors


def _check(fields: dict[str, Any], rates: Sequence[RateSpec], codes: Iterable[str]) -> _Checked:
    errors = check_definition(fields)
    checked_rates = _check_rates(rates, fields["product_types"], errors)
    partners = _check_partners(codes, [] if "partner_kinds" in errors else fields["partner_kinds"], errors)
    if errors:
        raise ValidationFailed(
            _("The incentive program %(code)s is not valid.") % {"code": fields["code"] or "-"}, details=errors
        )
    return _Checked(checked_rates, partners)


def create_program(
    *,
    code: str,
    name: str,
    period: str,
    currency: str,
    association_type: str,
    rates: Sequence[RateSpec],
    valid_from: dt.date,
    valid_to: dt.date | None = None,
    description: str = "",
    service_types: Sequence[str] = (),
    product_types: Sequence[str] = (),
    partner_codes: Iterable[str] = (),
    partner_kinds: Sequence[str] = (),
    confirmation_days: int = 10,
    actor: User | None = None,
) -> Program:
    """Define a program with its rates, and enrol the partners named by ``partner_codes`` and
    every partner of the kinds ``partner_kinds`` from now on. Raises ValidationFailed (with every
    problem by field) and writes nothing when any input is wrong."""
    fields = {
        "code": code,
        "name": name,
        "description": description,
        "period": period,
        "currency": currency,
        "association_type": association_type,
        "service_types": list(service_types),
        "product_types": list(product_types),
        "partner_kinds": list(partner_kinds),
        "confirmation_days": confirmation_days,
        "valid_from": valid_from,
        "valid_to": valid_to,
    }
    checked = _check(fields, rates, partner_codes)
    at = clock.now()
    with transaction.atomic():
        program = Program.objects.create(**fields, created_at=at, created_by=actor if actor and actor.pk else None)
        Rate.objects.bulk_create(Rate(program=program, product_type=p, min_base=m, rate=r) for p, m, r in checked.rates)
        Enrolment.objects.bulk_create(Enrolment(program=program, partner=p, joined_at=at) for p in checked.partners)
        audit.record(
            actor,
            "incentives.create_program",
            target=code,
            rates=[[p, str(m), str(r)] for p, m, r in checked.rates],
            partners=[p.code for p in checked.partners],
        )
    return program


def enrol(program: Program, partner_codes: Iterable[str], *, actor: User | None = None) -> list[Enrolment]:
    """Enrol the partners ``partner_codes`` in ``program`` from now on; those enrolled already
    are left as they are. Unknown codes change nothing."""
    errors: dict[str, str] = {}
    partners = _check_partners(partner_codes, [], errors)
    if errors:
        raise ValidationFailed(_("Cannot enrol partners in %(code)s.") % {"code": program.code}, details=errors)
    at = clock.now()
    with transaction.atomic():
        current = set(
            Enrolment.objects.filter(program=program, left_at__isnull=True).values_list("partner_id", flat=True)
        )
        made = Enrolment.objects.bulk_create(
            Enrolment(program=program, partner=p, joined_at=at) for p in partners if p.pk not in current
        )
        for row in made:
            audit.record(actor, "incentives.enrol", partner=row.partner, target=program.code)
    return made


def leave(program: Program, partner: Partner, at: dt.datetime | None = None, *, actor: User | None = None) -> Enrolment:
    """The partner leaves ``program`` at ``at`` (now by default): its open enrolment ends there.
    Raises Conflict when it is not enrolled, ValidationFailed when ``at`` is before it joined."""
    at = at or clock.now()
    with transaction.atomic():
        Partner.objects.select_for_update().get(pk=partner.pk)
        enrolment = Enrolment.objects.filter(program=program, partner=partner, left_at__isnull=True).first()
        if enrolment is None:
            raise Conflict(
                _("%(partner)s is not enrolled in %(program)s.") % {"partner": partner.code, "program": program.code},
                code="not_enrolled",
            )
        if at <= enrolment.joined_at:
            raise ValidationFailed(
                _("%(partner)s cannot leave %(program)s at %(at)s: it joined at %(joined)s.")
                % {
                    "partner": partner.code,
                    "program": program.code,
                    "at": at.isoformat(),
                    "joined": enrolment.joined_at.isoformat(),
                },
                details={"at": _("must be after the partner joined")},
            )
        Enrolment.objects.filter(pk=enrolment.pk).update(left_at=at)
        enrolment.left_at = at
        audit.record(actor, "incentives.leave", partner=partner, target=program.code, left_at=at.isoformat())
    return enrolment
