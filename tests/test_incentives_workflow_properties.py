"""Invariants of the reconciliation state machine (I2, I3, I9) under any sequence of actions:
no transition outside ``TRANSITIONS``, an incentive's state is its last transition's, the
incentives of one partner and period leave Pending confirmation together, and confirming any one
of them confirms them all."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from partnercenter.billing import payment_selectors, payment_services
from partnercenter.billing.models import Bill
from partnercenter.core import clock
from partnercenter.core.errors import DomainError
from partnercenter.incentives import workflow
from partnercenter.incentives.models import TRANSITIONS, Incentive, State, Transition
from tests.incentive_fixtures import DEADLINE, FEB, GENERATED, JAN, incentive, make_incentives

DB_SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# (partner, period, program): the extra pending incentives an example may add to the fixture's.
SLOTS = [(p, period, prog) for p in ("sp-a", "sp-b") for period in (FEB,) for prog in ("cloud", "market")]
USERS = ("sp-a-finance", "sp-b-admin", "dist-admin", "op")
NUMBERS = ("INC-202601-000001", "INC-202601-000002", "INC-202601-000003", "INC-202601-000004") + tuple(
    f"INC-202602-00000{i + 1}" for i in range(len(SLOTS))
)

number = st.sampled_from(NUMBERS)
step = st.integers(0, 3 * 86400)  # seconds the clock moves on before the action
action = st.one_of(
    st.tuples(st.just("confirm"), step, st.sampled_from(USERS), number),
    st.tuples(st.just("auto"), step, st.none(), st.none()),
    st.tuples(st.just("approve"), step, st.sampled_from(("op", "sp-a-admin")), number),
    st.tuples(st.just("bill"), step, st.sampled_from(("sp-a", "sp-b")), st.sampled_from((JAN, FEB))),
    st.tuples(st.just("pay"), step, st.sampled_from(("sp-a", "sp-b")), st.none()),
)


class Rollback(Exception):
    pass


def setup(org, extra: set[int]) -> dict[tuple[int, dt.date], set[str]]:
    made = make_incentives(org)
    for i in sorted(extra):
        code, period, prog = SLOTS[i]
        program = made.cloud if prog == "cloud" else made.market
        incentive(
            program,
            code,
            org,
            period=period,
            number=f"INC-202602-00000{i + 1}",
            lines=[("a1" if code == "sp-a" else "b1", f"O{i}", "Compute", "100", "0.03")],
            generated=GENERATED,  # the state machine only needs it before every action
            deadline=DEADLINE + dt.timedelta(days=28),
        )
    groups: dict[tuple[int, dt.date], set[str]] = {}
    for inc in Incentive.objects.filter(state=State.PENDING):
        groups.setdefault((inc.partner_id, inc.period_start), set()).add(inc.number)
    return groups


def act(org, op: tuple) -> None:
    kind, _step, who, what = op
    try:
        if kind == "confirm":
            workflow.confirm_period(actor=org.users[who], number=what)
        elif kind == "auto":
            workflow.auto_confirm_due(clock.now())
        elif kind == "approve":
            workflow.approve(actor=org.users[who], number=what)
        elif kind == "bill" and not Bill.objects.filter(partner=org.partners[who], month=what).exists():
            Bill.objects.create(
                partner=org.partners[who],
                month=what,
                currency="USD",
                generated_at=clock.now(),
                expenditure=Decimal("7.5"),
                refund=Decimal(0),
                adjustment=Decimal(0),
                tax=Decimal(0),
                amount=Decimal("7.5"),
            )
        elif kind == "pay":
            due = payment_selectors.amount_due(org.partners[who]).get("USD")
            if due:
                payment_services.top_up(actor=org.users["op"], partner=org.partners[who], currency="USD", amount=due)
                payment_services.pay_from_balance(actor=org.users[f"{who}-finance"], partner=org.partners[who])
    except DomainError:
        pass  # refusals are part of any sequence; they change nothing


def check(groups: dict[tuple[int, dt.date], set[str]]) -> None:
    allowed = set(TRANSITIONS.items())
    for t in Transition.objects.all():
        assert (t.from_state, t.to_state) in allowed, (t.from_state, t.to_state)
    for inc in Incentive.objects.all():
        path = list(Transition.objects.filter(incentive=inc).order_by("at", "id").values_list("to_state", flat=True))
        assert path and inc.state == path[-1]
        expected = ["", State.PENDING, State.ISSUING, State.ISSUED, State.EXPIRED]
        assert path == expected[1 : len(path) + 1]
        assert (inc.issued_at is not None) == (inc.state in (State.ISSUED, State.EXPIRED))
    for numbers in groups.values():
        pending = set(
            Incentive.objects.filter(number__in=numbers, state=State.PENDING).values_list("number", flat=True)
        )
        assert pending in (set(), numbers), (numbers, pending)


@DB_SETTINGS
@given(extra=st.sets(st.integers(0, len(SLOTS) - 1)), ops=st.lists(action, max_size=10))
def test_no_sequence_of_actions_leaves_the_state_machine(org, extra, ops):
    at = GENERATED + dt.timedelta(days=1)
    try:
        with transaction.atomic():
            with clock.frozen_at(at):
                groups = setup(org, extra)
            for op in ops:
                at += dt.timedelta(seconds=op[1])
                with clock.frozen_at(at):
                    act(org, op)
                check(groups)
            raise Rollback
    except Rollback:
        pass


@DB_SETTINGS
@given(extra=st.sets(st.integers(0, len(SLOTS) - 1)), chosen=st.sampled_from(NUMBERS))
def test_confirming_any_one_confirms_its_whole_period(org, extra, chosen):
    try:
        with transaction.atomic():
            with clock.frozen_at(GENERATED + dt.timedelta(days=1)):
                groups = setup(org, extra)
            target = Incentive.objects.filter(number=chosen).first()
            if target is None or target.state != State.PENDING:
                raise Rollback
            before = dict(Incentive.objects.values_list("number", "state"))
            with clock.frozen_at(GENERATED + dt.timedelta(days=1)):
                user = org.users[f"{target.partner.code}-finance"]
                done = workflow.confirm_period(actor=user, number=chosen)
            group = groups[(target.partner_id, target.period_start)]
            assert {i.number for i in done.incentives} == group
            after = dict(Incentive.objects.values_list("number", "state"))
            for n, state in after.items():
                assert state == (State.ISSUING if n in group else before[n]), n
            raise Rollback
    except Rollback:
        pass
