"""Background jobs of the exports app (django-tasks; run by ``partnercenter worker``)."""

from __future__ import annotations

from django_tasks import task

from partnercenter.core import clock

from . import services


@task()
def run_export(task_id: str) -> str | None:
    """Write one export task's file; idempotent (a task that is not queued is left alone)."""
    result = services.run_export(task_id)
    return result.status if result is not None else None


@task()
def purge_exports() -> dict[str, int]:
    """Expire files past their 7 days, fail tasks whose worker died, sweep orphaned parts."""
    r = services.purge(clock.now())
    return {"expired": r.expired, "failed": r.failed, "orphans": r.orphans}
