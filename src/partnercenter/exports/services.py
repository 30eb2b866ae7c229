"""Export tasks: create (in the request), run (in the worker), expire and reap (rules X1–X4).

Life of a task::

    queued ──run──▶ running ──▶ succeeded ──7 days──▶ expired (file deleted)
                       │
                       └──error / killed (no heartbeat for 10 min)──▶ failed (no file kept)

* **Create** answers at once; the work is enqueued (django-tasks) when the transaction commits.
* **Double click**: the same request (same user, kind, params, format) within
  :data:`DEDUP_WINDOW` returns the first task unless it failed. To make that hold under
  concurrency the check and the insert run in one transaction that first locks the user's row
  (``SELECT … FOR UPDATE`` on PostgreSQL; on SQLite the settings open every transaction with
  ``BEGIN IMMEDIATE``, which serialises writers). A per-user lock was chosen over a unique
  constraint on a time bucket because a bucket boundary would let two clicks 50 ms apart
  straddle two buckets; the lock only serialises one user's own export requests.
* **Idempotency-Key**: the same key from the same user always answers the same task (a unique
  constraint backs it); the same key with another request is a 409.
* **Validation** is complete before anything is stored: the kind's declared search options
  (:func:`registry.clean_params`), its own ``validate`` hook, and ``has_rows`` — an export whose
  options match nothing is refused ("nothing to export") rather than queued.
* **Language**: the task records the language of the request that created it (English or
  简体中文); the worker writes headers, enumerated values and the sheet name in it.
* **Run** is idempotent: it locks the row and moves queued → running, otherwise does nothing.
  The file is written to ``<name>.part``, fsynced, then renamed (``os.replace``, atomic) to its
  final name; only then is the task marked succeeded. A failure deletes the ``.part``. So a
  half-written file is never offered for download. A run that finds no rows (the data vanished
  since creation) fails with :data:`EMPTY_AT_RUN` and keeps no file.
* **Heartbeat** every :data:`writers.PROGRESS_EVERY` rows; a running task whose heartbeat is
  older than :data:`STALE_AFTER` (the worker was killed) is failed by :func:`reap_stale` — run by
  ``partnercenter exports purge`` and, for the rows it shows, by the history page.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import translation
from django.utils.translation import gettext, gettext_noop

from partnercenter import scoping
from partnercenter.accounts.models import User
from partnercenter.core import audit, clock
from partnercenter.core.errors import Conflict, DomainError, ValidationFailed

from . import fast, registry, writers
from .models import ExportFormat, ExportStatus, ExportTask, export_root

logger = logging.getLogger(__name__)

DEDUP_WINDOW = dt.timedelta(seconds=10)
RETENTION = dt.timedelta(days=7)
STALE_AFTER = dt.timedelta(minutes=10)
# A task still queued after this long never reached a worker (none running, or the enqueue was
# lost): it is failed so that the user sees it and exports again.
QUEUED_TIMEOUT = dt.timedelta(hours=6)
ORPHAN_PART_AGE = dt.timedelta(days=1)
MAX_PARAMS_BYTES = 16_000
# Stored in English and translated when shown (gettext of the stored text).
GENERIC_FAILURE = gettext_noop("The export failed. Please try again; if it fails again, contact support.")
STALE_FAILURE = gettext_noop("The export stopped before it finished (the worker was interrupted). Please export again.")
NOT_STARTED_FAILURE = gettext_noop("The export did not start in time. Please export again.")
KIND_GONE = gettext_noop("This kind of export is no longer available.")
EMPTY_AT_RUN = gettext_noop(
    "Nothing to export: no data matched these search options when the export ran, so no file was made."
)


class ExportCancelled(Exception):
    """The task is no longer running (reaped while the worker was still writing)."""


# ---- create ---------------------------------------------------------------------------------


def _json_safe(params: Any) -> dict[str, Any]:
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise registry.invalid_params(
            gettext("The search options must be an object."), "", gettext("must be an object")
        )
    try:
        text = json.dumps(params, sort_keys=True, allow_nan=False, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError):
        raise registry.invalid_params(
            gettext("The search options must contain only text, numbers, booleans, lists and objects."),
            "",
            gettext("not JSON"),
        ) from None
    if len(text.encode()) > MAX_PARAMS_BYTES:
        raise registry.invalid_params(gettext("The search options are too large."), "", gettext("too large"))
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def fingerprint(user: User, kind: str, params: dict[str, Any], fmt: str) -> str:
    canonical = json.dumps(
        {"user": user.pk, "kind": kind, "params": params, "format": fmt},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def file_name_for(kind: registry.ExportKind, created_at: dt.datetime, fmt: str) -> str:
    local = created_at.astimezone(clock.billing_tz())
    return f"{kind.filename_stem}-{local:%Y%m%d-%H%M%S}.{fmt}"


def request_language() -> str:
    """The language of the current request as one of ours (``en`` or ``zh-hans``)."""
    try:
        return translation.get_supported_language_variant(translation.get_language() or settings.LANGUAGE_CODE)
    except LookupError:
        return str(settings.LANGUAGE_CODE)


def _check_format(export_kind: registry.ExportKind, fmt: str) -> None:
    allowed_formats = [f for f in ExportFormat.values if f in export_kind.formats]
    if fmt not in allowed_formats:
        allowed = ", ".join(allowed_formats)
        raise ValidationFailed(
            gettext("Unknown export format %(format)s; use one of: %(allowed)s.")
            % {"format": repr(fmt), "allowed": allowed},
            code="invalid_format",
            details=[{"where": "format", "why": gettext("must be one of: %(values)s") % {"values": allowed}}],
        )


def validated_params(user: User, export_kind: registry.ExportKind, params: Any) -> dict[str, Any]:
    """The search options as they will be stored, or ValidationFailed naming what is wrong."""
    clean = registry.clean_params(export_kind, user, _json_safe(params))
    if export_kind.validate is not None:
        normalised = export_kind.validate(user, clean)
        if normalised is not None:
            clean = _json_safe(normalised)
    return clean


def _require_rows(user: User, export_kind: registry.ExportKind, params: dict[str, Any], now: dt.datetime) -> None:
    if export_kind.has_rows is None:
        return
    if not export_kind.has_rows(registry.ExportContext(user=user, params=params, at=now)):
        raise ValidationFailed(
            gettext("Nothing to export for these search options."),
            code="nothing_to_export",
            details=[{"where": "params", "why": gettext("no data matches")}],
        )


def create_export(
    user: User,
    kind: str,
    params: dict[str, Any] | None,
    fmt: str,
    *,
    idempotency_key: str = "",
) -> tuple[ExportTask, bool]:
    """Record an export task and enqueue its run; ``created`` is False for a repeat."""
    export_kind = registry.get(kind)
    scoping.require_menu(user, export_kind.menu)
    _check_format(export_kind, fmt)
    clean = validated_params(user, export_kind, params)
    fp = fingerprint(user, kind, clean, fmt)
    now = clock.now()
    # Outside the transaction below: the check reads, and must not hold the user's lock meanwhile.
    _require_rows(user, export_kind, clean, now)
    with transaction.atomic():
        # Serialise this user's export requests (see the module docstring).
        User.objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True).first()
        mine = ExportTask.objects.filter(created_by=user)
        if idempotency_key:
            earlier = mine.filter(idempotency_key=idempotency_key).first()
            if earlier is not None:
                if earlier.request_fingerprint != fp:
                    raise Conflict(
                        "This Idempotency-Key was already used with a different request.",
                        code="idempotency_key_reused",
                    )
                return earlier, False
        repeat = (
            mine.filter(request_fingerprint=fp, created_at__gte=now - DEDUP_WINDOW, created_at__lte=now)
            .exclude(status=ExportStatus.FAILED)
            .order_by("-created_at")
            .first()
        )
        if repeat is not None:
            return repeat, False
        partner = user.partner
        task = ExportTask(
            created_by=user,
            partner=partner,
            kind=kind,
            params=clean,
            format=fmt,
            status=ExportStatus.QUEUED,
            file_name=file_name_for(export_kind, now, fmt),
            created_at=now,
            request_fingerprint=fp,
            idempotency_key=idempotency_key,
            language=request_language(),
        )
        task.storage_path = f"{partner.code if partner else '_platform'}/{task.pk}.{fmt}"
        task.save(force_insert=True)
        audit.record(user, "export.create", partner=partner, target=str(task.pk), kind=kind, format=fmt)
        task_id = str(task.pk)
        transaction.on_commit(lambda: _enqueue_run(task_id))
        if _maintenance_due(now):
            transaction.on_commit(_enqueue_purge)
    return task, True


def _enqueue_run(task_id: str) -> None:
    from .tasks import run_export as run_job

    try:
        run_job.enqueue(task_id)
    except Exception:
        logger.exception("could not enqueue export task %s", task_id)
        ExportTask.objects.filter(pk=task_id, status=ExportStatus.QUEUED).update(
            status=ExportStatus.FAILED, error=GENERIC_FAILURE, finished_at=clock.now()
        )


def _enqueue_purge() -> None:
    from .tasks import purge_exports

    try:
        purge_exports.enqueue()
    except Exception:  # housekeeping is best effort; `partnercenter exports purge` also runs it
        logger.exception("could not enqueue the export purge")


def _maintenance_due(now: dt.datetime) -> bool:
    """Cheap (indexed) check whether anything is due to expire or reap."""
    return (
        ExportTask.objects.filter(status=ExportStatus.SUCCEEDED, expires_at__lte=now).exists()
        or ExportTask.objects.filter(status=ExportStatus.RUNNING, heartbeat_at__lt=now - STALE_AFTER).exists()
    )


# ---- run ------------------------------------------------------------------------------------


def _start(task_id: str) -> ExportTask | None:
    with transaction.atomic():
        task = ExportTask.objects.select_for_update().filter(pk=task_id).first()
        if task is None or task.status != ExportStatus.QUEUED:
            return None
        now = clock.now()
        task.status = ExportStatus.RUNNING
        task.started_at = now
        task.heartbeat_at = now
        task.attempts += 1
        task.row_count = 0
        task.error = ""
        task.save(update_fields=["status", "started_at", "heartbeat_at", "attempts", "row_count", "error"])
    return task


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _user_message(exc: BaseException) -> str:
    if isinstance(exc, DomainError):
        return exc.message
    return GENERIC_FAILURE


def _write(task: ExportTask, heartbeat: writers.Progress) -> int:
    """Write the task's ``.part`` file in the task's language; the number of rows written."""
    kind = registry.find(task.kind)
    if kind is None:
        raise DomainError(KIND_GONE, code="unknown_export_kind")
    task.part_path.parent.mkdir(parents=True, exist_ok=True)
    with translation.override(task.language or None):
        context = registry.ExportContext(
            user=task.created_by, params=task.params, at=task.created_at, task_id=str(task.pk)
        )
        if kind.document is not None:
            # One document is one "row"; the kind raises when its data is gone.
            writers.write_document(task.part_path, kind.document(context))
            return 1
        title = str(kind.sheet_title or kind.label)
        if kind.arrow is not None:
            batches = kind.arrow(context)
            count = fast.write_file(
                task.format, task.part_path, kind.columns, batches, sheet_title=title, progress=heartbeat
            )
        else:
            text = kind.csv_text if task.format == "csv" else None
            count = writers.write_file(
                task.format,
                task.part_path,
                kind.columns,
                kind.rows(context) if text is None else text.rows(context),
                sheet_title=title,
                progress=heartbeat,
                free_text=None if text is None else text.free_text,
            )
    if count == 0:
        raise DomainError(EMPTY_AT_RUN, code="nothing_to_export")
    return count


def run_export(task_id: str) -> ExportTask | None:
    """Run a queued task to the end (called by the worker). Idempotent: a task that is not
    queued is left as it is. Returns the task as it ended, or None when there was nothing to do."""
    task = _start(task_id)
    if task is None:
        logger.info("export task %s is not queued; nothing to do", task_id)
        return None
    pk = task.pk
    part, final = task.part_path, task.path

    def heartbeat(rows: int) -> None:
        alive = ExportTask.objects.filter(pk=pk, status=ExportStatus.RUNNING).update(
            heartbeat_at=clock.now(), row_count=rows
        )
        if not alive:
            raise ExportCancelled(task_id)

    try:
        count = _write(task, heartbeat)
        os.replace(part, final)
        _fsync_dir(final.parent)
        size = final.stat().st_size
    except Exception as exc:
        part.unlink(missing_ok=True)
        if isinstance(exc, ExportCancelled):
            logger.warning("export task %s was reaped while running; its output is dropped", task_id)
        elif isinstance(exc, DomainError) and exc.code == "nothing_to_export":
            logger.info("export task %s found no rows; no file kept", task_id)
        else:
            logger.exception("export task %s failed", task_id)
        message = _user_message(exc)
        ExportTask.objects.filter(pk=pk, status=ExportStatus.RUNNING).update(
            status=ExportStatus.FAILED, error=message, finished_at=clock.now()
        )
        return ExportTask.objects.get(pk=pk)
    finished = clock.now()
    done = ExportTask.objects.filter(pk=pk, status=ExportStatus.RUNNING).update(
        status=ExportStatus.SUCCEEDED,
        row_count=count,
        file_size=size,
        finished_at=finished,
        heartbeat_at=finished,
        expires_at=finished + RETENTION,
    )
    if not done:  # reaped meanwhile: the row says failed, so no file may stay behind
        final.unlink(missing_ok=True)
    return ExportTask.objects.get(pk=pk)


# ---- expire and reap ------------------------------------------------------------------------


def _delete_files(task: ExportTask) -> None:
    for path in (task.path, task.part_path):
        try:
            path.unlink(missing_ok=True)
        except OSError:
            logger.exception("could not delete %s", path)


def expire(now: dt.datetime, tasks: QuerySet[ExportTask] | None = None) -> int:
    """Succeeded tasks past ``expires_at``: delete the file, status expired."""
    qs = (ExportTask.objects.all() if tasks is None else tasks).filter(
        status=ExportStatus.SUCCEEDED, expires_at__lte=now
    )
    count = 0
    for task in qs.select_related(None).only("pk", "storage_path").iterator():
        if ExportTask.objects.filter(pk=task.pk, status=ExportStatus.SUCCEEDED).update(status=ExportStatus.EXPIRED):
            _delete_files(task)
            count += 1
    return count


def reap_stale(now: dt.datetime, tasks: QuerySet[ExportTask] | None = None) -> int:
    """Fail tasks whose worker died (running without heartbeat for STALE_AFTER) and tasks that
    never started (queued for QUEUED_TIMEOUT); remove whatever they wrote."""
    base = ExportTask.objects.all() if tasks is None else tasks
    stale_running = Q(status=ExportStatus.RUNNING, heartbeat_at__lt=now - STALE_AFTER)
    never_started = Q(status=ExportStatus.QUEUED, created_at__lt=now - QUEUED_TIMEOUT)
    count = 0
    for task in (
        base.filter(stale_running | never_started).select_related(None).only("pk", "status", "storage_path").iterator()
    ):
        if task.status == ExportStatus.RUNNING:
            still, message = stale_running, STALE_FAILURE
        else:
            still, message = never_started, NOT_STARTED_FAILURE
        if ExportTask.objects.filter(still, pk=task.pk).update(
            status=ExportStatus.FAILED, error=message, finished_at=now
        ):
            _delete_files(task)
            count += 1
    return count


def sweep_orphans(now: dt.datetime) -> int:
    """Delete ``.part`` files older than a day whose task is not running (a crash left them)."""
    root = export_root()
    if not root.is_dir():
        return 0
    cutoff = (now - ORPHAN_PART_AGE).timestamp()
    count = 0
    for part in root.glob("*/*.part"):
        try:
            if part.stat().st_mtime >= cutoff:
                continue
        except FileNotFoundError:
            continue
        task_id = part.name.split(".", 1)[0]
        if ExportTask.objects.filter(pk=task_id, status=ExportStatus.RUNNING).exists():
            continue
        part.unlink(missing_ok=True)
        count += 1
    return count


@dataclass(frozen=True)
class PurgeResult:
    expired: int
    failed: int
    orphans: int


def purge(now: dt.datetime | None = None) -> PurgeResult:
    """Everything ``partnercenter exports purge`` does."""
    now = now or clock.now()
    return PurgeResult(expired=expire(now), failed=reap_stale(now), orphans=sweep_orphans(now))


def purge_expired(now: dt.datetime | None = None) -> int:
    return expire(now or clock.now())


def refresh(tasks: QuerySet[ExportTask], now: dt.datetime | None = None) -> None:
    """Bring the tasks a page is about to show up to date (expired, reaped). Cheap: both are
    indexed filters that usually match nothing."""
    now = now or clock.now()
    expire(now, tasks)
    reap_stale(now, tasks)
