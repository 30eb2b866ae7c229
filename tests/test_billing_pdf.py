"""Bill documents (B6, B8, X3): the invoice and bill PDFs with Chinese and English text, their
scoped console routes, and the 12-month chart."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from partnercenter.billing import chart, pdf
from partnercenter.core import clock
from partnercenter.core.masking import anonymize
from tests.billing_fixtures import Bills, make_bills
from tests.conftest import Org

NOW = dt.datetime(2026, 3, 10, 4, 0, tzinfo=dt.UTC)


@pytest.fixture
def bills(org) -> Bills:
    return make_bills(org)


def pdf_text(content: bytes) -> str:
    """The text of a PDF as poppler's pdftotext extracts it (Debian package poppler-utils)."""
    assert content.startswith(b"%PDF-")
    assert shutil.which("pdftotext"), "poppler-utils is missing: run `make system-packages`"
    done = subprocess.run(["pdftotext", "-layout", "-", "-"], input=content, capture_output=True, check=True)
    return done.stdout.decode()


def signed_in(client: Client, org: Org, username: str) -> Client:
    client.force_login(org.users[username], backend="django.contrib.auth.backends.ModelBackend")
    return client


def test_the_invoice_shows_issuer_number_partner_month_figures_and_products_in_both_scripts(org, bills: Bills):
    with translation.override("en"):
        text = pdf_text(pdf.render_invoice(bills.feb))
    # Issued 2026-02-28 20:00 UTC: 2026-03-01 in the billing time zone.
    for expected in ("Invoice", "partnercenter", "PC-2026-000042", "2026-03-01", "蓝天云科技", "bluesky", "2026-02"):
        assert expected in text
    assert "云服务器" in text and "Object Storage" in text
    # The bill's figures, each rounded once to the fen, half up.
    for label, shown in [
        ("Expenditures", "1,234.57"),
        ("Refunds", "10.01"),
        ("Adjustments", "-0.13"),
        ("Tax", "74.07"),
        ("Bill amount (CNY)", "1,298.51"),
    ]:
        assert re.search(rf"^\s*{re.escape(label)}\s+{re.escape(shown)}\s*$", text, re.M), (label, text)
    # By product as on the console (B7): each product's expenditure, the rest under Others.
    assert re.search(r"云服务器\s+Cloud service\s+3\s+1,000.57", text)  # 1000.565, half up
    assert re.search(r"Object Storage\s+Cloud service\s+2\s+234.00", text)
    assert re.search(r"Refunds\s+Others\s+1\s+-10.01", text)
    assert re.search(r"Tax\s+Others\s+1\s+74.07", text)
    assert re.search(r"Correction of 2026-01\s+Others\s+1\s+-0.13", text)  # Security Scan's late adjustment


def test_the_invoice_speaks_chinese(org, bills: Bills):
    with translation.override("zh-hans"):
        text = pdf_text(pdf.render_invoice(bills.feb))
    assert "发票" in text and "蓝天云科技" in text and "云服务器" in text and "1,298.51" in text


def test_the_bill_pdf_has_figures_products_and_anonymized_customers(org, bills: Bills):
    with translation.override("en"):
        text = pdf_text(pdf.render_bill(bills.feb))
    assert "蓝天云科技" in text and "云服务器" in text and "Object Storage" in text
    assert "PC-2026-000042" in text and "1,298.51" in text
    # By customer: lt1 = 1000.565 − 10.005 + 74.0739 = 1064.6339; lt2 = 234 − 0.125 = 233.875 → 233.88.
    assert re.search(rf"lt1\s+{anonymize('张小明', kind='customer')}\s+5\s+1,064.63", text)
    assert re.search(rf"lt2\s+{anonymize('Bright Future Ltd', kind='customer')}\s+3\s+233.88", text)
    assert "张小明" not in text and "Bright Future" not in text


def test_a_negative_bill_has_a_bill_pdf_but_no_invoice(org, bills: Bills):
    text = pdf_text(pdf.render_bill(bills.jan))
    assert "-5.50" in text
    with pytest.raises(pdf.NotFound):
        pdf.render_invoice(bills.jan)


def test_amounts_are_rounded_once_half_up_to_the_minor_unit():
    assert pdf.shown(Decimal("0.125"), "CNY") == "0.13"
    assert pdf.shown(Decimal("-0.125"), "CNY") == "-0.13"
    assert pdf.shown(Decimal("0.1249999"), "CNY") == "0.12"
    assert pdf.shown(Decimal("1234.5"), "JPY") == "1,235"
    assert pdf.shown(Decimal("1.0005"), "KWD") == "1.001"


def test_rendering_fetches_nothing_from_outside():
    with pytest.raises(pdf.ExternalResourceRefused):
        pdf._refuse_fetch("https://example.com/font.woff2")


# ---- console routes ---------------------------------------------------------------------------


def test_the_partner_downloads_its_invoice_and_bill(client, org, bills: Bills):
    signed_in(client, org, "bluesky-finance")
    r = client.get(reverse("billing:invoice_pdf", args=[bills.feb.pk]))
    assert r.status_code == 200
    assert r["Content-Type"] == "application/pdf"
    assert r["Content-Disposition"] == 'attachment; filename="invoice-PC-2026-000042.pdf"'
    assert "no-store" in r["Cache-Control"]
    assert "PC-2026-000042" in pdf_text(r.content)
    r = client.get(reverse("billing:bill_pdf", args=[bills.feb.pk]))
    assert r.status_code == 200
    assert r["Content-Disposition"] == 'attachment; filename="bill-bluesky-2026-02-CNY.pdf"'
    assert "蓝天云科技" in pdf_text(r.content)


