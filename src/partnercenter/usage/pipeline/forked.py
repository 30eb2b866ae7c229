"""Preparing a batch's blocks in a forked process while this one writes (SQLite).

SQLite's writes give the GIL back and take it again for every row, so a preparing *thread* stalls
them (columnar._one_ahead is for PostgreSQL, whose writes wait on the server). A process of its
own has its own interpreter: it reads and prepares block after block and hands each over through
a pipe, while this process writes the one before. The child is a fork taken after the batch's
customers are loaded, so it starts with everything preparing needs; it never touches the
database (preparing does not), and it leaves by ``os._exit``: nothing of the parent's (the
connection, atexit handlers, buffered output) is closed or flushed from it.

Each hand-over is one pickle: the block's raw columns (the row path takes them when the block is
not shown valid, or once the batch has a problem) and what preparing made of them. The pipe holds
little: the child is at most a block or two ahead, and memory stays bounded by the block size.
"""

from __future__ import annotations

import os
import pickle
import signal
import struct
import traceback
from collections.abc import Callable, Generator, Iterator
from typing import Any, BinaryIO

_LENGTH = struct.Struct("<Q")
_ITEM, _END, _ERROR = 0, 1, 2


def available() -> bool:
    """Whether this platform forks (POSIX)."""
    return hasattr(os, "fork")


def ahead(items: Iterator[Any], work: Callable[[Any], Any]) -> Generator[Any, None, None]:
    """``work`` of each item, computed in a forked process, in order. An exception raised there
    is raised here (as it was when it pickles, else as a RuntimeError with its traceback)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(read_end)
        _child(write_end, items, work)
    os.close(write_end)
    finished = False
    try:
        with open(read_end, "rb") as pipe:
            while True:
                kind, payload = _receive(pipe)
                if kind == _END:
                    finished = True
                    return
                if kind == _ERROR:
                    finished = True
                    raise payload
                yield payload
    finally:
        if not finished:  # the caller stopped early: the child may still be preparing
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def _child(fd: int, items: Iterator[Any], work: Callable[[Any], Any]) -> None:
    code = 0
    try:
        with open(fd, "wb") as pipe:
            try:
                for item in items:
                    _send(pipe, _ITEM, work(item))
                _send(pipe, _END, None)
            except BrokenPipeError:
                code = 1
            except BaseException as e:  # noqa: BLE001 - every failure goes to the parent
                _send(pipe, _ERROR, _picklable(e))
    except BaseException:  # noqa: BLE001 - the parent is gone or the pipe broke: just leave
        code = 1
    finally:
        os._exit(code)


def _picklable(e: BaseException) -> BaseException:
    try:
        pickle.loads(pickle.dumps(e, protocol=pickle.HIGHEST_PROTOCOL))  # noqa: S301 - our own bytes
    except Exception:  # noqa: BLE001 - any failure to round-trip
        return RuntimeError("".join(traceback.format_exception(e)))
    return e


def _send(pipe: BinaryIO, kind: int, payload: Any) -> None:
    data = pickle.dumps((kind, payload), protocol=pickle.HIGHEST_PROTOCOL)
    pipe.write(_LENGTH.pack(len(data)))
    pipe.write(data)
    pipe.flush()


def _receive(pipe: BinaryIO) -> tuple[int, Any]:
    head = pipe.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        raise RuntimeError("the preparing process ended without an answer")
    (length,) = _LENGTH.unpack(head)
    data = pipe.read(length)
    if len(data) < length:
        raise RuntimeError("the preparing process ended in the middle of a block")
    kind, payload = pickle.loads(data)  # noqa: S301 - written by our own child through our own pipe
    return kind, payload
