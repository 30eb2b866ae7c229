"""Helpers shared by the benchmarks: logging, steps in child processes, scratch databases per
engine, results.json, the machine."""

from __future__ import annotations

import json
import os
import platform
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
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


def _pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(_pg_server_url(), autocommit=True) as conn:
        conn.execute(sql)


def _env_list(name: str, default: str) -> list[str]:
    """A comma-separated environment variable (``BENCH_ENGINES``, the ``…_STEPS``)."""
    return [v.strip() for v in os.environ.get(name, default).split(",") if v.strip()]


def _child(module: str, step: str, *args: str, database_url: str, var_dir: Path) -> dict[str, Any]:
    """One step (``python -m MODULE STEP ARGS…``) in its own process, against ``database_url``, with
    its own var directory (export files kept apart from ``var/``): the figures it prints as JSON
    on its last line, plus its peak RSS (``wait4``) and wall time."""
    env = dict(os.environ)
    env.setdefault("PARTNERCENTER_LOG_LEVEL", "WARNING")
    env["DATABASE_URL"] = database_url
    env["PARTNERCENTER_VAR_DIR"] = str(var_dir)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    started = time.perf_counter()
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", module, step, *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    out = proc.stdout.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.stdout.write(out)
        raise SystemExit(f"{module}: step {step!r} failed (exit {code})")
    figures: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    figures["process_peak_rss_mb"] = round(usage.ru_maxrss / 1024, 1)  # KiB on Linux
    figures["process_seconds"] = round(time.perf_counter() - started, 1)
    return figures


def _on_each_engine(
    name: str, engines: list[str], *, sqlite_db: Path, pg_db: str, fresh: bool, keep: bool,
    run: Callable[[str, str], None],
) -> None:  # fmt: skip
    """``run(engine, database_url)`` per engine, in a scratch database: the SQLite file
    ``sqlite_db`` or the PostgreSQL database ``pg_db`` on ``BENCH_POSTGRES_URL``'s server (skipped
    when not reachable). ``fresh``: made anew first; unless ``keep``, removed afterwards."""
    for engine in engines:
        if engine == "sqlite":
            _log("\n== SQLite ==")
            if fresh:
                _unlink_sqlite(sqlite_db)
            try:
                run(engine, f"sqlite:///{sqlite_db}")
            finally:
                if not keep:
                    _unlink_sqlite(sqlite_db)
        elif engine == "postgres":
            _log("\n== PostgreSQL ==")
            version = _pg_version(_pg_server_url())
            if version is None:
                _log(f"  not reachable at {_pg_server_url()}: skipped (set BENCH_POSTGRES_URL)")
                continue
            _log(f"  PostgreSQL {version}")
            if fresh:
                _pg_admin(f"DROP DATABASE IF EXISTS {pg_db} WITH (FORCE)")
                _pg_admin(f"CREATE DATABASE {pg_db}")
            try:
                run(engine, _with_db(_pg_server_url(), pg_db))
            finally:
                if not keep:
                    _pg_admin(f"DROP DATABASE IF EXISTS {pg_db} WITH (FORCE)")
        else:
            raise SystemExit(f"{name}: unknown engine {engine!r}")


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
