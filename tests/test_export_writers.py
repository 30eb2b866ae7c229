"""The export file writers: formula neutralisation, exact amounts, anonymization, streaming."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import tracemalloc
import zipfile
from decimal import Decimal
from xml.etree import ElementTree as ET

import pytest

from partnercenter.core.masking import anonymize
from partnercenter.exports import writers
from partnercenter.exports.registry import Column

NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}

COLUMNS = [
    Column("ref", "Reference"),
    Column("name", "Customer name", "sensitive_name"),
    Column("email", "Email", "sensitive_email"),
    Column("mobile", "Mobile", "sensitive_mobile"),
    Column("amount", "Amount", "amount"),
    Column("day", "Day", "date"),
    Column("at", "At", "datetime"),
    Column("qty", "Quantity", "int"),
]

NASTY = [
    "=SUM(A1)",
    "+1",
    "-2",
    "@x",
    "\tx",
    "\rx",
    "＝1+1",
    "plain",
    "<b>&amp;</b>",
    "_x0041_",
    "  padded  ",
    "a\x01b",
]
NAME, EMAIL, MOBILE = "张小明", "zhang.xiaoming@example.com", "13812345678"
AT = dt.datetime(2026, 3, 10, 4, 0, 5, tzinfo=dt.UTC)  # 12:00:05 in Asia/Shanghai
DAY = dt.date(2026, 3, 9)


def nasty_rows():
    for i, text in enumerate(NASTY):
        yield (text, NAME, EMAIL, MOBILE, Decimal("-12.500000000000001") if i == 0 else Decimal("12.5"), DAY, AT, i)
    yield ("中文备注", "Alice Corp", "", None, Decimal("1234567.891"), None, None, None)


def write_csv_bytes(rows, columns=COLUMNS) -> bytes:
    out = io.StringIO(newline="")
    writers.write_csv(out, columns, rows)
    return b"\xef\xbb\xbf" + out.getvalue().encode()


def csv_file_bytes(tmp_path, rows, columns=COLUMNS) -> bytes:
    path = tmp_path / "out.csv"
    assert writers.write_file("csv", path, columns, rows) >= 0
    return path.read_bytes()


def xlsx_file_bytes(tmp_path, rows, columns=COLUMNS, **kw) -> bytes:
    path = tmp_path / "out.xlsx"
    out = io.BytesIO()
    writers.write_xlsx(out, columns, rows, **kw)
    path.write_bytes(out.getvalue())
    return out.getvalue()


def _unescape_excel(text: str) -> str:
    return re.sub(r"_x([0-9A-F]{4})_", lambda m: chr(int(m.group(1), 16)), text)


def read_xlsx(data: bytes, sheet: int = 1) -> list[list[tuple[str, str]]]:
    """Cells as (type, text): ``("s", text)`` for inline strings, ``("n", text)`` for numbers."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.testzip() is None
        root = ET.fromstring(zf.read(f"xl/worksheets/sheet{sheet}.xml"))
    rows = []
    for row in root.iterfind("m:sheetData/m:row", NS):
        cells = []
        for c in row.iterfind("m:c", NS):
            assert c.find("m:f", NS) is None, "no formula cell, ever"
            if c.get("t") == "inlineStr":
                t = c.find("m:is/m:t", NS)
                cells.append(("s", _unescape_excel(t.text or "")))
            elif c.find("m:v", NS) is not None:
                assert c.get("t") in (None, "n")
                cells.append(("n", c.find("m:v", NS).text))
            else:
                cells.append(("", ""))
        rows.append(cells)
    return rows


# ---- CSV ------------------------------------------------------------------------------------


