"""Incentives made directly in the tables, for the page, API, export and payout tests (the
calculation from the ledger has its own tests). Built on the ``org`` fixture of conftest."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from partnercenter.core import clock
from partnercenter.incentives.models import (
    Enrolment,
    Incentive,
    IncentiveKind,
    Line,
    Program,
    Rate,
    State,
    Transition,
)
from tests.conftest import Org

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
JAN, FEB, MAR, APR = (dt.date(2026, m, 1) for m in (1, 2, 3, 4))
# Generated at 00:00 on 5 February (Shanghai) for January; deadline ten days later.
GENERATED = dt.datetime(2026, 2, 5, 0, 0, tzinfo=SHANGHAI)
DEADLINE = dt.datetime(2026, 2, 16, 0, 0, tzinfo=SHANGHAI)


@dataclass
class Incentives:
    cloud: Program  # monthly, reseller, 3 % (5 % from 1000) on every product type
    market: Program  # monthly, reseller, marketplace only
    by_number: dict[str, Incentive] = field(default_factory=dict)


def _program(code: str, name: str, **extra: object) -> Program:
    return Program.objects.create(
        code=code,
        name=name,
        description=f"{name}: a share of eligible reseller expenditure.",
        period="monthly",
        currency="USD",
        association_type="reseller",
        confirmation_days=10,
        valid_from=dt.date(2025, 12, 1),
        created_at=dt.datetime(2025, 11, 20, tzinfo=dt.UTC),
        **extra,
    )


def incentive(
    program: Program,
    partner_code: str,
    org: Org,
    *,
    period: dt.date,
    number: str,
    lines: list[tuple[str, str, str, str, str]],
    state: str = State.PENDING,
    kind: str = IncentiveKind.EARNING,
    generated: dt.datetime = GENERATED,
    deadline: dt.datetime = DEADLINE,
    corrects: dt.date | None = None,
) -> Incentive:
    """An incentive with ``lines`` (customer, order id, product type, base, rate); each line's
    amount is base × rate rounded half-up to cents, as the product computes it. The transitions
    up to ``state`` are recorded one second apart from ``generated``."""
    partner = org.partners[partner_code]
    rows = []
    for account, order, product, base, rate in lines:
        amount = (Decimal(base) * Decimal(rate)).quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")
        rows.append((org.customers[account], order, product, Decimal(base), Decimal(rate), amount))
    inc = Incentive.objects.create(
        number=number,
        program=program,
        partner=partner,
        period_start=period,
        period_end=(period.replace(day=28) + dt.timedelta(days=4)).replace(day=1),
        currency=program.currency,
        association_type=program.association_type,
        kind=kind,
        base_amount=sum((r[3] for r in rows), Decimal(0)),
        amount=sum((r[5] for r in rows), Decimal(0)),
        line_count=len(rows),
        generated_at=generated,
        deadline=deadline,
        through_line_item_id=1000,
        state=state,
        issued_at=generated + dt.timedelta(seconds=2) if state in (State.ISSUED, State.EXPIRED) else None,
    )
    for customer, order, product, base, rate, amount in rows:
        Line.objects.create(
            incentive=inc,
            customer=customer,
            order_id=order,
            service_type="cloud",
            product_type=product,
            base_amount=base,
            rate=rate,
            amount=amount,
            line_item_count=2,
            corrects_period=corrects,
        )
    path = ["", State.PENDING, State.ISSUING, State.ISSUED, State.EXPIRED]
    for i in range(path.index(state)):
        Transition.objects.create(
            incentive=inc, from_state=path[i], to_state=path[i + 1], at=generated + dt.timedelta(seconds=i)
        )
    return inc


def make_incentives(org: Org) -> Incentives:
    """sp-a: January cloud (pending, 2 lines) and market (pending, 1 line) incentives, a December
    cloud incentive issued, and a clawback issued in January for a December order; sp-b: a
    January cloud incentive (pending). Numbers are INC-YYYYMM-nnnnnn."""
    with clock.frozen_at(dt.datetime(2025, 11, 20, tzinfo=dt.UTC)):
        cloud = _program("cloud-growth", "Cloud Growth Incentive")
        market = _program("marketplace-boost", "Marketplace Boost", service_types=["marketplace"])
    Rate.objects.create(program=cloud, product_type="", min_base=Decimal(0), rate=Decimal("0.03"))
    Rate.objects.create(program=cloud, product_type="", min_base=Decimal(1000), rate=Decimal("0.05"))
    Rate.objects.create(program=market, product_type="", min_base=Decimal(0), rate=Decimal("0.1"))
    for program in (cloud, market):
        for code in ("sp-a", "sp-b", "dist", "sub1"):
            Enrolment.objects.create(
                program=program, partner=org.partners[code], joined_at=dt.datetime(2025, 11, 20, tzinfo=dt.UTC)
            )
    made = Incentives(cloud=cloud, market=market)
    dec_generated = dt.datetime(2026, 1, 5, 0, 0, tzinfo=SHANGHAI)
    specs = [
        (
            cloud,
            "sp-a",
            JAN,
            "INC-202601-000001",
            [
                ("a1", "CS2601000001", "Compute", "800.125", "0.03"),
                ("a3", "CS2601000002", "Storage", "99.995", "0.03"),
            ],
            {},
        ),
        (market, "sp-a", JAN, "INC-202601-000002", [("a3", "CS2601000003", "Security", "50.05", "0.1")], {}),
        (cloud, "sp-b", JAN, "INC-202601-000003", [("b1", "CS2601000004", "Compute", "300", "0.03")], {}),
        (
            cloud,
            "sp-a",
            dt.date(2025, 12, 1),
            "INC-202512-000001",
            [
                ("a1", "CS2512000001", "Compute", "1200", "0.05"),
            ],
            {"state": State.ISSUED, "generated": dec_generated, "deadline": dec_generated + dt.timedelta(days=11)},
        ),
        (
            cloud,
            "sp-a",
            JAN,
            "INC-202601-000004",
            [("a1", "CS2512000001", "Compute", "-100", "0.05")],
            {"state": State.ISSUED, "kind": IncentiveKind.CLAWBACK, "corrects": dt.date(2025, 12, 1)},
        ),
    ]
    for program, partner, period, number, lines, extra in specs:
        made.by_number[number] = incentive(program, partner, org, period=period, number=number, lines=lines, **extra)
    return made
