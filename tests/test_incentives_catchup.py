"""When incentives are generated (I2): a period is due from 00:00 on the 5th of the month after it
(Shanghai time), quarterly periods are calendar quarters, the confirmation deadline counts from
the day of generation, a missed run is made good oldest first, and the database refuses edits."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from partnercenter.accounts.models import AuditEntry
from partnercenter.incentives import calculation, services, workflow
from partnercenter.incentives.models import Estimate, Incentive, Line, Transition
from partnercenter.incentives.programs import RateSpec
from tests.incentive_ledger import MARCH, SHANGHAI, d, get, ingest, on, program, rec

LAST_SECOND = dt.datetime(2026, 4, 4, 23, 59, 59, tzinfo=SHANGHAI)
DUE = dt.datetime(2026, 4, 5, 0, 0, 0, tzinfo=SHANGHAI)


@pytest.fixture
def ledger(org):
    ingest(
        [
            rec("J1", "a1", "400", on(20, 1), order="J1"),
            rec("F1", "a1", "250", on(10, 2), order="F1"),
            rec("M1", "a1", "100", on(10), order="M1"),
            rec("M2", "b1", "33.3", on(11), order="M2"),
        ],
        on(1, month=4, hour=1),
    )
    return org


def test_a_month_is_due_at_midnight_on_the_fifth_not_a_second_before(ledger):
    program("cloud", [RateSpec("0.1")], confirmation_days=3)
    early = services.catch_up(LAST_SECOND)
    assert early.periods == [("cloud", dt.date(2026, 2, 1))]  # February was due on 5 March
    assert not Incentive.objects.filter(period_start=MARCH).exists()
    assert services.catch_up(DUE).periods == [("cloud", MARCH)]
    sp_a = get("cloud", "sp-a", MARCH)
    assert (sp_a.amount, sp_a.generated_at) == (d("10"), DUE)
    # Three confirmation days after 5 April: confirmable until 8 April ends.
    assert sp_a.deadline == dt.datetime(2026, 4, 9, 0, 0, tzinfo=SHANGHAI)
    with pytest.raises(ValueError, match="due from"):
        services.generate_period(sp_a.program, dt.date(2026, 4, 1), at=DUE)


def test_the_deadline_counts_from_the_day_the_period_was_actually_generated(ledger):
    program("cloud", [RateSpec("0.1")], confirmation_days=10)
    late = dt.datetime(2026, 4, 7, 15, 30, tzinfo=SHANGHAI)  # the worker was down on the 5th and 6th
    services.catch_up(late)
    sp_a = get("cloud", "sp-a", MARCH)
    assert (sp_a.generated_at, sp_a.deadline) == (late, dt.datetime(2026, 4, 18, 0, 0, tzinfo=SHANGHAI))
    assert calculation.deadline(LAST_SECOND, 0) == DUE  # 0 days: until the generation day ends


def test_a_quarter_is_generated_once_it_is_over_and_due(ledger):
    program("quarterly", [RateSpec("0.05")], period="quarterly", valid_from=dt.date(2026, 1, 1))
    assert services.catch_up(LAST_SECOND).periods == []
    assert services.catch_up(DUE).periods == [("quarterly", dt.date(2026, 1, 1))]
    q1 = get("quarterly", "sp-a", dt.date(2026, 1, 1))
    assert (q1.number, q1.period_end, q1.base_amount, q1.amount) == (
        "INC-202601-000001",
        dt.date(2026, 4, 1),
        d("750"),  # January, February and March
        d("37.50"),
    )
    assert get("quarterly", "sp-b", dt.date(2026, 1, 1)).amount == d("1.67")  # 1.665 half-up
    assert calculation.due_at(dt.date(2026, 10, 1), "quarterly") == dt.datetime(2027, 1, 5, tzinfo=SHANGHAI)
    assert calculation.period_start(dt.date(2026, 12, 31), "quarterly") == dt.date(2026, 10, 1)


def test_a_missed_run_is_made_good_oldest_first_and_again_changes_nothing(ledger):
    program("cloud", [RateSpec("0.1")], valid_from=dt.date(2026, 1, 1))
    june = dt.datetime(2026, 6, 10, 9, 0, tzinfo=SHANGHAI)
    result = services.catch_up(june)
    # January is generated too, empty: the partners joined the program on 1 February.
    assert result.periods == [("cloud", dt.date(2026, m, 1)) for m in (1, 2, 3, 4, 5)]
    numbers = list(Incentive.objects.order_by("period_start", "number").values_list("number", "amount"))
    assert numbers == [
        ("INC-202602-000001", d("25")),
        ("INC-202603-000001", d("10")),
        ("INC-202603-000002", d("3.33")),
    ]
    again = services.catch_up(june + dt.timedelta(hours=1))
    assert (again.periods, again.incentives, again.estimates) == ([], 0, 0)
    assert Incentive.objects.count() == 3


def test_the_tick_command_runs_the_incentive_catch_up(ledger):
    import io

    from partnercenter.core import clock

    program("cloud", [RateSpec("0.1")])
    out = io.StringIO()
    with clock.frozen_at(DUE):
        call_command("tick", stdout=out)
    assert "Incentives: period(s) generated: cloud 2026-02, cloud 2026-03; 3 incentive(s)" in out.getvalue()


def _refused(sql: str, params: list[object]) -> None:
    with pytest.raises(DatabaseError, match="immutable"), transaction.atomic(), connection.cursor() as c:
        c.execute(sql, params)


def test_the_database_refuses_edits_of_generated_incentives(ledger):
    program("cloud", [RateSpec("0.1")])
    services.catch_up(DUE)
    sp_a = get("cloud", "sp-a", MARCH)
    line = sp_a.lines.get()
    for column, value in [("amount", "99"), ("number", "INC-X"), ("deadline", DUE), ("partner_id", sp_a.partner_id)]:
        if column == "partner_id":
            value = ledger.partners["sp-b"].pk
        _refused(f"UPDATE incentives_incentive SET {column} = %s WHERE id = %s", [value, sp_a.pk])  # noqa: S608
    _refused("DELETE FROM incentives_incentive WHERE id = %s", [sp_a.pk])
    _refused("UPDATE incentives_line SET rate = %s WHERE id = %s", ["0.2", line.pk])
    _refused("DELETE FROM incentives_line WHERE id = %s", [line.pk])
    first = Transition.objects.get(incentive=sp_a)
    _refused("UPDATE incentives_transition SET reason = %s WHERE id = %s", ["x", first.pk])
    _refused("DELETE FROM incentives_transition WHERE id = %s", [first.pk])
    assert services.refresh_estimates(on(20), force=True) == 2  # March so far
    _refused("DELETE FROM incentives_estimate", [])
    with pytest.raises(DatabaseError), transaction.atomic():
        Line.objects.filter(pk=line.pk).update(amount=d("1"))
    with pytest.raises(DatabaseError), transaction.atomic():
        Estimate.objects.update(amount=d("1"))
    _refuse_feedback_and_payout_edits(ledger, sp_a, line)
    # Its state changes, and issued_at with it, only through the recorded transitions.
    workflow.transition(sp_a, "issuing", at=DUE + dt.timedelta(days=1))
    workflow.transition(sp_a, "issued", at=DUE + dt.timedelta(days=2))
    sp_a.refresh_from_db()
    assert (sp_a.state, sp_a.issued_at, sp_a.amount) == ("issued", DUE + dt.timedelta(days=2), d("10"))
    assert Transition.objects.filter(incentive=sp_a).count() == 3


def _refuse_feedback_and_payout_edits(org, incentive: Incentive, line: Line) -> None:
    from partnercenter.incentives.models import Application, ApplicationDecision, ApplicationItem, Feedback

    user = org.users["sp-a-admin"]
    feedback = Feedback.objects.create(line=line, text="the base looks high", author=user, created_at=DUE)
    application = Application.objects.create(
        number="PAY-20260501-000001",
        partner=incentive.partner,
        currency="USD",
        positive_total=d("10"),
        negative_total=d("0"),
        amount=d("10"),
        created_at=DUE,
        created_by=user,
    )
    item = ApplicationItem.objects.create(application=application, incentive=incentive, amount=d("10"))
    decision = ApplicationDecision.objects.create(
        application=application, state="rejected", decided_at=DUE, decided_by=org.users["op"]
    )
    for table, pk in [
        ("incentives_feedback", feedback.pk),
        ("incentives_applicationitem", item.pk),
        ("incentives_applicationdecision", decision.pk),
    ]:
        _refused(f"UPDATE {table} SET id = id WHERE id = %s", [pk])  # noqa: S608
        _refused(f"DELETE FROM {table} WHERE id = %s", [pk])  # noqa: S608


@pytest.mark.django_db(transaction=True)
def test_flushing_the_whole_database_is_allowed_and_keeps_incentives_immutable(ledger):
    program("cloud", [RateSpec("0.1")])
    services.catch_up(DUE)
    services.refresh_estimates(on(10, 4), force=True)
    call_command("flush", interactive=False, verbosity=0)
    assert not Incentive.objects.exists() and not Line.objects.exists() and not Estimate.objects.exists()
    # The triggers are back, as many as the migration made.
    with connection.cursor() as c:
        if connection.vendor == "sqlite":
            c.execute("SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'incentives_%'")
            assert c.fetchone()[0] == 14
        else:
            c.execute("SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'incentives_%'")
            assert c.fetchone()[0] == 8


def test_a_period_without_incentives_is_generated_once_too(org):
    program("nobody", [RateSpec("0.1")], partner_kinds=[])  # no partner enrolled
    later = dt.datetime(2027, 1, 5, 0, 0, tzinfo=SHANGHAI)  # later than any wall clock of the test run
    first = services.catch_up(later)
    assert first.periods == [("nobody", dt.date(2026, m, 1)) for m in range(2, 13)]
    assert first.incentives == 0
    entry = AuditEntry.objects.get(action="incentives.generate", target="nobody 2026-12-01")
    assert (entry.at, entry.detail["incentives"]) == (later, 0)
    assert services.catch_up(later + dt.timedelta(minutes=1)).periods == []


def test_the_catch_up_carries_an_incentive_through_its_whole_life(ledger):
    """From the ledger to expiry by the worker alone, with the partner bill of the month in the way
    (I2, I3, I8, I9): generated on the 5th, frozen past its deadline while March's bill is unpaid,
    confirmed by the first catch-up after the payment, approved, and expired one year after the
    partner left the program — each boundary one second before and at the instant."""
    from partnercenter.billing import payment_services
    from partnercenter.billing import services as billing
    from partnercenter.core import clock
    from partnercenter.incentives import programs

    cloud = program("cloud", [RateSpec("0.1")], confirmation_days=3)
    billing.catch_up(DUE)
    services.catch_up(DUE)
    sp_a = get("cloud", "sp-a", MARCH)
    deadline = dt.datetime(2026, 4, 9, 0, 0, tzinfo=SHANGHAI)
    assert (sp_a.state, sp_a.deadline) == ("pending_confirmation", deadline)

    assert services.catch_up(deadline - dt.timedelta(seconds=1)).auto_confirmed == 0
    # Past the deadline, but every partner's bills of January to March are unpaid: all frozen.
    assert services.catch_up(deadline).auto_confirmed == 0
    assert set(Incentive.objects.values_list("state", flat=True)) == {"pending_confirmation"}

    op, partner = ledger.users["op"], ledger.partners["sp-a"]
    paid = dt.datetime(2026, 4, 12, 10, 0, tzinfo=SHANGHAI)
    with clock.frozen_at(paid):
        payment_services.top_up(actor=op, partner=partner, currency="USD", amount="1000")
        payment_services.pay_from_balance(actor=ledger.users["sp-a-finance"], partner=partner, currency="USD")
    # sp-a's February and March incentives; sp-b's March stays frozen behind its unpaid bill.
    assert services.catch_up(paid + dt.timedelta(minutes=1)).auto_confirmed == 2
    assert get("cloud", "sp-b", MARCH).state == "pending_confirmation"
    last = Transition.objects.filter(incentive=get("cloud", "sp-a", MARCH)).order_by("-id").first()
    assert (last.to_state, last.actor, last.reason) == (
        "issuing",
        None,
        "Confirmed automatically after the deadline",
    )

    approved = dt.datetime(2026, 4, 15, 9, 0, tzinfo=SHANGHAI)
    with clock.frozen_at(approved):
        workflow.approve(actor=op, number=sp_a.number)
    left = dt.datetime(2026, 6, 30, 18, 0, tzinfo=SHANGHAI)
    programs.leave(cloud, partner, left)
    year_on = dt.datetime(2027, 6, 30, 18, 0, tzinfo=SHANGHAI)
    assert services.catch_up(year_on - dt.timedelta(seconds=1)).expired == 0
    assert services.catch_up(year_on).expired == 1
    sp_a.refresh_from_db()
    assert (sp_a.state, sp_a.issued_at) == ("expired", approved)
    assert [t.to_state for t in Transition.objects.filter(incentive=sp_a).order_by("id")] == [
        "pending_confirmation",
        "issuing",
        "issued",
        "expired",
    ]