def test_csv_neutralises_formulas_keeps_amounts_exact_and_anonymizes(tmp_path):
    data = csv_file_bytes(tmp_path, nasty_rows())
    assert data.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads the UTF-8 (Chinese) correctly
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rows[0] == ["Reference", "Customer name", "Email", "Mobile", "Amount", "Day", "At", "Quantity"]
    refs = [r[0] for r in rows[1 : len(NASTY) + 1]]
    assert refs == [
        "'=SUM(A1)",
        "'+1",
        "'-2",
        "'@x",
        "'\tx",
        "'\rx",
        "'＝1+1",
        "plain",
        "<b>&amp;</b>",
        "_x0041_",
        "  padded  ",
        "a\x01b",
    ]
    first = rows[1]
    assert first[4] == "-12.500000000000001"  # exact decimal text, never neutralised, never a float
    assert rows[2][4] == "12.5"
    assert first[5] == "2026-03-09"
    assert first[6] == "2026-03-10 12:00:05+08:00"  # billing time zone
    assert first[7] == "0"
    assert first[1] == anonymize(NAME, kind="customer")
    assert first[2] == anonymize(EMAIL, kind="email")
    assert first[3] == anonymize(MOBILE, kind="mobile")
    last = rows[-1]
    assert last[0] == "中文备注"
    assert last[1:4] == [anonymize("Alice Corp", kind="customer"), "", ""]
    assert last[4:] == ["1234567.891", "", "", ""]
    assert len(rows) == len(NASTY) + 2
    for secret in (NAME, EMAIL, MOBILE, "Alice Corp", "zhang.xiaoming", "12345678"):
        assert secret.encode() not in data


def test_no_data_cell_starts_a_formula_in_csv(tmp_path):
    data = csv_file_bytes(tmp_path, nasty_rows())
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    for row in rows[1:]:
        for i, cell in enumerate(row):
            if COLUMNS[i].kind == "amount":
                continue
            assert not cell or cell[0] not in "=+-@\t\r＝＋－＠", (i, cell)


def test_amount_columns_refuse_floats_and_text(tmp_path):
    with pytest.raises(ValueError):
        write_csv_bytes([("x", "", "", "", 0.1, None, None, 1)])
    with pytest.raises(ValueError):
        write_csv_bytes([("x", "", "", "", "=1+1", None, None, 1)])
    with pytest.raises(ValueError):
        write_csv_bytes([("x", "", "", "", Decimal(1), None, None, "=1")])


def test_a_row_of_the_wrong_length_fails():
    with pytest.raises(writers.RowShapeError):
        write_csv_bytes([("too", "short")])


# ---- XLSX -----------------------------------------------------------------------------------


def test_xlsx_neutralises_formulas_keeps_amounts_exact_and_anonymizes(tmp_path):
    data = xlsx_file_bytes(tmp_path, nasty_rows())
    rows = read_xlsx(data)
    assert [v for _, v in rows[0]] == [
        "Reference",
        "Customer name",
        "Email",
        "Mobile",
        "Amount",
        "Day",
        "At",
        "Quantity",
    ]
    refs = [r[0] for r in rows[1 : len(NASTY) + 1]]
    assert refs == [
        ("s", "'=SUM(A1)"),
        ("s", "'+1"),
        ("s", "'-2"),
        ("s", "'@x"),
        ("s", "'\tx"),
        ("s", "'\rx"),
        ("s", "'＝1+1"),
        ("s", "plain"),
        ("s", "<b>&amp;</b>"),
        ("s", "_x0041_"),
        ("s", "  padded  "),
        ("s", "a\x01b"),
    ]
    first = rows[1]
    # 17 significant digits do not fit a double: the exact text, as a string cell.
    assert first[4] == ("s", "-12.500000000000001")
    assert rows[2][4] == ("n", "12.5")  # representable: a number cell
    assert first[5] == ("s", "2026-03-09")
    assert first[6] == ("s", "2026-03-10 12:00:05+08:00")
    assert first[7] == ("n", "0")
    assert first[1] == ("s", anonymize(NAME, kind="customer"))
    assert first[2] == ("s", anonymize(EMAIL, kind="email"))
    assert first[3] == ("s", anonymize(MOBILE, kind="mobile"))
    last = rows[-1]
    assert last[0] == ("s", "中文备注")
    assert last[4] == ("n", "1234567.891")
    assert len(rows) == len(NASTY) + 2
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        everything = b"".join(zf.read(n) for n in zf.namelist())
        assert sorted(zf.namelist()) == sorted(
            [
                "[Content_Types].xml",
                "_rels/.rels",
                "xl/workbook.xml",
                "xl/_rels/workbook.xml.rels",
                "xl/styles.xml",
                "xl/worksheets/sheet1.xml",
            ]
        )
    for secret in (NAME, EMAIL, MOBILE, "Alice Corp", "zhang.xiaoming", "12345678"):
        assert secret.encode() not in everything
    assert b"<f>" not in everything


