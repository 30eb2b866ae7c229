"""The XLSX writer deflates its worksheets in a thread of its own: a failing stream fails the
export in the caller's thread, and every chunk arrives in order."""

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
def test_a_stream_that_fails_fails_the_workbook(after):
    with pytest.raises(OSError, match="No space left"):
        fast.write_xlsx(_Failing(after), COLUMNS, _batches(20_000, 100))


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
