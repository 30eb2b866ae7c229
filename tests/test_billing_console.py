"""Partner Bills console, Bills tab: Monthly Bills pane with month selector, figures (B5), invoice
link (B6), By Product / By Customer (B7), the labelled estimate (B3), and the slots other panes
load; English and 简体中文; bad options give one message and change nothing."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from partnercenter.billing import services
from partnercenter.billing.models import Bill
from partnercenter.core import clock
from tests.test_billing_close import DUE, MARCH_RECORDS, SHANGHAI, ingest, on, rec

NOW = dt.datetime(2026, 5, 10, 10, tzinfo=SHANGHAI)


@pytest.fixture
def closed(org, client):
    ingest(MARCH_RECORDS, on(2, month=4))
    services.catch_up(DUE)
    ingest([rec("A9", "a1", "4", on(8, month=4)), rec("Y1", "a1", "6", on(3, month=5))], on(9, month=5))
    services.catch_up(NOW)
    client.force_login(org.users["sp-a-finance"])
    with clock.frozen_at(NOW):
        yield org


def figure(html: str, name: str) -> str:
    m = re.search(rf'data-figure="{name}"><dt>[^<]*</dt><dd data-exact="([^"]*)"', html)
    assert m, name
    return m.group(1)


def test_bills_tab_shows_the_latest_bill_with_its_figures_and_slots(client, closed):
    html = client.get("/partner-bills/").content.decode()
    assert figure(html, "amount") == "15"  # April: A1 11 + A9 4
    assert 'hx-get="amount-due/' in html and 'hx-trigger="load"' in html
    assert 'hx-get="chart/' in html
    for href in ('href="unpaid/"', 'href="payments/"', 'href="pay/"', 'href="export/"', 'href="/exports/"'):
        assert href in html
    april = Bill.objects.get(partner__code="sp-a", month=dt.date(2026, 4, 1))
    assert f'href="{april.pk}/invoice.pdf"' in html and "PC-0000000002" in html
    assert '<option value="2026-04" selected>' in html and '<option value="2026-03">' in html
    assert 'data-testid="estimate" data-currency="USD"' in html
    assert 'data-exact="6"' in html and "as of" in html  # May so far, labelled with its as-of time


def test_month_selector_and_breakdowns(client, closed):
    html = client.get("/partner-bills/", {"month": "2026-03"}, HTTP_HX_REQUEST="true").content.decode()
    assert figure(html, "expenditure") == "157.123456789012345"
    assert figure(html, "refund") == "20.5"
    assert figure(html, "amount_due") == "138.623456789012345"
    assert 'id="product-cloud"' in html and 'data-row="Market App"' in html and 'data-row="Refunds"' in html
    html = client.get("/partner-bills/", {"month": "2026-03", "view": "customer"}).content.decode()
    assert '<tr data-account="a1">' in html and "张*明" in html
    assert "/expenditure/details/?account_id=a1&amp;start=2026-03-01&amp;end=2026-03-31" in html


def test_a_late_charge_shows_as_a_correction_of_its_month(client, closed):
    html = client.get("/partner-bills/", {"month": "2026-04"}).content.decode()
    assert 'data-row="Refunds"' not in html
    sp_b = closed.users["sp-b-finance"]
    client.force_login(sp_b)
    html = client.get("/partner-bills/", {"month": "2026-03"}).content.decode()
    assert figure(html, "amount") == "-50" and figure(html, "amount_due") == "0"
    assert 'data-testid="negative-note"' in html and 'data-testid="invoice"' not in html


def test_bad_options_give_one_message(client, closed):
    r = client.get("/partner-bills/", {"month": "2026-13"})
    assert r.status_code == 400
    assert "Month: 2026-13 is not a month as YYYY-MM." in r.content.decode()
    r = client.get("/partner-bills/", {"month": "2025-01"})
    assert "Month: there is no bill for 2025-01." in r.content.decode()
    r = client.get("/partner-bills/", {"partner": "sp-b"})
    assert r.status_code == 400 and "Partner: no partner with code sp-b is yours to view." in r.content.decode()


def test_chinese(client, closed):
    client.cookies["django_language"] = "zh-hans"
    html = client.get("/partner-bills/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    for text in ("伙伴账单", "月度账单", "按产品", "按客户", "预估"):
        assert text in html, text
