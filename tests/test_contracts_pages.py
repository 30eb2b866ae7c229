"""The Payment Contracts page (O6): the request form, the list with status, a contract's detail
with its history, the operator's steps, the PDF; isolation and menus."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from partnercenter.contracts.models import PaymentContract
from partnercenter.core import clock
from tests.test_billing_pdf import pdf_text

pytestmark = pytest.mark.django_db
AT = dt.datetime(2026, 3, 10, 4, 0, tzinfo=dt.UTC)
PAGE = "/payment-contracts/"


def signed_in(org, username: str) -> Client:
    c = Client()
    c.force_login(org.users[username])
    return c


def post(c: Client, url: str, data: dict):
    with clock.frozen_at(AT):
        return c.post(url, data)


def test_a_partner_requests_the_operator_issues_the_partner_downloads(org):
    partner = signed_in(org, "sp-a-finance")
    page = partner.get(PAGE)
    assert page.status_code == 200
    assert "<h1>Payment Contracts</h1>" in page.content.decode()
    r = post(partner, PAGE, {"amount": "800.00", "currency": "CNY", "purpose": "Renewal", "form_key": "f1"})
    assert r.status_code == 302
    number = PaymentContract.objects.get().number
    assert r["Location"] == f"{PAGE}{number}/"
    assert (
        post(partner, PAGE, {"amount": "800.00", "currency": "CNY", "purpose": "Renewal", "form_key": "f1"})["Location"]
        == f"{PAGE}{number}/"
    )
    assert PaymentContract.objects.count() == 1
    listed = partner.get(PAGE).content.decode()
    assert number in listed and 'data-state="requested"' in listed and "800.00 CNY" in listed
    op = signed_in(org, "op")
    assert "SP-A" in op.get(PAGE).content.decode()
    assert post(partner, f"{PAGE}{number}/process/", {}).status_code == 403
    assert post(op, f"{PAGE}{number}/issue/", {"terms": "t"}).status_code == 409
    assert post(op, f"{PAGE}{number}/process/", {}).status_code == 302
    assert post(op, f"{PAGE}{number}/issue/", {"terms": ""}).status_code == 400
    assert post(op, f"{PAGE}{number}/issue/", {"terms": "Paid within 30 days"}).status_code == 302
    detail = partner.get(f"{PAGE}{number}/").content.decode()
    assert 'data-state="issued"' in detail and "Paid within 30 days" in detail and "contract.pdf" in detail
    pdf = partner.get(f"{PAGE}{number}/contract.pdf")
    assert pdf["Content-Type"] == "application/pdf"
    assert "Paid within 30 days" in pdf_text(pdf.content)


def test_invalid_request_shows_the_error_and_writes_nothing(org):
    r = post(signed_in(org, "sp-a-admin"), PAGE, {"amount": "-1", "currency": "CNY", "purpose": "x"})
    assert r.status_code == 400
    assert "amount: must be greater than zero." in r.content.decode()
    assert PaymentContract.objects.count() == 0


def test_isolation_and_menus(org):
    post(signed_in(org, "sp-a-finance"), PAGE, {"amount": "1", "currency": "CNY", "purpose": "x"})
    number = PaymentContract.objects.get().number
    other = signed_in(org, "sp-b-admin")
    assert other.get(f"{PAGE}{number}/").status_code == 404
    assert other.get(f"{PAGE}{number}/contract.pdf").status_code == 404
    assert number not in other.get(PAGE).content.decode()
    assert signed_in(org, "sp-a-admin").get(f"{PAGE}{number}/contract.pdf").status_code == 404  # not issued
    no_menu = signed_in(org, "sp-a-operator")
    assert no_menu.get(PAGE).status_code == 403
    assert no_menu.get(f"{PAGE}{number}/").status_code == 403
    assert post(signed_in(org, "op"), PAGE, {"amount": "1", "currency": "CNY", "purpose": "x"}).status_code == 403
