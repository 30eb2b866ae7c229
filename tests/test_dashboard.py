"""The dashboard (issue 11): the panels a user's menus allow, each with exact figures from its
app's selectors, each linking to its page; an operator without a partner sees no partner figures;
nothing of another partner shows."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client

from partnercenter.accounts import services as account_services
from partnercenter.contracts import services as contract_services
from partnercenter.core import clock, dashboard, menus
from partnercenter.exports.models import ExportTask
from tests.billing_fixtures import make_bills
from tests.incentive_fixtures import make_incentives
from tests.test_billing_close import MARCH_RECORDS, ingest, on

pytestmark = pytest.mark.django_db
MID_MARCH = on(20)
FEB_10 = dt.datetime(2026, 2, 10, tzinfo=dt.UTC)


def home(org, username: str, at: dt.datetime = MID_MARCH) -> str:
    c = Client()
    c.force_login(org.users[username])
    with clock.frozen_at(at):
        r = c.get("/")
    assert r.status_code == 200
    return r.content.decode()


def panels(html: str) -> list[str]:
    return [p for p in re.findall(r'data-testid="panel-([a-z-]+)"', html) if p != "link"]


def figures(html: str, testid: str) -> list[str]:
    return [" ".join(t.split()) for t in re.findall(rf'data-testid="{testid}"[^>]*>([^<]*)<', html)]


def test_the_registry_orders_panels_and_leaves_room_for_the_alerts(db):
    got = [(p.code, p.order, p.menu) for p in dashboard.all_panels() if p.code != "alerts"]
    assert got == [
        ("expenditure", 10, menus.CUSTOMER_EXPENDITURE),
        ("amount_due", 20, menus.PARTNER_BILLS),
        ("incentives", 30, menus.INCENTIVE_MANAGEMENT),
        ("exports", 50, menus.EXPORTS),
        ("contracts", 60, menus.PAYMENT_CONTRACTS),
    ]


def test_expenditure_of_the_month_so_far_and_its_trend(org):
    ingest(MARCH_RECORDS, MID_MARCH)
    html = home(org, "sp-a-admin")
    # M1 100.123456789012345 + M4 50 + M5 999 (usage charges; refunds, tax and credits apart).
    assert figures(html, "expenditure-figure") == ["1,149.12 USD"]
    assert "Total expenditure from 2026-03-01 to" in html
    assert '<g data-month="2025-04">' in html and '<g data-month="2026-03">' in html
    assert "2026-03: 1,149.12 USD" in html
    assert "2026-02: no expenditure" in html
    assert 'href="/expenditure/"' in html
    assert figures(home(org, "sp-b-admin"), "expenditure-figure") == ["30.00 USD"]  # M7; M6 is a refund


def test_amount_due_is_the_unpaid_bills_total(org):
    make_bills(org)
    html = home(org, "bluesky-finance")
    assert figures(html, "amount-due-figure") == ["1,298.51 CNY"]
    assert 'href="/partner-bills/unpaid/"' in html
    assert figures(home(org, "sp-b-finance"), "nothing-due") == ["Nothing is due."]


def test_incentives_awaiting_confirmation_with_their_deadline(org):
    with clock.frozen_at(FEB_10):
        make_incentives(org)
    html = home(org, "sp-a-finance", FEB_10)
    assert figures(html, "incentives-figure") == ["2 incentives"]
    assert re.findall(r'<li data-number="(INC-[0-9-]+)"', html) == ["INC-202601-000001", "INC-202601-000002"]
    assert 'Deadline <span class="nowrap">2026-02-16 00:00</span>' in html
    assert 'href="/incentives/?state=pending_confirmation"' in html
    assert figures(home(org, "sp-b-finance", FEB_10), "incentives-figure") == ["1 incentive"]


def _task(user, status: str) -> ExportTask:
    return ExportTask.objects.create(
        created_by=user,
        partner=user.partner,
        kind="expenditure_summary",
        format="xlsx",
        status=status,
        file_name=f"{status}.xlsx",
        storage_path="",
        created_at=MID_MARCH,
        request_fingerprint=status,
    )


def test_export_tasks_in_progress(org):
    me = org.users["sp-a-finance"]
    for status in ("queued", "running", "succeeded", "failed"):
        _task(me, status)
    _task(org.users["sp-b-finance"], "queued")
    html = home(org, "sp-a-finance")
    assert figures(html, "exports-figure") == ["2"]
    assert "queued.xlsx" in html and "running.xlsx" in html and "succeeded.xlsx" not in html
    assert figures(home(org, "sp-b-finance"), "exports-figure") == ["1"]


def test_open_payment_contracts_of_the_partner_and_for_the_operator(org):
    with clock.frozen_at(MID_MARCH):
        a = contract_services.request_contract(
            actor=org.users["sp-a-finance"], amount="10", currency="CNY", purpose="p"
        )
        b = contract_services.request_contract(
            actor=org.users["sp-a-finance"], amount="20", currency="CNY", purpose="q"
        )
        contract_services.reject(actor=org.users["op"], number=b.number, reason="no")
        other = contract_services.request_contract(
            actor=org.users["sp-b-finance"], amount="30", currency="CNY", purpose="r"
        )
    html = home(org, "sp-a-finance")
    assert figures(html, "contracts-figure") == ["1"]
    assert a.number in html and b.number not in html and other.number not in html
    op = home(org, "op")
    assert figures(op, "contracts-figure") == ["2"]
    assert "SP-B" in op


def test_panels_follow_the_menus(org):
    assert panels(home(org, "sp-a-admin")) == [
        "expenditure",
        "amount-due",
        "incentives",
        "alerts",
        "exports",
        "contracts",
    ]
    assert panels(home(org, "sp-a-finance")) == ["amount-due", "incentives", "exports", "contracts"]
    assert panels(home(org, "sp-a-operator")) == ["expenditure", "alerts", "exports"]
    # Account managers never see partner bills, even when granted the menu.
    account_services.set_menus(
        actor=org.users["sp-a-admin"],
        user=org.users["sp-a-account_manager"],
        menu_codes=[menus.CUSTOMER_EXPENDITURE, menus.PARTNER_BILLS],
    )
    assert panels(home(org, "sp-a-account_manager")) == ["expenditure"]
    account_services.set_menus(actor=org.users["sp-a-admin"], user=org.users["sp-a-finance"], menu_codes=[])
    html = home(org, "sp-a-finance")
    assert panels(html) == []
    assert "Welcome, sp-a-finance" in html


def test_an_operator_sees_no_partner_figures(org):
    make_bills(org)
    ingest(MARCH_RECORDS, MID_MARCH)
    html = home(org, "op")
    # Alerts, exports and contract requests are the platform's own work; partner figures are not shown.
    assert panels(html) == ["alerts", "exports", "contracts"]
    assert "amount-due-figure" not in html and "expenditure-figure" not in html
    assert 'data-testid="operator-view"' in html
    assert 'data-testid="operator-view"' not in home(org, "sp-a-admin")
