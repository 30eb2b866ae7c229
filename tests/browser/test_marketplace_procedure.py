"""Seed 002 "分享云商店商品链接" and "商品分账" end to end in a real browser at 1366×768: an enrolled
partner's operator gets and copies its product link; an order through that link (the storefront's
API call) associates a new customer, who then appears in the partner's Customer Management; the
publisher's finance user reads the month's revenue-sharing statement, exports it, downloads it
from View Export and finds the same exact figures."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from playwright.sync_api import Page, expect

from partnercenter.core import clock
from partnercenter.exports import services as export_services
from partnercenter.exports.models import ExportStatus, ExportTask
from partnercenter.partners.models import CustomerAssociation
from tests.browser.test_navigation import sign_in, sign_out
from tests.incentive_ledger import ingest
from tests.marketplace_fixtures import make_market
from tests.test_marketplace_revenue import LEDGER

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NOW = dt.datetime(2026, 4, 10, 4, 0, tzinfo=dt.UTC)
STATEMENT = {
    "waf": {"sales": "123.466", "platform": "24.69", "partner": "98.776"},
    "bi": {"sales": "8.3", "platform": "1.25", "partner": "7.05"},
}


def in_view(page: Page, selector: str) -> None:
    box = page.locator(selector).bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 1366, (selector, box)
    assert box["y"] + box["height"] <= 768, (selector, box)


def nav(page: Page, label: str, h1: str) -> None:
    page.locator("nav.sidenav").get_by_role("link", name=label, exact=True).click()
    expect(page.locator("h1")).to_have_text(h1)


def walk_copy_link(page: Page) -> str:
    sign_in(page, "sp-b-operator")
    nav(page, "Share Product Link", "Share Product Link")
    row = page.locator("tr[data-product=waf]")
    row.get_by_role("button", name="Get link").click()
    expect(page.locator(".messages .success")).to_have_text("Your link is ready to share.")
    copy = page.locator("tr[data-product=waf] button.copy-link")
    expect(copy).to_have_text("Copy")
    in_view(page, "tr[data-product=waf] button.copy-link")
    copy.click()
    expect(copy).to_have_attribute("data-state", "copied")
    expect(copy).to_have_text("Copied")
    url = page.locator("#link-waf").input_value()
    query = parse_qs(urlsplit(url).query)
    assert urlsplit(url).path == "/marketplace/p/waf" and query["partner"] == ["sp-b"]
    sign_out(page)
    return query["ref"][0]


def place_order(org, ref: str) -> None:  # noqa: ANN001
    """The storefront's call, as the platform operator."""
    client = Client()
    client.force_login(org.users["op"])
    body = {
        "order_id": "SF-1001", "product": "waf", "ref": ref, "partner": "sp-b", "account_id": "mk-new",
        "customer_name": "周新客", "email": "mk-new@example.com", "mobile": "13900001111", "amount": "9800.00",
        "currency": "CNY",
    }  # fmt: skip
    r = client.post("/api/v1/marketplace/orders", json.dumps(body), content_type="application/json")
    assert r.status_code == 201, r.content
    assert r.json()["association"] == "created"
    assoc = CustomerAssociation.objects.get(customer__account_id="mk-new", valid_to__isnull=True)
    assert (assoc.partner.code, assoc.association_type) == ("sp-b", "reseller")


def walk_customer_management(page: Page) -> None:
    sign_in(page, "sp-b-admin")
    nav(page, "Customer Management", "Customer Management")
    expect(page.locator("main")).to_contain_text("mk-new")
    sign_out(page)


def walk_statement(page: Page) -> bytes:
    sign_in(page, "sp-a-finance")
    nav(page, "Revenue Sharing", "Revenue Sharing")
    page.locator("#rs-month").select_option("2026-03")
    page.get_by_test_id("choose-statement").get_by_role("button", name="Show").click()
    for code, figures in STATEMENT.items():
        row = page.locator(f"[data-testid=statement] tr[data-product={code}]")
        expect(row.locator("[data-col=sales]")).to_have_text(figures["sales"])
        expect(row.locator("[data-col=platform]")).to_have_text(figures["platform"])
        expect(row.locator("[data-col=partner]")).to_have_text(figures["partner"])
    total = page.get_by_test_id("total-USD")
    expect(total.locator("[data-col=sales]")).to_have_text("131.766")
    in_view(page, "[data-testid=total-USD]")
    in_view(page, "[data-testid=export] button")
    export = page.get_by_test_id("export")
    export.locator("select[name=format]").select_option("csv")
    export.get_by_role("button", name="Export").click()
    expect(page.locator(".messages .success")).to_have_text("Export task created")
    page.get_by_test_id("export-history").click()
    expect(page.locator("h1")).to_have_text("Export History")
    for task in ExportTask.objects.filter(status=ExportStatus.QUEUED):  # the worker's job, run here
        export_services.run_export(str(task.pk))
    row = page.locator("tr[data-kind=revenue_statement]")
    expect(row).to_have_attribute("data-status", "succeeded", timeout=15_000)
    with page.expect_download(timeout=10_000) as info:
        row.get_by_test_id("download").click()
    return Path(info.value.path()).read_bytes()


def test_seed_002_marketplace(page: Page, org, live_server, settings, tmp_path) -> None:  # noqa: ANN001
    settings.VAR_DIR = tmp_path
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    make_market(org)
    ingest(LEDGER, dt.datetime(2026, 4, 2, 4, 0, tzinfo=dt.UTC))
    page.set_viewport_size({"width": 1366, "height": 768})
    with clock.frozen_at(NOW):
        ref = walk_copy_link(page)
        place_order(org, ref)
        walk_customer_management(page)
        data = walk_statement(page)
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    got = {
        r["Product code"]: {"sales": r["Sales"], "platform": r["Platform share"], "partner": r["Partner share"]}
        for r in rows
    }
    assert got == STATEMENT
