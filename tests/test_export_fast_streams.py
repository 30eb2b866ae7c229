"""The XLSX writer deflates its worksheets in a thread of its own: a failing stream or a value that
cannot be converted fails the export in the caller's thread, and every chunk arrives in order."""

from __future__ import annotations

import io
import zipfile

import pyarrow as pa
import pytest

from partnercenter.exports import fast
from partnercenter.exports.registry import Column

COLUMNS = [Column("t", "T"), Column("a", "A", "amount")]


def _batches(n: int, size: int) -> list[pa.RecordBatch]:
    return [
        pa.RecordBatch.from_arrays(
            [
                pa.array([f"row {i}" for i in range(at, min(at + size, n))]),
                pa.array(["1.5"] * (min(at + size, n) - at)),
            ],
            names=["t", "a"],
        )
        for at in range(0, n, size)
    ]


class _Failing(io.BytesIO):
    def __init__(self, after: int) -> None:
        super().__init__()
        self.after = after

    def write(self, data) -> int:  # type: ignore[no-untyped-def, override]
        if self.tell() + len(data) > self.after:
            raise OSError(28, "No space left on device")
        return super().write(data)


@pytest.mark.parametrize("after", [0, 200, 5_000])
def test_a_stream_that_fails_fails_the_file(after):
    with pytest.raises(OSError, match="No space left"):
        fast.write_xlsx(_Failing(after), COLUMNS, _batches(20_000, 100))
    with pytest.raises(OSError, match="No space left"):
        fast.write_csv(_Failing(after), COLUMNS, _batches(20_000, 100))


def test_a_bad_amount_in_a_later_batch_fails_the_file_and_stops_the_reading():
    read: list[int] = []

    def batches():
        for i, batch in enumerate(_batches(3_000, 100)):
            read.append(i)
            yield (
                batch if i != 3 else pa.RecordBatch.from_arrays([pa.array(["x"]), pa.array(["abc"])], names=["t", "a"])
            )

    for write in (fast.write_csv, fast.write_xlsx):
        read.clear()
        with pytest.raises(ValueError):
            write(io.BytesIO(), COLUMNS, batches())
        assert len(read) < 30


def test_the_rows_come_in_order_whatever_the_batches():
    one = io.BytesIO()
    fast.write_xlsx(one, COLUMNS, _batches(5_000, 5_000))
    many = io.BytesIO()
    fast.write_xlsx(many, COLUMNS, _batches(5_000, 7))
    assert _sheet(one) == _sheet(many)
    assert b'<row r="5001"><c t="inlineStr"><is><t>row 4999</t></is></c><c><v>1.5</v></c></row>' in _sheet(many)


def _sheet(data: io.BytesIO) -> bytes:
    with zipfile.ZipFile(data) as zf:
        return zf.read("xl/worksheets/sheet1.xml")


class _Cancelled(Exception):
    pass


def test_the_callers_failure_is_the_one_told_and_the_writers_is_told_at_the_end():
    """A cancelled task (its heartbeat raises) while the stream fails too: the cancellation."""
    with pytest.raises(_Cancelled):
        with fast._behind(_Failing(0)) as put:
            put(b"x" * 100)
            raise _Cancelled()
    with pytest.raises(OSError, match="No space left"):
        with fast._behind(_Failing(0)) as put:
            put(b"x" * 100)
    out = _Failing(10**6)
    with fast._behind(out) as put:
        for i in range(1_000):
            put(b"%d," % i)
    assert out.getvalue() == b"".join(b"%d," % i for i in range(1_000))
