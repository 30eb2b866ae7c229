"""The partner console: sign-in, menus, isolation, masking, assignment, users and languages."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.urls import reverse

from partnercenter.accounts.models import User
from partnercenter.core import clock
from partnercenter.partners import services as partner_services
from partnercenter.partners.models import AccountManagerAssignment
from tests.conftest import PASSWORD, T0, Org

LOGIN = "/accounts/login/"


def signed_in(client: Client, org: Org, username: str) -> Client:
    client.force_login(org.users[username], backend="django.contrib.auth.backends.ModelBackend")
    return client


def text(response) -> str:
    return response.content.decode()


def accounts_on_page(response) -> list[str]:
    return sorted(re.findall(r'<tr data-account="([^"]+)"', text(response)))


# ---- sign-in, throttling, password -----------------------------------------------------------


def test_sign_in_lands_on_the_dashboard(client, org):
    r = client.post(LOGIN, {"username": "sp-a-admin", "password": PASSWORD})
    assert r.status_code == 302
    assert r["Location"] == "/"
    r = client.get("/")
    assert r.status_code == 200
    assert "SP-A" in text(r)
    assert r.context["user"].username == "sp-a-admin"


def test_anonymous_is_sent_to_sign_in(client, org):
    r = client.get("/customers/")
    assert r.status_code == 302
    assert r["Location"] == f"{LOGIN}?next=/customers/"
    assert client.get("/").status_code == 302


def test_wrong_password_shows_a_message_and_does_not_sign_in(client, org):
    r = client.post(LOGIN, {"username": "sp-a-admin", "password": "wrong-password"})
    assert r.status_code == 200
    assert "Please enter a correct username and password" in text(r)
    assert "_auth_user_id" not in client.session


def test_sixth_attempt_after_five_failures_is_locked_out_even_with_the_right_password(client, org):
    for _ in range(4):
        r = client.post(LOGIN, {"username": "sp-a-admin", "password": "wrong-password"})
        assert r.status_code == 200
    client.post(LOGIN, {"username": "sp-a-admin", "password": "wrong-password"})  # the fifth failure
    r = client.post(LOGIN, {"username": "sp-a-admin", "password": PASSWORD})
    assert r.status_code == 429
    assert "Too many failed sign-ins" in text(r)
    assert "_auth_user_id" not in client.session
    # Another username from the same address is not locked.
    r = client.post(LOGIN, {"username": "sp-a-operator", "password": PASSWORD})
    assert r.status_code == 302


def test_locked_out_page_is_translated(client, org):
    client.cookies["django_language"] = "zh-hans"
    for _ in range(6):
        r = client.post(LOGIN, {"username": "sp-a-admin", "password": "wrong-password"})
    assert r.status_code == 429
    assert "登录失败次数过多" in text(r)


def test_password_change(client, org):
    signed_in(client, org, "sp-a-operator")
    new = "Another-pass-5678"
    r = client.post(
        reverse("accounts:password_change"),
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
    )
    assert r.status_code == 302
    assert r["Location"] == reverse("accounts:password_change_done")
    user = User.objects.get(username="sp-a-operator")
    assert user.check_password(new)
    assert not user.check_password(PASSWORD)


def test_password_change_with_wrong_old_password_changes_nothing(client, org):
    signed_in(client, org, "sp-a-operator")
    r = client.post(
        reverse("accounts:password_change"),
        {"old_password": "nope", "new_password1": "Another-pass-5678", "new_password2": "Another-pass-5678"},
    )
    assert r.status_code == 200
    assert User.objects.get(username="sp-a-operator").check_password(PASSWORD)


def test_sign_out_needs_post_and_ends_the_session(client, org):
    signed_in(client, org, "sp-a-admin")
    r = client.post(reverse("accounts:logout"))
    assert r.status_code == 302
    assert client.get("/").status_code == 302


# ---- menus ----------------------------------------------------------------------------------

MENU_PAGES = [
    ("/expenditure/", "customer_expenditure", "Customer Expenditure"),
    ("/customers/", "customer_management", "Customer Management"),
    ("/customers/assignment/", "customer_assignment", "Customer Assignment"),
    ("/partner-bills/", "partner_bills", "Partner Bills"),
    ("/incentives/", "incentive_management", "Incentive Management"),
    ("/customer-bills/", "customer_bills", "Customer Bills"),
    ("/exports/", "exports", "Export History"),
    ("/accounts/users/", "user_management", "Users and Permissions"),
]


@pytest.mark.parametrize(("url", "code", "heading"), MENU_PAGES)
def test_admin_reaches_every_menu_page(client, org, url, code, heading):
    signed_in(client, org, "sp-a-admin")
    r = client.get(url)
    assert r.status_code == 200
    assert f"<h1>{heading}</h1>" in text(r)
    assert f'data-menu="{code}"' in text(r)


@pytest.mark.parametrize(
    ("username", "url"),
    [
        ("sp-a-finance", "/customers/"),
        ("sp-a-finance", "/customers/a1/"),
        ("sp-a-finance", "/expenditure/"),
        ("sp-a-operator", "/partner-bills/"),
        ("sp-a-operator", "/customers/assignment/"),
        ("sp-a-operator", "/incentives/"),
        ("sp-a-operator", "/customer-bills/"),
        ("sp-a-operator", "/accounts/users/"),
        ("sp-a-operator", "/accounts/users/sp-a-finance/menus/"),
        ("sp-a-account_manager", "/customers/assignment/"),
        ("sp-a-finance", "/accounts/users/"),
    ],
)
def test_a_menu_the_user_lacks_is_refused_by_url(client, org, username, url):
    signed_in(client, org, username)
    r = client.get(url)
    assert r.status_code == 403
    assert "Access denied" in text(r)


def test_navigation_shows_only_the_users_menus(client, org):
    signed_in(client, org, "sp-a-finance")
    page = text(client.get("/"))
    shown = set(re.findall(r'data-menu="([a-z_]+)"', page))
    assert shown == {
        "partner_bills",
        "payment_contracts",
        "revenue_sharing",
        "incentive_management",
        "customer_bills",
        "exports",
    }
    assert "Customer Management" not in page


def test_menu_removed_by_the_admin_disappears_and_is_refused(client, org):
    admin = Client()
    signed_in(admin, org, "sp-a-admin")
    r = admin.post("/accounts/users/sp-a-operator/menus/", {"menus": ["customer_management", "exports"]})
    assert r.status_code == 302
    assert User.objects.get(username="sp-a-operator").menus == ["customer_management", "exports"]
    signed_in(client, org, "sp-a-operator")
    page = text(client.get("/"))
    assert 'data-menu="customer_expenditure"' not in page
    assert 'data-menu="customer_management"' in page
    assert client.get("/expenditure/").status_code == 403


def test_users_page_lists_only_the_partners_users(client, org):
    signed_in(client, org, "sp-a-admin")
    r = client.get("/accounts/users/")
    names = set(re.findall(r'<tr data-username="([^"]+)"', text(r)))
    assert names == {"sp-a-admin", "sp-a-operator", "sp-a-account_manager", "sp-a-finance"}


def test_admin_cannot_touch_another_partners_user(client, org):
    signed_in(client, org, "sp-a-admin")
    before = list(User.objects.get(username="sp-b-operator").menus)
    assert client.get("/accounts/users/sp-b-operator/menus/").status_code == 404
    r = client.post("/accounts/users/sp-b-operator/menus/", {"menus": ["partner_bills"]})
    assert r.status_code == 404
    assert User.objects.get(username="sp-b-operator").menus == before


def test_menu_form_rejects_admin_only_menu(client, org):
    signed_in(client, org, "sp-a-admin")
    before = list(User.objects.get(username="sp-a-operator").menus)
    r = client.post("/accounts/users/sp-a-operator/menus/", {"menus": ["user_management"]})
    assert r.status_code == 200
    assert User.objects.get(username="sp-a-operator").menus == before


# ---- customer management ---------------------------------------------------------------------


def test_customer_list_is_isolated_and_masked(client, org):
    signed_in(client, org, "sp-a-admin")
    r = client.get("/customers/")
    assert r.status_code == 200
    assert accounts_on_page(r) == ["a1", "a2", "a3"]
    page = text(r)
    assert "b1" not in re.findall(r'data-account="([^"]+)"', page)
    assert "张*明" in page
    assert "张小明" not in page
    assert "A****p" in page  # Alice Corp
    assert "Alice Corp" not in page
    assert "a1***@example.com" in page
    assert "a1@example.com" not in page
    assert "138****0000" in page
    assert "13800000000" not in page


def test_other_partners_customer_detail_is_404(client, org):
    signed_in(client, org, "sp-a-admin")
    assert client.get("/customers/b1/").status_code == 404
    assert client.get("/customers/no-such/").status_code == 404
    r = client.get("/customers/a1/")
    assert r.status_code == 200
    assert "张*明" in text(r)
    assert "张小明" not in text(r)
    assert "SP-A" in text(r)


def test_customer_detail_shows_assignment_history(client, org):
    admin, mgr = org.users["sp-a-admin"], org.users["sp-a-account_manager"]
    with clock.frozen_at(T0):
        partner_services.assign_customers(actor=admin, customers=[org.customers["a1"]], manager=mgr)
    signed_in(client, org, "sp-a-admin")
    r = client.get("/customers/a1/")
    assigned = r.context["assignments"]
    assert [a.manager.username for a in assigned] == ["sp-a-account_manager"]
    # T0 is 2026-03-10 12:00 in Asia/Shanghai; visible from 2026-03-11 00:00 there.
    assert "2026-03-11 00:00" in text(r)


def test_customer_search_and_filters(client, org):
    signed_in(client, org, "sp-a-admin")
    assert accounts_on_page(client.get("/customers/", {"q": "acme"})) == ["a3"]
    assert accounts_on_page(client.get("/customers/", {"q": "a2@example"})) == ["a2"]
    assert accounts_on_page(client.get("/customers/", {"association_type": "referral"})) == ["a2"]
    assert accounts_on_page(client.get("/customers/", {"association_type": "reseller"})) == ["a1", "a3"]
    mgr = org.users["sp-a-account_manager"]
    with clock.frozen_at(T0):
        partner_services.assign_customers(actor=org.users["sp-a-admin"], customers=[org.customers["a3"]], manager=mgr)
    assert accounts_on_page(client.get("/customers/", {"manager": str(mgr.pk)})) == ["a3"]
    assert accounts_on_page(client.get("/customers/", {"manager": "unassigned"})) == ["a1", "a2"]
    # Search by another partner's customer finds nothing.
    assert accounts_on_page(client.get("/customers/", {"q": "Bob"})) == []


def test_htmx_request_gets_only_the_table(client, org):
    signed_in(client, org, "sp-a-admin")
    r = client.get("/customers/", {"q": "acme"}, headers={"HX-Request": "true"})
    assert r.status_code == 200
    page = text(r)
    assert "<html" not in page
    assert '<table class="data" id="customer-table">' in page
    assert accounts_on_page(r) == ["a3"]
    assert "HX-Request" in r["Vary"]
    full = client.get("/customers/", {"q": "acme"})
    assert "<html" in text(full)
    assert 'hx-get="/customers/"' in text(full)


def test_customer_list_pages_by_twenty(client, org):
    with clock.frozen_at(T0):
        for i in range(25):
            partner_services.create_customer(
                account_id=f"p{i:02d}", name=f"Paged {i}", partner_code="sp-a", association_type="reseller"
            )
    signed_in(client, org, "sp-a-admin")
    first = client.get("/customers/")
    assert len(accounts_on_page(first)) == 20
    second = client.get("/customers/", {"page": 2})
    assert len(accounts_on_page(second)) == 8
    assert set(accounts_on_page(first)).isdisjoint(accounts_on_page(second))
    assert "?page=2" in text(first)


def test_distributor_sees_second_level_customers_with_their_partner(client, org):
    signed_in(client, org, "dist-admin")
    r = client.get("/customers/")
    assert accounts_on_page(r) == ["d1", "s1", "s2"]
    assert "SUB1" in text(r)
    assert client.get("/customers/s1/").status_code == 200


def test_account_manager_sees_only_assigned_customers(client, org):
    admin, mgr = org.users["sp-a-admin"], org.users["sp-a-account_manager"]
    signed_in(client, org, "sp-a-account_manager")
    assert accounts_on_page(client.get("/customers/")) == []
    with clock.frozen_at(T0):
        partner_services.assign_customers(actor=admin, customers=[org.customers["a2"]], manager=mgr)
    assert accounts_on_page(client.get("/customers/")) == ["a2"]
    assert client.get("/customers/a1/").status_code == 404
    assert client.get("/customers/a2/").status_code == 200


# ---- customer assignment ---------------------------------------------------------------------


def open_assignments() -> dict[str, str]:
    return dict(
        AccountManagerAssignment.objects.filter(ended_at__isnull=True).values_list(
            "customer__account_id", "manager__username"
        )
    )


def test_assign_customers_in_a_batch(client, org):
    mgr = org.users["sp-a-account_manager"]
    signed_in(client, org, "sp-a-admin")
    page = client.get("/customers/assignment/")
    assert accounts_on_page(page) == ["a1", "a2", "a3"]
    at = dt.datetime(2026, 3, 10, 15, 59, 59, tzinfo=dt.UTC)  # 23:59:59 in Asia/Shanghai
    with clock.frozen_at(at):
        r = client.post("/customers/assignment/", {"customer": ["a1", "a3"], "manager": str(mgr.pk)}, follow=True)
    assert r.status_code == 200
    assert "2 customers assigned to sp-a-account_manager; effective from 2026-03-11 (the next day)." in text(r)
    assert open_assignments() == {"a1": "sp-a-account_manager", "a3": "sp-a-account_manager"}
    # The page shows the day the manager sees the customer from, in the billing time zone.
    assert text(r).count("<td>2026-03-11</td>") == 2
    row = AccountManagerAssignment.objects.get(customer__account_id="a1")
    assert row.effective_from == dt.datetime(2026, 3, 10, 16, 0, tzinfo=dt.UTC)


def test_assigning_another_partners_customer_is_404_and_changes_nothing(client, org):
    mgr = org.users["sp-a-account_manager"]
    signed_in(client, org, "sp-a-admin")
    r = client.post("/customers/assignment/", {"customer": ["a1", "b1"], "manager": str(mgr.pk)})
    assert r.status_code == 404
    assert open_assignments() == {}


def test_distributor_views_but_cannot_assign_second_level_customers(client, org):
    mgr = org.users["dist-account_manager"]
    signed_in(client, org, "dist-admin")
    assert "s1" in accounts_on_page(client.get("/customers/"))
    assert accounts_on_page(client.get("/customers/assignment/")) == ["d1"]
    r = client.post("/customers/assignment/", {"customer": ["s1"], "manager": str(mgr.pk)})
    assert r.status_code == 404
    assert open_assignments() == {}
    r = client.post("/customers/assignment/", {"customer": ["d1"], "manager": str(mgr.pk)})
    assert r.status_code == 302
    assert open_assignments() == {"d1": "dist-account_manager"}


def test_manager_of_another_partner_is_refused(client, org):
    signed_in(client, org, "sp-a-admin")
    other = org.users["sp-b-account_manager"]
    r = client.post("/customers/assignment/", {"customer": ["a1"], "manager": str(other.pk)})
    assert r.status_code == 400
    assert "Choose one of your partner&#x27;s account managers." in text(r)
    assert open_assignments() == {}


def test_assignment_without_customers_shows_an_error(client, org):
    mgr = org.users["sp-a-account_manager"]
    signed_in(client, org, "sp-a-admin")
    r = client.post("/customers/assignment/", {"manager": str(mgr.pk)})
    assert r.status_code == 400
    assert "Choose at least one customer." in text(r)
    assert open_assignments() == {}


def test_domain_error_is_shown_and_nothing_changes(client, org, monkeypatch):
    from partnercenter.core.errors import ValidationFailed
    from partnercenter.partners import views

    real = partner_services.assign_customers

    def writes_then_fails(**kwargs):
        real(**kwargs)
        raise ValidationFailed("The rules said no.")

    monkeypatch.setattr(views.services, "assign_customers", writes_then_fails)
    mgr = org.users["sp-a-account_manager"]
    signed_in(client, org, "sp-a-admin")
    r = client.post("/customers/assignment/", {"customer": ["a1"], "manager": str(mgr.pk)})
    assert r.status_code == 400
    assert "The rules said no." in text(r)
    assert open_assignments() == {}


# ---- languages -------------------------------------------------------------------------------


def test_chinese_ui_by_cookie(client, org):
    signed_in(client, org, "sp-a-admin")
    client.cookies["django_language"] = "zh-hans"
    r = client.get("/customers/")
    page = text(r)
    assert "<h1>客户管理</h1>" in page
    assert "客户分配" in page
    assert "用户与权限" in page
    assert "解决方案提供商" in page  # partner kind
    assert "代售" in page  # association type


def test_set_language_view_switches_and_persists(client, org):
    signed_in(client, org, "sp-a-admin")
    r = client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/customers/"})
    assert r.status_code == 302
    assert r["Location"] == "/customers/"
    assert client.cookies["django_language"].value == "zh-hans"
    assert "<h1>客户管理</h1>" in text(client.get("/customers/"))
    client.post("/i18n/setlang/", {"language": "en", "next": "/customers/"})
    assert "<h1>Customer Management</h1>" in text(client.get("/customers/"))


def test_chinese_expenditure_notice(client, org):
    signed_in(client, org, "sp-a-admin")
    client.cookies["django_language"] = "zh-hans"
    page = text(client.get("/expenditure/"))
    assert "<h1>客户消费</h1>" in page
    assert "不是伙伴账单" in page


def test_expenditure_page_carries_the_e4_notice(client, org):
    signed_in(client, org, "sp-a-operator")
    page = text(client.get("/expenditure/"))
    assert (
        "The customer expenditure summary is not the partner bill and cannot be used as the basis for "
        "settlement, repayment or billing." in page
    )


def _po_entries(path) -> list[tuple[str, str]]:
    """(msgid, msgstr) of every entry of a .po file, plural entries by their singular form."""
    entries, key, parts = [], None, {}
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if line.startswith("#"):
            continue
        m = re.match(r'^(msgid_plural|msgid|msgstr(?:\[0\])?|msgstr\[\d+\]) "(.*)"$', line)
        if m:
            key = m.group(1)
            parts[key] = m.group(2)
        elif line.startswith('"') and key:
            parts[key] += line[1:-1]
        elif not line.strip() and parts:
            msgstr = parts.get("msgstr", parts.get("msgstr[0]", ""))
            unescape = lambda s: s.replace('\\"', '"').replace("\\n", "\n")  # noqa: E731
            entries.append((unescape(parts["msgid"]), unescape(msgstr)))
            key, parts = None, {}
    return entries


def test_every_message_is_translated_and_compiled():
    import gettext
    from pathlib import Path

    import partnercenter

    folder = Path(partnercenter.__file__).parent / "locale" / "zh_Hans" / "LC_MESSAGES"
    entries = [(i, s) for i, s in _po_entries(folder / "django.po") if i]
    assert len(entries) > 100
    assert [i for i, s in entries if not s] == []
    with (folder / "django.mo").open("rb") as f:
        compiled = gettext.GNUTranslations(f)
    assert [i for i, s in entries if compiled.gettext(i) != s] == []


def test_dashboard_shows_partner_and_quick_links(client, org):
    signed_in(client, org, "sub1-operator")
    r = client.get("/")
    page = text(r)
    assert r.status_code == 200
    assert "Welcome, sub1-operator" in page
    assert "SUB1 · Second-level reseller · second-level reseller of DIST" in page
    quick_links = page.split("Quick links", 1)[1]
    links = re.findall(r"<li><a href=\"(/[^\"]*)\">", quick_links)
    assert links == [
        "/expenditure/",
        "/customers/",
        "/customer-alerts/",
        "/marketplace/",
        "/exports/",
    ]


def test_dashboard_counts_customers_in_scope(client, org):
    signed_in(client, org, "dist-admin")
    assert client.get("/").context["customer_count"] == 3
    client.logout()
    signed_in(client, org, "sp-b-admin")
    assert client.get("/").context["customer_count"] == 1