def test_xlsx_rich_string_lookalike_is_escaped_not_injected(tmp_path):
    evil = '<r><t>a</t></r></is></c><c><f>HYPERLINK("http://x")</f></c><c t="inlineStr"><is><r><t>b</t></r>'
    rows = read_xlsx(xlsx_file_bytes(tmp_path, [(evil, "", "", "", Decimal(1), None, None, 1)]))
    assert rows[1][0] == ("s", evil)
    assert len(rows[1]) == len(COLUMNS)


def test_xlsx_continues_on_a_new_sheet_with_the_header_when_a_sheet_is_full(tmp_path):
    cols = [Column("n", "N", "int")]
    data = xlsx_file_bytes(tmp_path, ((i,) for i in range(7)), cols, max_rows_per_sheet=4)
    sheets = [read_xlsx(data, n) for n in (1, 2, 3)]
    assert [[c[0][1] for c in s] for s in sheets] == [["N", "0", "1", "2"], ["N", "3", "4", "5"], ["N", "6"]]
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        workbook = zf.read("xl/workbook.xml").decode()
    assert workbook.count("<sheet ") == 3


def test_xlsx_significant_digit_rule():
    assert writers._xlsx_amount(Decimal("123456789012345")) == "<c><v>123456789012345</v></c>"
    assert writers._xlsx_amount(Decimal("0.000000000000001")) == "<c><v>0.000000000000001</v></c>"
    assert writers._xlsx_amount(Decimal("12.500000000000000")) == "<c><v>12.500000000000000</v></c>"
    assert "inlineStr" in writers._xlsx_amount(Decimal("1234567890123456"))
    assert "inlineStr" in writers._xlsx_amount(Decimal("0.1234567890123456"))


def test_empty_export_has_the_header_only(tmp_path):
    assert read_xlsx(xlsx_file_bytes(tmp_path, iter(()))) == [[("s", str(c.header)) for c in COLUMNS]]
    data = csv_file_bytes(tmp_path, iter(()))
    assert data.decode("utf-8-sig") == "Reference,Customer name,Email,Mobile,Amount,Day,At,Quantity\r\n"


# ---- streaming ------------------------------------------------------------------------------

ROWS_FOR_MEMORY = 300_000


def many_rows(n: int):
    day = dt.date(2026, 3, 1)
    for i in range(n):
        yield (
            f"LI-{i:09d}",
            f"客户{i % 997}",
            f"c{i % 997}@example.com",
            f"1380000{i % 9973:04d}",
            Decimal(i) / 1000,
            day,
            AT,
            i,
        )


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_memory_stays_flat_whatever_the_row_count(tmp_path, fmt):
    path = tmp_path / f"big.{fmt}"
    ticks: list[int] = []
    tracemalloc.start()
    try:
        count = writers.write_file(fmt, path, COLUMNS, many_rows(ROWS_FOR_MEMORY), progress=ticks.append)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == ROWS_FOR_MEMORY
    assert peak < 30 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"
    assert ticks[:6] == [50_000, 100_000, 150_000, 200_000, 250_000, 300_000]
    assert path.stat().st_size > 10 * 1024 * 1024 if fmt == "csv" else path.stat().st_size > 1024 * 1024
