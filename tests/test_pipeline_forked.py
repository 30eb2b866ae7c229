"""Blocks prepared in a forked process (usage/pipeline/forked.py): order, failures, clean-up."""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

import pytest

from partnercenter.usage import services
from partnercenter.usage.pipeline import columnar, forked
from tests.test_ingest_blocks import SMALL_BLOCK, sample, write
from tests.test_usage_ingest import focus_customers  # noqa: F401  (a fixture)

pytestmark = pytest.mark.skipif(not forked.available(), reason="this platform does not fork")


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_items_come_back_in_order_from_another_process():
    got = list(forked.ahead(iter(range(40)), lambda x: (x * x, os.getpid())))
    assert [v for v, _pid in got] == [x * x for x in range(40)]
    pids = {pid for _v, pid in got}
    assert len(pids) == 1 and os.getpid() not in pids
    assert _gone(pids.pop())  # reaped


def test_nothing_to_prepare():
    assert list(forked.ahead(iter([]), lambda x: x)) == []


def test_an_exception_there_is_raised_here_after_the_items_before_it():
    def work(x: int) -> int:
        if x == 3:
            raise columnar.Unsupported("row 3 reads otherwise")
        return x

    got = []
    with pytest.raises(columnar.Unsupported, match="row 3 reads otherwise"):
        for x in forked.ahead(iter(range(10)), work):
            got.append(x)
    assert got == [0, 1, 2]


class _Unpicklable(Exception):
    def __init__(self, a: Any, b: Any) -> None:
        super().__init__(a)
        self.b = lambda: b  # a lambda does not pickle


def test_an_exception_that_does_not_pickle_arrives_as_its_traceback():
    def work(x: int) -> int:
        raise _Unpicklable("no way", x)

    with pytest.raises(RuntimeError, match=r"(?s)Traceback.*_Unpicklable: no way"):
        list(forked.ahead(iter(range(3)), work))


def test_a_child_that_dies_is_an_error_not_a_short_result():
    def work(x: int) -> int:
        if x == 2:
            os._exit(7)
        return x

    got = []
    with pytest.raises(RuntimeError, match="ended without an answer"):
        for x in forked.ahead(iter(range(5)), work):
            got.append(x)
    assert got == [0, 1]


def test_stopping_early_ends_the_child():
    items = forked.ahead(itertools.count(), lambda x: os.getpid())
    pid = next(items)
    items.close()
    assert _gone(pid)


def _ingest_counting_forks(monkeypatch: pytest.MonkeyPatch, path: Path) -> tuple[Any, int]:
    forks = 0
    ahead = forked.ahead

    def counted(*args: Any) -> Any:
        nonlocal forks
        forks += 1
        yield from ahead(*args)

    monkeypatch.setattr(forked, "ahead", counted)
    return services.ingest_path(path, source="aws"), forks


@pytest.mark.django_db
@pytest.mark.usefixtures("focus_customers")
def test_sqlite_prepares_a_file_of_several_blocks_in_a_forked_process(monkeypatch, tmp_path):
    from django.db import connection

    header, rows = sample(200)
    path = write(tmp_path / "several.csv", header, rows)
    monkeypatch.setattr(columnar, "BLOCK_BYTES", SMALL_BLOCK)
    assert path.stat().st_size >= columnar.FORK_BLOCKS * SMALL_BLOCK
    report, forks = _ingest_counting_forks(monkeypatch, path)
    assert report.accepted and report.rows_new == 200
    assert forks == (0 if connection.vendor == "postgresql" else 1)


@pytest.mark.django_db
@pytest.mark.usefixtures("focus_customers")
def test_a_file_of_one_block_is_prepared_in_turn(monkeypatch, tmp_path):
    header, rows = sample(5)
    path = write(tmp_path / "one.csv", header, rows)
    assert path.stat().st_size < columnar.FORK_BLOCKS * columnar.BLOCK_BYTES
    report, forks = _ingest_counting_forks(monkeypatch, path)
    assert report.accepted and report.rows_new == 5
    assert forks == 0
