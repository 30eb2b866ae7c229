"""Shared fixtures: a small organisation built through the same services the product uses."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from partnercenter.accounts import services as account_services
from partnercenter.accounts.models import User
from partnercenter.core import clock
from partnercenter.partners import services as partner_services
from partnercenter.partners.models import Customer, Partner

PASSWORD = "Test-pass-1234"
# 2026-03-10 12:00 in Asia/Shanghai.
T0 = dt.datetime(2026, 3, 10, 4, 0, tzinfo=dt.UTC)


@dataclass
class Org:
    partners: dict[str, Partner] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    customers: dict[str, Customer] = field(default_factory=dict)


def _user(org: Org, username: str, partner: str | None, role: str = "", operator: bool = False) -> User:
    u = account_services.create_user(
        username=username,
        password=PASSWORD,
        partner_code=partner,
        role=role,
        is_operator=operator,
        email=f"{username}@example.com",
    )
    org.users[username] = u
    return u


def _customer(org: Org, account_id: str, name: str, partner: str, kind: str = "reseller") -> Customer:
    c = partner_services.create_customer(
        account_id=account_id,
        name=name,
        email=f"{account_id}@example.com",
        mobile="13800000000",
        partner_code=partner,
        association_type=kind,
        valid_from=T0 - dt.timedelta(days=60),
    )
    org.customers[account_id] = c
    return c


@pytest.fixture
def org(db) -> Org:
    """Partners: `dist` (distributor) with `sub1`, `sub2`; `sp-a`, `sp-b` (solution providers);
    `ref` (referral). Users `<partner>-<role>`; `op` is the platform operator. Customers `a1`…"""
    o = Org()
    with clock.frozen_at(T0 - dt.timedelta(days=90)):
        for code, kind, parent in [
            ("dist", "distributor", None),
            ("sub1", "second_level_reseller", "dist"),
            ("sub2", "second_level_reseller", "dist"),
            ("sp-a", "solution_provider", None),
            ("sp-b", "solution_provider", None),
            ("ref", "referral", None),
        ]:
            o.partners[code] = partner_services.create_partner(
                code=code, name=code.upper(), kind=kind, parent_code=parent
            )
            for role in ("admin", "operator", "account_manager", "finance"):
                _user(o, f"{code}-{role}", code, role)
        _user(o, "op", None, operator=True)
    with clock.frozen_at(T0 - dt.timedelta(days=60)):
        _customer(o, "a1", "张小明", "sp-a")
        _customer(o, "a2", "Alice Corp", "sp-a", "referral")
        _customer(o, "a3", "Acme Ltd", "sp-a")
        _customer(o, "b1", "Bob Co", "sp-b")
        _customer(o, "d1", "Direct One", "dist")
        _customer(o, "s1", "Sub One Customer", "sub1")
        _customer(o, "s2", "Sub Two Customer", "sub2")
        _customer(o, "r1", "Referred One", "ref", "referral")
    return o


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    # PBKDF2's deliberate slowness is for production; tests only need a real hash.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# The shared fixtures sit beside the repository (../shared), unless PARTNERCENTER_SHARED_DIR says
# where shared/ is.
SHARED_DIR = Path(os.environ.get("PARTNERCENTER_SHARED_DIR") or Path(__file__).resolve().parents[1].parent / "shared")
FOCUS_DIR = SHARED_DIR / "focus"


def shared_path(relative: str) -> Path:
    """A file or folder under shared/. A missing one fails the run, never skips: the tests that
    read it would otherwise pass without checking anything."""
    path = SHARED_DIR / relative
    if not path.exists():
        pytest.fail(
            f"The shared test fixture {path} is missing. Put shared/ beside the repository or set "
            "PARTNERCENTER_SHARED_DIR to the folder that holds it.",
            pytrace=False,
        )
    return path


def shared_glob(relative: str, pattern: str) -> list[Path]:
    """The files under shared/``relative`` matching ``pattern``; none at all fails the run."""
    found = sorted(shared_path(relative).glob(pattern))
    if not found:
        pytest.fail(f"No shared test fixture matches {SHARED_DIR / relative / pattern}.", pytrace=False)
    return found


@pytest.fixture(autouse=True)
def _fresh_summary_cache():
    # The per-process summary cache is keyed on database state that each test rolls back.
    from partnercenter.expenditure.selectors import clear_summary_cache

    clear_summary_cache()
    yield
    clear_summary_cache()


@pytest.fixture(autouse=True)
def _default_language():
    # The locale middleware leaves the last request's language active in the thread; a test that
    # creates something outside a request must not inherit the previous test's language.
    from django.utils import translation

    translation.activate("en")
    yield
    translation.activate("en")
