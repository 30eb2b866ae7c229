"""A person's name is shown the same way everywhere: Chinese names surname first without a
space (张小明), Latin names "First Last"."""

from __future__ import annotations

import datetime as dt

import pytest

from partnercenter.accounts.models import User
from partnercenter.accounts.names import person_name, person_name_sql
from partnercenter.core import clock
from partnercenter.expenditure import selectors as expenditure_selectors
from partnercenter.partners import services as partner_services
from tests.test_expenditure_console import KNOWN, NOW, ingest

PAIRS = [
    (("小明", "张"), "张小明"),
    (("Ann", "Lee"), "Ann Lee"),
    (("  Ann ", " Lee "), "Ann Lee"),
    (("Ann", ""), "Ann"),
    (("", "Lee"), "Lee"),
    (("", "张"), "张"),
    (("欧阳", "娜娜"), "娜娜欧阳"),
    (("美咲", "佐藤"), "佐藤美咲"),
    (("", ""), ""),
]


@pytest.mark.parametrize(("parts", "shown"), PAIRS)
def test_person_name(parts, shown):
    assert person_name(*parts) == shown


def test_the_sql_version_gives_the_same_text(org):
    user = org.users["sp-a-operator"]
    for (first, last), shown in PAIRS:
        User.objects.filter(pk=user.pk).update(first_name=first, last_name=last)
        assert User.objects.annotate(n=person_name_sql()).get(pk=user.pk).n == shown, (first, last)


def name(org, username: str, first: str, last: str) -> User:
    user = org.users[username]
    user.first_name, user.last_name = first, last
    user.save()
    return user


def test_user_model_and_api_show_surname_first(org, client):
    user = name(org, "sp-a-admin", "小明", "张")
    assert user.get_full_name() == "张小明"
    assert user.display_name == "张小明"
    assert org.users["sp-a-finance"].display_name == "sp-a-finance"  # no name: the username
    client.force_login(user)
    assert client.get("/api/v1/me").json()["name"] == "张小明"
    page = client.get("/").content.decode()
    assert "张小明" in page and "小明 张" not in page
    users = client.get("/api/v1/users").json()
    assert {u["username"]: u["name"] for u in users}["sp-a-admin"] == "张小明"
    assert "张小明" in client.get("/accounts/users/").content.decode()


def test_account_manager_shown_surname_first_in_customer_management(org, client):
    manager = name(org, "sp-a-account_manager", "小红", "李")
    with clock.frozen_at(clock.now() - dt.timedelta(days=2)):
        partner_services.assign_customers(
            actor=org.users["sp-a-admin"], customers=[org.customers["a1"]], manager=manager
        )
    client.force_login(org.users["sp-a-admin"])
    page = client.get("/customers/").content.decode()
    assert "李小红 (sp-a-account_manager)" in page
    assert "李小红" in client.get("/customers/a1/").content.decode()


def test_account_manager_shown_surname_first_in_the_expenditure_summary(org):
    manager = name(org, "sp-a-account_manager", "Wei", "Zhang")
    with clock.frozen_at(NOW - dt.timedelta(days=30)):
        partner_services.assign_customers(
            actor=org.users["sp-a-admin"], customers=[org.customers["a1"]], manager=manager
        )
    with clock.frozen_at(NOW - dt.timedelta(hours=1)):
        ingest(KNOWN)
    with clock.frozen_at(NOW):
        rows = expenditure_selectors.summary(org.users["sp-a-admin"], expenditure_selectors.SummaryFilter()).rows
        assert {r.manager_name for r in rows if r.account_id == "a1"} == {"Wei Zhang"}
    User.objects.filter(pk=manager.pk).update(first_name="伟", last_name="张")
    expenditure_selectors.clear_summary_cache()
    with clock.frozen_at(NOW):
        rows = expenditure_selectors.summary(org.users["sp-a-admin"], expenditure_selectors.SummaryFilter()).rows
    assert {r.manager_name for r in rows if r.account_id == "a1"} == {"张伟"}
