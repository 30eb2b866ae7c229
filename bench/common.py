"""Helpers shared by the benchmarks: logging, scratch databases, results.json, the machine."""

from __future__ import annotations

import json
import os
import platform
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "var" / "bench"


def _log(msg: str) -> None:
    print(msg, flush=True)


def _unlink_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(str(path) + suffix).unlink(missing_ok=True)


def _pg_server_url() -> str:
    return os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _with_db(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _pg_version(url: str) -> str | None:
    try:
        import psycopg

        with psycopg.connect(url, connect_timeout=3) as conn:
            return str(conn.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]
    except Exception:  # noqa: BLE001 - any failure means "not reachable"
        return None


def _merge_results(figures: dict[str, float]) -> Path:
    path = OUT / "results.json"
    results: dict[str, Any] = {}
    if path.exists():
        try:
            loaded = json.loads(path.read_text())
            if isinstance(loaded, dict):
                results = loaded
        except ValueError:
            _log(f"  {path.relative_to(ROOT)} was not JSON: replaced")
    results.update(figures)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(dict(sorted(results.items())), indent=2) + "\n")
    tmp.replace(path)
    return path


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 1024 / 1024:.1f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return f"{os.cpu_count()} CPU ({cpu}){mem}; Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}"
