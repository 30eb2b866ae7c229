"""``partnercenter customers import FILE.csv``: all or nothing, every problem with its row number."""

from __future__ import annotations

import datetime as dt
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from partnercenter.partners import services as partner_services
from partnercenter.partners.models import Customer, CustomerAssociation
from tests.conftest import shared_path

HEADER = "account_id,name,email,mobile,partner,association_type,valid_from\n"


def import_file(path: Path) -> str:
    out = StringIO()
    call_command("customers", "import", str(path), stdout=out, stderr=StringIO())
    return out.getvalue()


def counts() -> tuple[int, int]:
    return Customer.objects.count(), CustomerAssociation.objects.count()


def test_import_focus_sample(db):
    partner_services.create_partner(code="focus-sample-reseller", name="FOCUS sample", kind="solution_provider")
    assert import_file(shared_path("focus/customers.csv")) == "Imported 4 customer(s) from customers.csv.\n"
    rows = list(
        CustomerAssociation.objects.order_by("customer__account_id").values_list(
            "customer__account_id", "partner__code", "association_type", "valid_from", "valid_to"
        )
    )
    # 2026-01-01 00:00 in Asia/Shanghai is 2025-12-31 16:00 UTC
    start = dt.datetime(2025, 12, 31, 16, 0, tzinfo=dt.UTC)
    assert rows == [
        ("200000000011", "focus-sample-reseller", "reseller", start, None),
        ("200000000012", "focus-sample-reseller", "reseller", start, None),
        ("200000000013", "focus-sample-reseller", "referral", start, None),
        ("200000000014", "focus-sample-reseller", "reseller", start, None),
    ]
    c = Customer.objects.get(account_id="200000000013")
    assert (c.name, c.email, c.mobile) == ("数据分析有限公司", "finance@data-analytics.example", "+86 139 0000 0013")


def test_import_with_bom_and_crlf(org, tmp_path):
    f = tmp_path / "c.csv"
    f.write_bytes(("\ufeff" + HEADER + "n1,New One,n1@example.com,13800000001,sp-a,referral,2026-03-01\r\n").encode())
    assert import_file(f) == "Imported 1 customer(s) from c.csv.\n"
    a = CustomerAssociation.objects.get(customer__account_id="n1")
    assert (a.partner.code, a.association_type, a.valid_from) == (
        "sp-a",
        "referral",
        dt.datetime(2026, 2, 28, 16, 0, tzinfo=dt.UTC),
    )


def test_file_with_bad_rows_is_rejected_whole(org, tmp_path):
    f = tmp_path / "bad.csv"
    f.write_text(
        HEADER
        + "n1,Good One,n1@example.com,13800000001,sp-a,reseller,2026-03-01\n"  # row 2: fine
        + "n2,Bad Email,not-an-email,,sp-a,reseller,2026-03-01\n"  # row 3
        + "n3,Unknown Partner,,,nope,reseller,2026-03-01\n"  # row 4
        + "a1,Existing,,,sp-a,reseller,2026-03-01\n"  # row 5: already registered
        + "n1,Again,,,sp-a,reseller,2026-03-01\n"  # row 6: duplicate in the file
        + "n4,Bad Date,,,sp-a,reseller,2026-02-30\n"  # row 7
        + "n5,Referral Reseller,,,ref,reseller,2026-03-01\n"  # row 8
    )
    before = counts()
    with pytest.raises(CommandError) as exc:
        import_file(f)
    assert str(exc.value).splitlines() == [
        "The file was rejected: 6 problem(s); nothing was imported.",
        "  row 3: email: 'not-an-email' is not an email address",
        "  row 4: partner: no partner with code 'nope'",
        "  row 5: account_id: customer 'a1' already exists",
        "  row 6: account_id: duplicate of row 2",
        "  row 7: valid_from: '2026-02-30' is not a date (YYYY-MM-DD)",
        "  row 8: association_type: partner 'ref' cannot hold reseller customers",
    ]
    assert exc.value.returncode == 1
    assert counts() == before
    assert not Customer.objects.filter(account_id="n1").exists()


def test_empty_file(db, tmp_path):
    f = tmp_path / "empty.csv"
    f.write_text("")
    with pytest.raises(CommandError) as exc:
        import_file(f)
    assert str(exc.value).splitlines()[1] == (
        "  header: missing column(s) account_id, name, email, mobile, partner, association_type, valid_from"
    )
    assert counts() == (0, 0)


def test_header_only(db, tmp_path):
    f = tmp_path / "header.csv"
    f.write_text(HEADER)
    with pytest.raises(CommandError) as exc:
        import_file(f)
    assert str(exc.value) == "The file was rejected: 1 problem(s); nothing was imported.\n  file: no data rows"


def test_missing_columns(org, tmp_path):
    f = tmp_path / "cols.csv"
    f.write_text("account_id,name,email,partner,valid_from\nn1,N,,sp-a,2026-03-01\n")
    before = counts()
    with pytest.raises(CommandError) as exc:
        import_file(f)
    assert str(exc.value) == (
        "The file was rejected: 1 problem(s); nothing was imported.\n"
        "  header: missing column(s) mobile, association_type"
    )
    assert counts() == before


def test_missing_file_and_non_utf8(db, tmp_path):
    with pytest.raises(CommandError, match="No such file"):
        import_file(tmp_path / "nope.csv")
    f = tmp_path / "latin1.csv"
    f.write_bytes(HEADER.encode() + "n1,Caf\xe9,,,sp-a,reseller,2026-03-01\n".encode("latin-1"))
    with pytest.raises(CommandError, match="is not UTF-8 text"):
        import_file(f)
