"""Which export tasks a user sees and may download (all scoping through :mod:`partnercenter.scoping`).

* A partner user sees the tasks they created; a **partner admin** sees every task of their
  partner (they may see all of its customers anyway, so no file shows them more than their
  scope). Exports belong to the partner that asked: a distributor does not see its second-level
  resellers' tasks.
* A platform operator sees the platform operators' tasks (those without a partner).
* Download is allowed on exactly the tasks a user sees, when succeeded and not expired.
  Anything else — another partner's task, a colleague's task, an unknown id — is the same 404.
"""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

from partnercenter import scoping
from partnercenter.accounts.models import User
from partnercenter.core import clock
from partnercenter.core.errors import NotFound

from .models import ExportStatus, ExportTask


def visible_tasks(user: User) -> QuerySet[ExportTask]:
    qs = ExportTask.objects.select_related("created_by", "partner")
    ids = scoping.partner_ids_for(user, scoping.Purpose.ACT)
    if ids is None:  # platform operator
        return qs.filter(partner__isnull=True)
    if not ids:
        return qs.none()
    if user.is_partner_admin:
        return qs.filter(partner_id__in=ids)
    return qs.filter(partner_id__in=ids, created_by=user)


def _parse(task_id: str | uuid.UUID) -> uuid.UUID:
    if isinstance(task_id, uuid.UUID):
        return task_id
    try:
        return uuid.UUID(str(task_id))
    except ValueError:
        raise NotFound("No such export task.") from None


def get_task(user: User, task_id: str | uuid.UUID) -> ExportTask:
    task = visible_tasks(user).filter(pk=_parse(task_id)).first()
    if task is None:
        raise NotFound("No such export task.")
    return task


def downloadable_task(user: User, task_id: str | uuid.UUID) -> ExportTask:
    """The task whose file ``user`` may download now; 404 otherwise (not ready, expired, not theirs)."""
    task = get_task(user, task_id)
    if (
        task.status != ExportStatus.SUCCEEDED
        or task.expires_at is None
        or task.expires_at <= clock.now()
        or not task.path.is_file()
    ):
        raise NotFound("No such export file.")
    return task