def test_a_bill_without_invoice_answers_404_for_the_invoice(client, org, bills: Bills):
    signed_in(client, org, "bluesky-finance")
    assert client.get(reverse("billing:invoice_pdf", args=[bills.jan.pk])).status_code == 404
    assert client.get(reverse("billing:bill_pdf", args=[bills.jan.pk])).status_code == 200


@pytest.mark.parametrize("route", ["billing:invoice_pdf", "billing:bill_pdf"])
def test_another_partners_bill_is_404(client, org, bills: Bills, route):
    signed_in(client, org, "sp-b-finance")
    for bill in (bills.feb, bills.other):
        r = client.get(reverse(route, args=[bill.pk]))
        assert r.status_code == 404
        assert b"%PDF" not in r.content
    signed_in(client, org, "bluesky-admin")
    assert client.get(reverse(route, args=[bills.other.pk])).status_code == 404
    assert client.get(reverse(route, args=[999_999])).status_code == 404


@pytest.mark.parametrize("route", ["billing:invoice_pdf", "billing:bill_pdf"])
def test_without_the_partner_bills_menu_is_403(client, org, bills: Bills, route):
    signed_in(client, org, "bluesky-operator")
    r = client.get(reverse(route, args=[bills.feb.pk]))
    assert r.status_code == 403
    assert b"%PDF" not in r.content


def test_the_platform_operator_downloads_any_bill(client, org, bills: Bills):
    signed_in(client, org, "op")
    assert client.get(reverse("billing:bill_pdf", args=[bills.other.pk])).status_code == 200


# ---- chart ------------------------------------------------------------------------------------


def test_the_last_12_months_end_with_the_previous_month_in_the_billing_time_zone():
    # 2026-02-28 16:00 UTC is 2026-03-01 00:00 in Shanghai: March has begun.
    months = chart.last_months(dt.datetime(2026, 2, 28, 16, 0, tzinfo=dt.UTC))
    assert months[0] == dt.date(2025, 3, 1) and months[-1] == dt.date(2026, 2, 1) and len(months) == 12
    months = chart.last_months(dt.datetime(2026, 2, 28, 15, 59, 59, tzinfo=dt.UTC))
    assert months[0] == dt.date(2025, 2, 1) and months[-1] == dt.date(2026, 1, 1)


def test_the_chart_draws_the_partners_bills_as_inline_svg(client, org, bills: Bills):
    signed_in(client, org, "bluesky-finance")
    with clock.frozen_at(NOW):
        r = client.get(reverse("billing:chart"), HTTP_HX_REQUEST="true")
    assert r.status_code == 200
    html = r.content.decode()
    assert (
        "<svg" in html
        and "<script" not in html
        and "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    )
    assert html.count("<g data-month=") == 12
    assert '<g data-month="2025-03">' in html and '<g data-month="2026-02">' in html
    assert "2026-02: 1,298.51 CNY" in html and "2026-01: -5.50 CNY" in html
    assert "2025-12: no bill" in html
    assert ">1.30K<" in html and ">-6<" in html
    # Another partner's bill never shows.
    assert "7.00 CNY" not in html


def test_the_chart_geometry_is_exact_and_fits():
    months = chart.last_months(NOW)

    class B:
        def __init__(self, month, amount):
            self.month, self.amount, self.currency = month, Decimal(amount), "CNY"

    (c,) = chart.build([B(months[-1], "300"), B(months[-2], "-100")], months)
    top, bottom = c.bars[-1], c.bars[-2]
    # Plot height 168 − 24 of label room over a span of 400: 0.36 px per yuan; zero at 22 + 12 + 108.
    assert c.zero_y == "142.0"
    assert (top.y, top.height) == ("34.0", "108.0")
    assert (bottom.y, bottom.height) == ("142.0", "36.0")
    assert all(Decimal(b.x) + 30 <= chart.WIDTH - chart.RIGHT for b in c.bars)


def test_the_chart_needs_the_menu_and_stays_in_scope(client, org, bills: Bills):
    signed_in(client, org, "bluesky-operator")
    assert client.get(reverse("billing:chart")).status_code == 403
    signed_in(client, org, "sp-b-finance")
    with clock.frozen_at(NOW):
        r = client.get(reverse("billing:chart"))
        assert r.status_code == 200 and "1,298.51" not in r.content.decode()
        assert client.get(reverse("billing:chart"), {"partner": "bluesky"}).status_code == 404
    signed_in(client, org, "op")
    with clock.frozen_at(NOW):
        r = client.get(reverse("billing:chart"), {"partner": "bluesky"})
    assert "2026-02: 1,298.51 CNY" in r.content.decode()


def test_the_chart_speaks_chinese(client, org, bills: Bills):
    signed_in(client, org, "bluesky-finance")
    with clock.frozen_at(NOW), translation.override("zh-hans"):
        r = client.get(reverse("billing:chart"), HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert "近 12 个月账单金额" in r.content.decode()
