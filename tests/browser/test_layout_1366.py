"""Every list page fits a 1366×768 screen, in English and 简体中文, for a partner admin and an
account manager: no horizontal scrolling, and the amounts, the account manager column and the
action buttons are inside the viewport.

Every page, language and user is walked before asserting, so one run reports every place that
does not fit. ``PARTNERCENTER_LAYOUT_SCREENSHOTS=<dir>`` saves a screenshot of each page there.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from partnercenter.accounts import services as account_services
from partnercenter.core import clock, menus
from partnercenter.exports import services as export_services
from partnercenter.exports.models import ExportStatus, ExportTask
from partnercenter.partners import services as partner_services
from tests.browser.test_navigation import sign_out
from tests.conftest import PASSWORD
from tests.test_expenditure_console import KNOWN, NOW, ingest, rec

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTH, HEIGHT = 1366, 768

# page name -> (URL, CSS selectors of what must be inside the viewport: amounts, actions, the manager)
PAGES: dict[str, tuple[str, list[str]]] = {
    "summary": (
        "/expenditure/?start=2026-03-01&end=2026-03-18",
        [
            "#summary-table th.num",
            "#summary-table td.num",
            "#summary-table [data-col=manager]",
            "#summary-table td.operations a",
        ],
    ),
    "details": ("/expenditure/?tab=details&start=2026-03-01&end=2026-03-18", ["#details-table td.num"]),
    "customers": ("/customers/", ["#customer-table th[data-col=manager]", "#customer-table td[data-col=manager]"]),
    "assignment": (
        "/customers/assignment/",
        [
            "#assignment-table td[data-col=manager]",
            "[data-testid=select-all]",
            "[data-testid=assign]",
            "[data-testid=unassign]",
        ],
    ),
    "exports": ("/exports/", ["[data-testid=download]", "#export-history td.num"]),
}
# Users and Permissions is the admin's only.
ADMIN_PAGES = {
    "users": ("/accounts/users/", ["table.data td.operations .button"]),
    "customer_bills": (
        "/customer-bills/",
        ["#instance-table th.num", "#instance-table td.num", "[data-testid=field-settings]"],
    ),
    "customer_bill_details": ("/customer-bills/?tab=details", ["#details-table td.num"]),
}
LANGUAGES = {"en": "Customer Expenditure", "zh-hans": "客户消费"}
LONG_NAME = ("Alexandra", "Montgomery-Whitfield")  # a long account manager name, as real ones can be
LONG_PARTNER = "华东云计算科技有限公司 East China Cloud Computing Technology Co., Ltd."


def overflow(page: Page, selectors: list[str]) -> list[str]:
    """What does not fit: horizontal scrolling of the document or of a table, and every element
    of ``selectors`` (each must be present) that reaches past the viewport's right edge."""
    problems = []
    width = page.evaluate("document.documentElement.scrollWidth")
    if width > WIDTH:
        problems.append(f"document scrolls horizontally: scrollWidth {width} > {WIDTH}")
    for wrap in page.evaluate(
        "Array.from(document.querySelectorAll('.table-wrap')).filter(w => w.scrollWidth > w.clientWidth)"
        ".map(w => (w.querySelector('table') || w).id + ' ' + w.scrollWidth + '>' + w.clientWidth)"
    ):
        problems.append(f"table scrolls horizontally: {wrap}")
    for selector in selectors:
        boxes = page.locator(selector).evaluate_all(
            "els => els.map(e => { const r = e.getBoundingClientRect(); return [r.left, r.right, r.width]; })"
        )
        if not boxes:
            problems.append(f"{selector}: not on the page")
        for left, right, w in boxes:
            if w == 0 or left < 0 or right > WIDTH:
                problems.append(f"{selector}: spans {left:.0f}..{right:.0f}, outside 0..{WIDTH}")
                break
    return problems


