"""The one path by which usage gets in: :func:`run` (the stages are in ``usage/pipeline``)."""

from __future__ import annotations

from typing import Any

from . import formats
from .pipeline import batch
from .pipeline.batch import ROLLUP_FLUSH, bump_ledger_version, ledger_version
from .pipeline.projections import ROLLUP_KEY
from .pipeline.report import MAX_LISTED_ACCOUNTS, MAX_REPORTED_ERRORS, Report, RowError
from .pipeline.transform import CONTENT_COLUMNS, LINE_COLUMNS, PRELOAD_CUSTOMERS, _classify
from .pipeline.write import ADVISORY_LOCK_KEY as _ADVISORY_LOCK_KEY
from .pipeline.write import SQLITE_CACHE_KIB

__all__ = [
    "CHUNK",
    "CONTENT_COLUMNS",
    "LINE_COLUMNS",
    "MAX_LISTED_ACCOUNTS",
    "MAX_REPORTED_ERRORS",
    "PRELOAD_CUSTOMERS",
    "ROLLUP_FLUSH",
    "ROLLUP_KEY",
    "SQLITE_CACHE_KIB",
    "_ADVISORY_LOCK_KEY",
    "Report",
    "RowError",
    "_classify",
    "bump_ledger_version",
    "ledger_version",
    "run",
]

CHUNK = batch.CHUNK  # read at each run, so a test can make chunks small


def run(
    source: formats.Source,
    *,
    fmt: str,
    source_name: str,
    file_name: str,
    checksum: str,
    actor: Any = None,
) -> Report:
    """Validate and write one batch; returns its report (rejected or accepted)."""
    return batch.run(
        source, fmt=fmt, source_name=source_name, file_name=file_name, checksum=checksum, actor=actor, chunk=CHUNK
    )
