"""Feedback on incentive detail lines (I5): a partner's users dispute a line, platform operators
answer; bad input writes nothing; the same Idempotency-Key records one entry; both are audited."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from partnercenter.accounts.models import AuditEntry
from partnercenter.core import clock
from partnercenter.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from partnercenter.incentives import feedback as fb
from partnercenter.incentives.models import Feedback
from tests.incentive_fixtures import JAN, Incentives, incentive, make_incentives
from tests.test_billing_concurrency import _parallel

NOW = dt.datetime(2026, 2, 10, 4, 0, tzinfo=dt.UTC)


@pytest.fixture
def inc(org) -> Incentives:
    made = make_incentives(org)
    with clock.frozen_at(NOW):
        yield made


@pytest.fixture
def line(inc):
    return inc.by_number["INC-202601-000002"].lines.get()  # sp-a, marketplace, CS2601000003


def written() -> list[tuple[str, int | None, str]]:
    return list(Feedback.objects.order_by("id").values_list("text", "reply_to_id", "author__username"))


def test_a_partner_user_leaves_feedback_stripped_and_audited(org, line):
    entry = fb.leave_feedback(actor=org.users["sp-a-finance"], line_id=line.pk, text="\n  The rate should be 12 %. \n")
    assert written() == [("The rate should be 12 %.", None, "sp-a-finance")]
    assert entry.created_at == NOW and entry.line_id == line.pk
    audit = AuditEntry.objects.get(action="incentive.feedback")
    assert (audit.actor.username, audit.partner.code, audit.target) == ("sp-a-finance", "sp-a", "INC-202601-000002")
    assert audit.detail == {"line": line.pk, "feedback": entry.pk}


@pytest.mark.parametrize(
    ("text", "why"),
    [("", "must not be empty"), ("   \n\t ", "must not be empty"), ("x" * 2001, "must be at most 2000 characters"),
     (None, "must not be empty"), (42, "must not be empty")],
)  # fmt: skip
def test_invalid_text_writes_nothing(org, line, text, why):
    with pytest.raises(ValidationFailed) as exc:
        fb.leave_feedback(actor=org.users["sp-a-finance"], line_id=line.pk, text=text)
    assert exc.value.code == "invalid_text" and exc.value.details == [{"where": "text", "why": why}]
    assert written() == [] and not AuditEntry.objects.filter(action__startswith="incentive.").exists()


def test_exactly_2000_characters_after_stripping_are_accepted(org, line):
    fb.leave_feedback(actor=org.users["sp-a-finance"], line_id=line.pk, text="  " + "y" * 2000 + "  ")
    assert [len(t) for t, _r, _a in written()] == [2000]


def test_the_same_idempotency_key_records_one_entry(org, line, inc):
    user = org.users["sp-a-finance"]
    first = fb.leave_feedback(actor=user, line_id=line.pk, text="Please check", idempotency_key="k-1")
    again = fb.leave_feedback(actor=user, line_id=line.pk, text="Please check", idempotency_key="k-1")
    assert again.pk == first.pk and len(written()) == 1
    with pytest.raises(Conflict) as exc:
        fb.leave_feedback(actor=user, line_id=line.pk, text="Something else", idempotency_key="k-1")
    assert exc.value.code == "idempotency_key_reused"
    other = inc.by_number["INC-202601-000001"].lines.first()
    with pytest.raises(Conflict):
        fb.leave_feedback(actor=user, line_id=other.pk, text="Please check", idempotency_key="k-1")
    # another key, or no key, is another entry
    fb.leave_feedback(actor=user, line_id=line.pk, text="Please check", idempotency_key="k-2")
    fb.leave_feedback(actor=user, line_id=line.pk, text="Please check")
    assert len(written()) == 3
    assert AuditEntry.objects.filter(action="incentive.feedback").count() == 3


def test_operator_answers_and_the_answer_joins_the_thread(org, line):
    asked = fb.leave_feedback(actor=org.users["sp-a-finance"], line_id=line.pk, text="Why 10 %?")
    with clock.frozen_at(NOW + dt.timedelta(hours=1)):
        answer = fb.answer_feedback(actor=org.users["op"], feedback_id=asked.pk, text=" The program's rate. ")
    assert answer.reply_to_id == asked.pk and answer.created_at == NOW + dt.timedelta(hours=1)
    # an answer to an answer is part of the same thread
    again = fb.answer_feedback(actor=org.users["op"], feedback_id=answer.pk, text="And the tier.")
    assert again.reply_to_id == asked.pk
    assert written() == [("Why 10 %?", None, "sp-a-finance"), ("The program's rate.", asked.pk, "op"),
                         ("And the tier.", asked.pk, "op")]  # fmt: skip
    audit = AuditEntry.objects.filter(action="incentive.feedback_answer").order_by("id").first()
    assert audit.detail == {"line": line.pk, "feedback": asked.pk, "answer": answer.pk}
    assert audit.partner.code == "sp-a" and audit.target == "INC-202601-000002"


def test_an_invalid_answer_writes_nothing(org, line):
    asked = fb.leave_feedback(actor=org.users["sp-a-finance"], line_id=line.pk, text="Why?")
    with pytest.raises(ValidationFailed):
        fb.answer_feedback(actor=org.users["op"], feedback_id=asked.pk, text="  ")
    assert len(written()) == 1 and not AuditEntry.objects.filter(action="incentive.feedback_answer").exists()


def test_partners_cannot_answer(org, line):
    asked = fb.leave_feedback(actor=org.users["sp-a-finance"], line_id=line.pk, text="Why?")
    for username in ("sp-a-admin", "sp-a-finance"):
        with pytest.raises(Forbidden) as exc:
            fb.answer_feedback(actor=org.users[username], feedback_id=asked.pk, text="Because")
        assert exc.value.code == "answer_forbidden"
    with pytest.raises(NotFound):  # another partner's feedback does not exist for sp-b
        fb.answer_feedback(actor=org.users["sp-b-admin"], feedback_id=asked.pk, text="Because")
    with pytest.raises(NotFound):
        fb.answer_feedback(actor=org.users["op"], feedback_id=asked.pk + 100, text="Because")
    assert len(written()) == 1


def test_operators_answer_but_do_not_leave_feedback(org, line):
    with pytest.raises(Forbidden) as exc:
        fb.leave_feedback(actor=org.users["op"], line_id=line.pk, text="I dispute")
    assert exc.value.code == "feedback_forbidden" and written() == []


def test_another_partners_line_is_not_found(org, line):
    with pytest.raises(NotFound):
        fb.leave_feedback(actor=org.users["sp-b-admin"], line_id=line.pk, text="Not mine")
    with pytest.raises(NotFound):
        fb.leave_feedback(actor=org.users["sp-a-admin"], line_id="nonsense", text="x")
    assert written() == []


def test_distributor_views_but_cannot_dispute_its_sub_resellers_line(org, inc):
    sub = incentive(
        inc.cloud,
        "sub1",
        org,
        period=JAN,
        number="INC-202601-000005",
        lines=[("s1", "CS2601000009", "Compute", "10", "0.03")],
    ).lines.get()
    with pytest.raises(Forbidden) as exc:
        fb.leave_feedback(actor=org.users["dist-admin"], line_id=sub.pk, text="On behalf")
    assert exc.value.code == "feedback_forbidden" and written() == []
    fb.leave_feedback(actor=org.users["sub1-finance"], line_id=sub.pk, text="Our own")
    assert written() == [("Our own", None, "sub1-finance")]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite: BEGIN IMMEDIATE serialises all writers")
@pytest.mark.django_db(transaction=True)
def test_the_same_key_sent_at_once_records_one_entry(org, line):
    user = org.users["sp-a-finance"]
    ids: list[int] = []

    def send() -> None:
        ids.append(fb.leave_feedback(actor=user, line_id=line.pk, text="Twice?", idempotency_key="race").pk)

    assert _parallel(*(send for _ in range(6))) == []
    assert len(set(ids)) == 1 and len(ids) == 6
    assert written() == [("Twice?", None, "sp-a-finance")]