def make_data(settings, tmp_path: Path, org) -> None:  # noqa: ANN001
    settings.VAR_DIR = tmp_path
    admin, mgr = org.users["sp-a-admin"], org.users["sp-a-account_manager"]
    partner = org.partners["sp-a"]
    partner.name = LONG_PARTNER
    partner.save(update_fields=["name"])
    mgr.first_name, mgr.last_name = LONG_NAME
    mgr.save(update_fields=["first_name", "last_name"])
    with clock.frozen_at(NOW - dt.timedelta(days=15)):
        partner_services.assign_customers(
            actor=admin, customers=[org.customers["a1"], org.customers["a3"]], manager=mgr
        )
    account_services.set_menus(actor=admin, user=mgr, menu_codes=[*sorted(mgr.menu_codes()), menus.CUSTOMER_ASSIGNMENT])
    with clock.frozen_at(NOW):
        # Wide amounts: twelve integer digits and fifteen decimal places.
        ingest([*KNOWN, rec("L20", "a1", "987654321098.123456789012345", "2026-03-11")])
        for user in (admin, mgr):
            for kind, params in [
                ("expenditure_summary", {"start": "2026-03-01", "end": "2026-03-18"}),
                ("expenditure_details", {"start": "2026-03-01", "end": "2026-03-18"}),
            ]:
                task, _ = export_services.create_export(user, kind, params, "xlsx")
                export_services.run_export(str(task.pk))
    assert set(ExportTask.objects.values_list("status", flat=True)) == {ExportStatus.SUCCEEDED}


def sign_in(page: Page, username: str) -> None:
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.locator("form.stack button[type=submit]").click()
    expect(page.get_by_test_id("current-user")).to_be_visible()


def walk(page: Page, who: str, lang: str, shots: str) -> list[str]:
    problems = []
    pages = {**PAGES, **(ADMIN_PAGES if who == "sp-a-admin" else {})}
    for name, (url, selectors) in pages.items():
        page.goto(url)
        expect(page.locator("h1")).to_be_visible()
        page.wait_for_load_state("networkidle")
        if shots:
            page.screenshot(path=str(Path(shots) / f"{who}-{lang}-{name}.png"), full_page=True)
        problems += [f"{who} · {lang} · {name}: {p}" for p in overflow(page, selectors)]
    return problems


def check_assignment_controls(page: Page) -> None:
    """Select all ticks every customer on the page; the eye shows the names (and fits too)."""
    page.goto("/customers/assignment/")
    boxes = page.locator("#assignment-table tbody input[name=customer]")
    page.get_by_test_id("select-all").check()
    assert [b.is_checked() for b in boxes.all()] == [True, True, True]
    boxes.first.uncheck()
    assert page.get_by_test_id("select-all").evaluate("e => [e.checked, e.indeterminate]") == [False, True]
    expect(page.locator("#assignment-table td[data-col=name]").first).to_have_text("张*明")
    page.get_by_test_id("eye-name").click()
    expect(page.locator("#assignment-table td[data-col=name]").first).to_have_text("张小明")
    assert "reveal=name" in page.url


def test_every_list_page_fits_1366(chromium, org, transactional_db, live_server, settings, tmp_path) -> None:
    make_data(settings, tmp_path, org)
    shots = os.environ.get("PARTNERCENTER_LAYOUT_SCREENSHOTS", "")
    if shots:
        Path(shots).mkdir(parents=True, exist_ok=True)
    context = chromium.new_context(
        base_url=live_server.url, locale="en-US", viewport={"width": WIDTH, "height": HEIGHT}
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    problems: list[str] = []
    try:
        with clock.frozen_at(NOW):
            for who in ("sp-a-admin", "sp-a-account_manager"):
                sign_in(page, who)
                for lang, label in LANGUAGES.items():
                    page.locator(f"form.lang-switch button[value='{lang}']").click()
                    expect(page.locator("nav.sidenav")).to_contain_text(label)
                    problems += walk(page, who, lang, shots)
                if who == "sp-a-admin":
                    check_assignment_controls(page)
                    problems += [f"{who} · revealed · assignment: {p}" for p in overflow(page, PAGES["assignment"][1])]
                page.locator("form.lang-switch button[value='en']").click()
                sign_out(page)
    finally:
        context.close()
    assert problems == [], "\n".join(problems)
