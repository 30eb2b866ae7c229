"""Operator CLI: ``partnercenter partners|customers|users …`` as thin fronts for the services."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from partnercenter.accounts.models import User
from partnercenter.partners.models import CustomerAssociation, Partner

CONSOLE_SCRIPT = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "partnercenter"


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_partners_create_and_list(db):
    assert run("partners", "create", "north-dist", "--name", "North Distribution", "--kind", "distributor") == (
        "Created partner north-dist (distributor).\n"
    )
    run(
        "partners",
        "create",
        "north-sub",
        "--name",
        "North Sub",
        "--kind",
        "second_level_reseller",
        "--parent",
        "north-dist",
    )
    sub = Partner.objects.get(code="north-sub")
    assert (sub.name, sub.kind, sub.parent.code) == ("North Sub", "second_level_reseller", "north-dist")
    assert run("partners", "list") == (
        "north-dist\tdistributor\t-\tNorth Distribution\nnorth-sub\tsecond_level_reseller\tnorth-dist\tNorth Sub\n"
    )


def test_second_level_reseller_without_parent_is_refused(db):
    with pytest.raises(CommandError) as exc:
        run("partners", "create", "lonely", "--name", "Lonely", "--kind", "second_level_reseller")
    assert str(exc.value) == (
        "The partner is not valid.\n  parent: a second-level reseller needs its distributor (--parent)"
    )
    assert exc.value.returncode == 1
    assert not Partner.objects.exists()


def test_parent_must_be_a_distributor(org):
    with pytest.raises(CommandError) as exc:
        run("partners", "create", "sub9", "--name", "Sub 9", "--kind", "second_level_reseller", "--parent", "sp-a")
    assert str(exc.value) == "The partner is not valid.\n  parent: 'sp-a' is not a distributor"
    with pytest.raises(CommandError) as exc:
        run("partners", "create", "sub9", "--name", "Sub 9", "--kind", "second_level_reseller", "--parent", "nope")
    assert "parent: no partner with code 'nope'" in str(exc.value)
    with pytest.raises(CommandError) as exc:
        run("partners", "create", "sp-a", "--name", "Again", "--kind", "solution_provider")
    assert "code: partner 'sp-a' already exists" in str(exc.value)
    assert not Partner.objects.filter(code="sub9").exists()


def test_unknown_kind_is_refused_by_the_parser(db):
    with pytest.raises(CommandError, match="invalid choice: 'emperor'"):
        run("partners", "create", "x", "--name", "X", "--kind", "emperor")


def test_customers_associate(org):
    out = run("customers", "associate", "a1", "--partner", "sp-b", "--type", "referral", "--from", "2026-03-12")
    start = dt.datetime(2026, 3, 11, 16, 0, tzinfo=dt.UTC)  # 00:00 on the 12th in Asia/Shanghai
    assert out == f"Customer a1 is a referral customer of sp-b from {start.isoformat()}.\n"
    history = list(
        CustomerAssociation.objects.filter(customer__account_id="a1")
        .order_by("valid_from")
        .values_list("partner__code", "valid_to")
    )
    assert history == [("sp-a", start), ("sp-b", None)]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["nope", "--partner", "sp-b", "--type", "referral", "--from", "2026-03-12"],
            "No customer with account id 'nope'.",
        ),
        (["a1", "--partner", "nope", "--type", "referral", "--from", "2026-03-12"], "No partner with code 'nope'."),
        (
            ["a1", "--partner", "ref", "--type", "reseller", "--from", "2026-03-12"],
            "A Referral partner cannot hold reseller customers.",
        ),
        (
            ["a1", "--partner", "sp-b", "--type", "reseller", "--from", "12/03/2026"],
            "--from: '12/03/2026' is not a date (YYYY-MM-DD).",
        ),
        (
            ["a1", "--partner", "sp-b", "--type", "reseller", "--from", "0001-01-01"],
            "--from: '0001-01-01' is outside the accepted dates 2000-01-01 to 2099-12-31.",
        ),
    ],
)
def test_customers_associate_errors(org, args, message):
    with pytest.raises(CommandError) as exc:
        run("customers", "associate", *args)
    assert str(exc.value) == message
    assert CustomerAssociation.objects.count() == 8


def test_users_create_partner_user_with_password_from_environment(org, monkeypatch):
    monkeypatch.setenv("PARTNERCENTER_NEW_USER_PASSWORD", "Env-pass-4321")
    out = run("users", "create", "sp-a-new", "--partner", "sp-a", "--role", "finance", "--email", "n@example.com")
    assert out == "Created user sp-a-new (finance of sp-a).\n"
    u = User.objects.get(username="sp-a-new")
    assert (u.partner.code, u.role, u.email, u.is_staff) == ("sp-a", "finance", "n@example.com", False)
    assert u.check_password("Env-pass-4321")


def test_users_create_operator_with_password_option(db, monkeypatch):
    monkeypatch.setenv("PARTNERCENTER_NEW_USER_PASSWORD", "Env-pass-4321")
    assert run("users", "create", "ops2", "--operator", "--password", "Option-pass-9876") == (
        "Created user ops2 (platform operator).\n"
    )
    u = User.objects.get(username="ops2")
    assert u.is_platform_operator and u.check_password("Option-pass-9876")


def test_users_create_errors(org, monkeypatch):
    monkeypatch.setenv("PARTNERCENTER_NEW_USER_PASSWORD", "Env-pass-4321")
    with pytest.raises(CommandError, match="needs --partner and --role"):
        run("users", "create", "x1", "--partner", "sp-a")
    with pytest.raises(CommandError, match="no --partner or --role"):
        run("users", "create", "x1", "--operator", "--partner", "sp-a")
    with pytest.raises(CommandError) as exc:
        run("users", "create", "sp-a-admin", "--partner", "nope", "--role", "admin", "--password", "short")
    lines = str(exc.value).splitlines()
    assert lines[0] == "The user is not valid."
    assert "  username: must be given and unused" in lines
    assert "  partner: no partner with code 'nope'" in lines
    assert any(line.startswith("  password: ") for line in lines)
    monkeypatch.delenv("PARTNERCENTER_NEW_USER_PASSWORD")
    monkeypatch.setattr("sys.stdin", StringIO(""))
    with pytest.raises(CommandError, match="No password"):
        run("users", "create", "x2", "--partner", "sp-a", "--role", "admin")
    assert not User.objects.filter(username__in=["x1", "x2"]).exists()


@pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql",
    reason="the console-script test uses its own SQLite file",
)
def test_console_script_end_to_end(tmp_path):
    env = dict(
        os.environ,
        DATABASE_URL=f"sqlite:///{tmp_path / 'x.sqlite3'}",
        PARTNERCENTER_VAR_DIR=str(tmp_path),
        PARTNERCENTER_NEW_USER_PASSWORD="Script-pass-2468",
    )
    env.pop("DJANGO_SETTINGS_MODULE", None)

    def script(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(CONSOLE_SCRIPT), *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
        )

    assert script("migrate", "--verbosity", "0").returncode == 0
    r = script("partners", "create", "acme", "--name", "Acme Cloud", "--kind", "distributor")
    assert (r.returncode, r.stdout) == (0, "Created partner acme (distributor).\n")
    r = script("partners", "create", "acme-sub", "--name", "Acme Sub", "--kind", "second_level_reseller")
    assert r.returncode == 1
    assert r.stdout == ""
    assert "The partner is not valid." in r.stderr
    assert "  parent: a second-level reseller needs its distributor (--parent)" in r.stderr
    csv_file = tmp_path / "c.csv"
    csv_file.write_text(
        "account_id,name,email,mobile,partner,association_type,valid_from\n"
        "c1,One,one@example.com,,acme,reseller,2026-01-01\n"
        "c2,Two,bad-email,,acme,reseller,2026-01-01\n"
    )
    r = script("customers", "import", str(csv_file))
    assert r.returncode == 1
    assert "row 3: email: 'bad-email' is not an email address" in r.stderr
    r = script("users", "create", "acme-admin", "--partner", "acme", "--role", "admin")
    assert (r.returncode, r.stdout) == (0, "Created user acme-admin (admin of acme).\n")
    r = script("partners", "list")
    assert r.stdout == "acme\tdistributor\t-\tAcme Cloud\n"
