"""Walk the console in a real browser: navigation in both languages, menu permissions, assignment."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from partnercenter.accounts.models import User
from partnercenter.partners.models import AccountManagerAssignment
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MENUS_EN = [
    "Customer Expenditure",
    "Customer Management",
    "Customer Assignment",
    "Customer Alerts",
    "Lead Dispatch",
    "Share Product Link",
    "Revenue Sharing",
    "Partner Bills",
    "Payment Contracts",
    "Incentive Management",
    "Customer Bills",
    "Export History",
    "Users and Permissions",
]
MENUS_ZH = [
    "客户消费",
    "客户管理",
    "客户分配",
    "客户预警",
    "线索派发",
    "分享云商店商品链接",
    "商品分账",
    "伙伴账单",
    "请款合同",
    "激励管理",
    "客户账单",
    "导出记录",
    "用户与权限",
]


def sign_in(page: Page, username: str) -> None:
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.locator("form.stack button[type=submit]").click()
    expect(page.get_by_test_id("current-user")).to_contain_text(username)


def sign_out(page: Page) -> None:
    page.locator("form[action='/accounts/logout/'] button").click()
    expect(page.locator("#id_username")).to_be_visible()


def nav_labels(page: Page) -> list[str]:
    return [t.strip() for t in page.locator("nav.sidenav a[data-menu]").all_inner_texts()]


def walk(page: Page, labels: list[str]) -> None:
    assert nav_labels(page) == labels
    for label in labels:
        page.locator("nav.sidenav").get_by_role("link", name=label, exact=True).click()
        expect(page.locator("h1")).to_have_text(label)
        expect(page.locator("nav.sidenav a.active")).to_have_text(label)


def test_console_walkthrough(page: Page, org, transactional_db, live_server) -> None:
    # -- the admin walks every menu, in English and in Chinese ------------------------------
    sign_in(page, "sp-a-admin")
    expect(page.get_by_test_id("partner-name")).to_contain_text("SP-A")
    walk(page, MENUS_EN)

    page.locator("form.lang-switch button[value='zh-hans']").click()
    expect(page.locator("h1")).to_have_text("用户与权限")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    walk(page, MENUS_ZH)
    page.locator("form.lang-switch button[value='en']").click()
    expect(page.locator("h1")).to_have_text("Users and Permissions")

    # -- htmx refreshes the customer table in place ---------------------------------------
    page.locator("nav.sidenav").get_by_role("link", name="Customer Management", exact=True).click()
    rows = page.locator("#customer-results tr[data-account]")
    expect(rows).to_have_count(3)
    expect(page.locator("#customer-results")).to_contain_text("张*明")
    expect(page.locator("body")).not_to_contain_text("张小明")
    page.evaluate("window.__not_reloaded = true")
    page.fill("input[name=q]", "acme")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-account", "a3")
    page.select_option("#id_association_type", "referral")
    expect(page.locator("#customer-results td.empty")).to_be_visible()
    assert page.evaluate("window.__not_reloaded") is True  # partial refresh, no page load
    assert "association_type=referral" in page.url

    # -- Customer Assignment: two customers to the account manager -----------------------
    page.locator("nav.sidenav").get_by_role("link", name="Customer Assignment", exact=True).click()
    page.check("tr[data-account='a1'] input[type=checkbox]")
    page.check("tr[data-account='a3'] input[type=checkbox]")
    page.select_option("#assign_manager", label="sp-a-account_manager")
    page.get_by_role("button", name="Assign", exact=True).click()
    expect(page.locator(".messages .success")).to_contain_text(
        re.compile(r"2 customers assigned to sp-a-account_manager; effective from \d{4}-\d{2}-\d{2} \(the next day\)\.")
    )
    expect(page.locator("tr[data-account='a1']")).to_contain_text("sp-a-account_manager")
    assert sorted(
        AccountManagerAssignment.objects.filter(ended_at__isnull=True).values_list("customer__account_id", flat=True)
    ) == ["a1", "a3"]

    # -- the admin removes Customer Expenditure from the operator --------------------------
    page.locator("nav.sidenav").get_by_role("link", name="Users and Permissions", exact=True).click()
    page.locator("tr[data-username='sp-a-operator']").get_by_role("link", name="Edit menus").click()
    expect(page.locator("h1")).to_have_text("Menu permissions of sp-a-operator")
    box = page.get_by_label("Customer Expenditure", exact=True)
    expect(box).to_be_checked()
    box.uncheck()
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".messages .success")).to_contain_text("Menu permissions of sp-a-operator saved.")
    assert "customer_expenditure" not in User.objects.get(username="sp-a-operator").menus
    sign_out(page)

    # -- the operator no longer sees the menu, and its URL is refused ------------------------
    sign_in(page, "sp-a-operator")
    assert nav_labels(page) == ["Customer Management", "Customer Alerts", "Share Product Link", "Export History"]
    response = page.goto("/expenditure/")
    assert response is not None and response.status == 403
    expect(page.locator("h1")).to_have_text("Access denied")
    response = page.goto("/customers/")
    assert response is not None and response.status == 200
    expect(page.locator("h1")).to_have_text("Customer Management")
    sign_out(page)
