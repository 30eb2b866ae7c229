"""Masked fields cannot be recovered by searching (rule E5): a user who may not reveal them
searches only the account id and the name as shown masked; users who may reveal search it all."""

from __future__ import annotations

import datetime as dt

import pytest

from partnercenter.core import clock, masking
from partnercenter.partners.models import Customer
from tests.test_expenditure_console import KNOWN, NOW, ingest

API = "/api/v1"


def console_hits(client, user, text: str) -> list[str]:
    client.force_login(user)
    r = client.get("/customers/", {"q": text}, HTTP_HX_REQUEST="true")
    assert r.status_code == 200
    return sorted(r.context["rows"][i]["account_id"] for i in range(len(r.context["rows"])))


def api_hits(client, user, text: str) -> list[str]:
    client.force_login(user)
    r = client.get(f"{API}/customers", {"search": text})
    assert r.status_code == 200, r.content
    return sorted(i["account_id"] for i in r.json()["items"])


@pytest.mark.parametrize("hits", [console_hits, api_hits])
def test_operator_cannot_search_by_hidden_parts(org, client, hits):
    operator = org.users["sp-a-operator"]  # sees 张*明, A****p, A****d; may not reveal
    assert hits(client, operator, "a1@example.com") == []  # email is masked: not searchable
    assert hits(client, operator, "example") == []
    assert hits(client, operator, "13800000000") == []  # mobile likewise
    assert hits(client, operator, "0000") == []
    assert hits(client, operator, "小") == []  # the hidden middle of 张小明
    assert hits(client, operator, "张小明") == []
    assert hits(client, operator, "Alice") == []
    # what is shown can be searched: the masked name's visible characters, and the account id
    assert hits(client, operator, "张") == ["a1"]
    assert hits(client, operator, "张*明") == ["a1"]
    assert hits(client, operator, "p") == ["a2"]  # A****p
    assert hits(client, operator, "a****D") == ["a3"]  # A****d, case-insensitive
    assert hits(client, operator, "a3") == ["a3"]


@pytest.mark.parametrize("hits", [console_hits, api_hits])
def test_users_who_may_reveal_search_every_field(org, client, hits):
    admin = org.users["sp-a-admin"]
    assert hits(client, admin, "小") == ["a1"]
    assert hits(client, admin, "alice") == ["a2"]
    assert hits(client, admin, "a1@example.com") == ["a1"]
    assert hits(client, admin, "13800000000") == ["a1", "a2", "a3"]


def test_account_manager_may_reveal_and_searches_its_customers_fully(org, client):
    from partnercenter.partners import services as partner_services

    with clock.frozen_at(clock.now() - dt.timedelta(days=2)):
        partner_services.assign_customers(
            actor=org.users["sp-a-admin"], customers=[org.customers["a2"]], manager=org.users["sp-a-account_manager"]
        )
    assert api_hits(client, org.users["sp-a-account_manager"], "alice") == ["a2"]


def test_masked_name_in_sql_is_the_masked_name_on_screen(org):
    for name in ("张小明", "Alice Corp", "Bo", "X", "", "Acme Ltd", "王五", "Abcdef", "Abcdefg"):
        Customer.objects.filter(account_id="a1").update(name=name)
        shown = Customer.objects.annotate(m=masking.masked_name_sql("name")).get(account_id="a1").m
        assert shown == masking.mask_name(name), name


@pytest.fixture
def known(org):
    with clock.frozen_at(NOW - dt.timedelta(hours=1)):
        ingest(KNOWN)
    with clock.frozen_at(NOW):
        yield org


def summary_hits(client, user, name: str) -> list[str]:
    client.force_login(user)
    r = client.get(f"{API}/expenditure/summary", {"name": name})
    assert r.status_code == 200, r.content
    return sorted({i["account_id"] for i in r.json()["items"]})


def test_expenditure_customer_name_filter_matches_only_what_the_user_sees(client, known):
    admin, operator = known.users["sp-a-admin"], known.users["sp-a-operator"]
    # the admin first: its result must not be served to the operator from the summary cache
    assert summary_hits(client, admin, "小") == ["a1"]
    assert summary_hits(client, operator, "小") == []
    assert summary_hits(client, operator, "张小明") == []
    assert summary_hits(client, operator, "张*明") == ["a1"]
    assert summary_hits(client, admin, "ALICE") == ["a2"]
    assert summary_hits(client, operator, "ALICE") == []
    assert summary_hits(client, operator, "a2") == []  # a name filter: account ids are not names


def test_the_search_box_says_what_a_search_covers(org, client):
    client.force_login(org.users["sp-a-operator"])
    page = client.get("/customers/").content.decode()
    assert 'placeholder="Account ID or name as shown"' in page
    assert "email" not in page.split('name="q"')[1].split(">")[0]
    client.force_login(org.users["sp-a-admin"])
    page = client.get("/customers/").content.decode()
    assert 'placeholder="Name, account ID, email or mobile"' in page
