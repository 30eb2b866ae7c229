"""Feedback on incentive detail lines (I5): a partner disputes a line, a platform operator
answers. Both are appended (a feedback entry is never edited) and audited.

Who: feedback comes from the users of the line's own partner (``Purpose.ACT``: a distributor
views its second-level resellers' lines but does not dispute them; operators answer instead);
answers come from platform operators only. A line out of the caller's view is 404, a line in
view but not the caller's to dispute is 403.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from partnercenter.accounts.models import User
from partnercenter.core import audit, clock
from partnercenter.core.errors import Conflict, Forbidden, ValidationFailed
from partnercenter.partners.models import Partner

from . import details_selectors as sel
from .models import Feedback

MAX_TEXT = 2000


def clean_text(text: Any) -> str:
    """The text stripped, 1 to 2000 characters; ValidationFailed (nothing written) otherwise."""
    value = text.strip() if isinstance(text, str) else ""
    if not value:
        raise ValidationFailed(
            _("Feedback: enter the text of your feedback."),
            code="invalid_text",
            details=[{"where": "text", "why": _("must not be empty")}],
        )
    if len(value) > MAX_TEXT:
        raise ValidationFailed(
            _("Feedback: at most %(n)d characters (this one has %(m)d).") % {"n": MAX_TEXT, "m": len(value)},
            code="invalid_text",
            details=[{"where": "text", "why": _("must be at most %(n)d characters") % {"n": MAX_TEXT}}],
        )
    return value


def _lock_partner(partner_id: int) -> None:
    Partner.objects.select_for_update().filter(pk=partner_id).values_list("pk", flat=True).first()


def _repeat(actor: User, key: str, line_id: int, text: str) -> Feedback | None:
    earlier = Feedback.objects.filter(author=actor, idempotency_key=key).first()
    if earlier is None:
        return None
    if earlier.line_id != line_id or earlier.text != text or earlier.reply_to_id is not None:
        raise Conflict(
            _("This Idempotency-Key was already used with a different request."), code="idempotency_key_reused"
        )
    return earlier


def leave_feedback(*, actor: User, line_id: Any, text: Any, idempotency_key: str = "") -> Feedback:
    """Record the actor's feedback on a line; the same ``idempotency_key`` answers the first one."""
    line = sel.get_line(actor, line_id)  # 404 when not in view
    if not sel.may_leave_feedback(actor, line):
        raise Forbidden(
            _("Only the users of the line's own partner can leave feedback on it."), code="feedback_forbidden"
        )
    value = clean_text(text)
    key = (idempotency_key or "").strip()[:200]
    with transaction.atomic():
        # One partner's feedback writes are serialised, so a repeated key cannot insert twice.
        _lock_partner(line.incentive.partner_id)
        if key and (earlier := _repeat(actor, key, line.pk, value)) is not None:
            return earlier
        fb = Feedback.objects.create(line=line, text=value, author=actor, created_at=clock.now(), idempotency_key=key)
        audit.record(
            actor,
            "incentive.feedback",
            partner=line.incentive.partner,
            target=line.incentive.number,
            line=line.pk,
            feedback=fb.pk,
        )
    return fb


def answer_feedback(*, actor: User, feedback_id: Any, text: Any) -> Feedback:
    """A platform operator's answer to a partner's feedback (an answer to an answer joins the
    thread of the feedback it answered)."""
    fb = sel.feedback_for(actor, feedback_id)  # 404 when not in view
    if not sel.may_answer(actor):
        raise Forbidden(_("Only platform operators answer feedback."), code="answer_forbidden")
    value = clean_text(text)
    root = fb if fb.reply_to_id is None else fb.reply_to
    assert root is not None
    line = fb.line
    with transaction.atomic():
        _lock_partner(line.incentive.partner_id)
        answer = Feedback.objects.create(line=line, reply_to=root, text=value, author=actor, created_at=clock.now())
        audit.record(
            actor,
            "incentive.feedback_answer",
            partner=line.incentive.partner,
            target=line.incentive.number,
            line=line.pk,
            feedback=root.pk,
            answer=answer.pk,
        )
    return answer
