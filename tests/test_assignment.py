"""Customer assignment (rule O1): removing the account manager (E3 timing, history, audit), the
console page (select all, no preselected manager, the audited eye toggle, a distributor's partner
filter) and POST /api/v1/assignments/unassign."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from partnercenter import scoping
from partnercenter.accounts import services as account_services
from partnercenter.accounts.models import AuditEntry
from partnercenter.core import clock, menus
from partnercenter.core.errors import ValidationFailed
from partnercenter.partners import services
from partnercenter.partners.models import AccountManagerAssignment
from tests.conftest import T0
from tests.test_api import bearer, call
from tests.test_console import accounts_on_page, open_assignments, signed_in, text

# 23:59:59 and 00:00:00 of 2026-03-10 / 2026-03-11 in Asia/Shanghai.
LAST_SECOND = dt.datetime(2026, 3, 10, 15, 59, 59, tzinfo=dt.UTC)
MIDNIGHT = dt.datetime(2026, 3, 10, 16, 0, 0, tzinfo=dt.UTC)
URL = "/customers/assignment/"


def assign(org, *account_ids: str, manager: str = "sp-a-account_manager", at: dt.datetime = T0) -> None:
    with clock.frozen_at(at):
        services.assign_customers(
            actor=org.users["sp-a-admin"], customers=[org.customers[a] for a in account_ids], manager=org.users[manager]
        )


def managed(org, username: str, at: dt.datetime) -> list[str]:
    return sorted(scoping.customers_for(org.users[username], at=at).values_list("account_id", flat=True))


# ---- service ----------------------------------------------------------------------------------


def test_unassign_takes_effect_at_midnight_and_keeps_history(org):
    assign(org, "a1", "a3", at=T0 - dt.timedelta(days=5))
    with clock.frozen_at(LAST_SECOND):
        ended = services.unassign_customers(
            actor=org.users["sp-a-admin"], customers=[org.customers["a1"], org.customers["a2"]]
        )
    assert [(r.customer.account_id, r.ended_at) for r in ended] == [("a1", MIDNIGHT)]
    # the manager keeps the customer through the last second of the day, not a second longer
    assert managed(org, "sp-a-account_manager", LAST_SECOND) == ["a1", "a3"]
    assert managed(org, "sp-a-account_manager", MIDNIGHT) == ["a3"]
    row = AccountManagerAssignment.objects.get(customer__account_id="a1")
    assert (row.manager.username, row.ended_at) == ("sp-a-account_manager", MIDNIGHT)
    entry = AuditEntry.objects.get(action="customer.unassign")
    assert entry.actor == org.users["sp-a-admin"]
    assert entry.detail == {
        "customers": ["a1"],
        "managers": ["sp-a-account_manager"],
        "effective": "2026-03-10T16:00:00+00:00",
    }


def test_unassign_again_changes_nothing(org):
    assign(org, "a1")
    admin = org.users["sp-a-admin"]
    with clock.frozen_at(T0 + dt.timedelta(days=1)):
        assert len(services.unassign_customers(actor=admin, customers=[org.customers["a1"]])) == 1
        assert services.unassign_customers(actor=admin, customers=[org.customers["a1"]]) == []
    assert AuditEntry.objects.filter(action="customer.unassign").count() == 1
    assert AccountManagerAssignment.objects.filter(ended_at__isnull=True).count() == 0


def test_unassign_needs_customers(org):
    with pytest.raises(ValidationFailed, match="Choose at least one customer."):
        services.unassign_customers(actor=org.users["sp-a-admin"], customers=[])


def test_assignment_made_today_and_removed_today_is_never_visible(org):
    assign(org, "a1", at=LAST_SECOND - dt.timedelta(hours=1))
    with clock.frozen_at(LAST_SECOND):
        services.unassign_customers(actor=org.users["sp-a-admin"], customers=[org.customers["a1"]])
    row = AccountManagerAssignment.objects.get()
    assert row.effective_from == row.ended_at == MIDNIGHT
    assert managed(org, "sp-a-account_manager", MIDNIGHT) == []


# ---- console ----------------------------------------------------------------------------------


def test_console_unassign(client, org):
    assign(org, "a1", "a3", at=T0 - dt.timedelta(days=5))
    signed_in(client, org, "sp-a-admin")
    with clock.frozen_at(LAST_SECOND):
        r = client.post(URL, {"customer": ["a1", "a2"], "action": "unassign"}, follow=True)
        assert r.status_code == 200
        assert "1 customer unassigned from its account manager; effective from 2026-03-11 (the next day)." in text(r)
        # until midnight the row still names the manager, and says when it is removed
        row = re.search(r'<tr data-account="a1">.*?</tr>', text(r), re.S)
        assert row is not None and "removed from 2026-03-11" in row.group(0)
    assert open_assignments() == {"a3": "sp-a-account_manager"}
    with clock.frozen_at(MIDNIGHT):
        r = client.get(URL, {"manager": "unassigned"})
    assert accounts_on_page(r) == ["a1", "a2"]


def test_console_unassign_without_a_manager_says_nothing_changed(client, org):
    signed_in(client, org, "sp-a-admin")
    r = client.post(URL, {"customer": ["a2"], "action": "unassign"}, follow=True)
    assert "None of the selected customers has an account manager; nothing changed." in text(r)
    assert not AuditEntry.objects.filter(action="customer.unassign").exists()


def test_console_unassign_of_another_partners_customer_is_404_and_changes_nothing(client, org):
    assign(org, "a1")
    signed_in(client, org, "sp-a-admin")
    r = client.post(URL, {"customer": ["a1", "b1"], "action": "unassign"})
    assert r.status_code == 404
    assert open_assignments() == {"a1": "sp-a-account_manager"}


def test_no_manager_is_preselected_and_assigning_without_one_is_refused(client, org):
    signed_in(client, org, "sp-a-admin")
    page = text(client.get(URL))
    select = re.search(r'<select name="manager"[^>]*id="assign_manager"[^>]*>(.*?)</select>', page, re.S)
    assert select is not None
    assert re.findall(r"<option[^>]*selected[^>]*>([^<]*)</option>", select.group(1)) == ["Choose an account manager"]
    r = client.post(URL, {"customer": ["a1"], "action": "assign"})
    assert r.status_code == 400
    assert "Choose the account manager to assign the selected customers to." in text(r)
    assert open_assignments() == {}


def test_select_all_box_is_on_the_page(client, org):
    signed_in(client, org, "sp-a-admin")
    page = text(client.get(URL))
    assert re.search(r'<input type="checkbox" id="select-all"[^>]*aria-label="Select all customers on this page"', page)
    assert page.count('name="customer"') == 3


def test_names_are_masked_until_revealed_and_the_reveal_is_audited(client, org):
    signed_in(client, org, "sp-a-admin")
    r = client.get(URL)
    assert "张*明" in text(r) and "张小明" not in text(r)
    assert 'data-testid="eye-name"' in text(r)
    assert not AuditEntry.objects.filter(action="sensitive.reveal").exists()
    r = client.get(URL, {"reveal": "name"})
    assert r.status_code == 200
    assert "张小明" in text(r) and "Alice Corp" in text(r)
    assert "no-cache" in r["Cache-Control"]
    entry = AuditEntry.objects.get(action="sensitive.reveal")
    assert (entry.actor, entry.target, entry.detail) == (
        org.users["sp-a-admin"],
        "console:/customers/assignment/",
        {"columns": ["name"]},
    )


def test_roles_that_may_not_reveal_get_no_eye_and_a_refusal(client, org):
    admin, operator = org.users["sp-a-admin"], org.users["sp-a-operator"]
    account_services.set_menus(actor=admin, user=operator, menu_codes=[menus.CUSTOMER_ASSIGNMENT])
    signed_in(client, org, "sp-a-operator")
    r = client.get(URL)
    assert r.status_code == 200
    assert 'data-testid="eye-name"' not in text(r)
    r = client.get(URL, {"reveal": "name"})
    assert r.status_code == 403
    assert "张小明" not in text(r)
    assert not AuditEntry.objects.filter(action="sensitive.reveal").exists()


def test_distributor_views_a_resellers_customers_but_acts_only_on_its_own(client, org):
    signed_in(client, org, "dist-admin")
    own = client.get(URL)
    assert accounts_on_page(own) == ["d1"]
    assert re.findall(r'<option value="([^"]*)"', text(own).split('id="id_partner"')[1].split("</select>")[0]) == [
        "dist",
        "sub1",
        "sub2",
    ]
    sub = client.get(URL, {"partner": "sub1"})
    assert accounts_on_page(sub) == ["s1"]
    assert "These are customers of SUB1: you can view them; only SUB1 can assign them." in text(sub)
    assert re.search(r'value="s1"[^>]*disabled', text(sub))
    assert 'data-testid="assign"' not in text(sub) and 'data-testid="unassign"' not in text(sub)
    r = client.post(f"{URL}?partner=sub1", {"customer": ["s1"], "action": "unassign"})
    assert r.status_code == 404
    # Customer Management lists all of them by default, and filters by partner too
    assert accounts_on_page(client.get("/customers/")) == ["d1", "s1", "s2"]
    assert accounts_on_page(client.get("/customers/", {"partner": "sub2"})) == ["s2"]


def test_reassigned_before_midnight_shows_the_new_manager(client, org):
    org.users["sp-a-operator"].role = "account_manager"
    org.users["sp-a-operator"].save(update_fields=["role"])
    assign(org, "a1", at=T0 - dt.timedelta(days=5))
    with clock.frozen_at(T0):
        services.unassign_customers(actor=org.users["sp-a-admin"], customers=[org.customers["a1"]])
    assign(org, "a1", manager="sp-a-operator", at=T0 + dt.timedelta(hours=1))
    signed_in(client, org, "sp-a-admin")
    with clock.frozen_at(T0 + dt.timedelta(hours=2)):
        page = text(client.get(URL))
    row = re.search(r'<tr data-account="a1">.*?</tr>', page, re.S)
    assert row is not None
    assert "sp-a-operator" in row.group(0) and "removed from" not in row.group(0)


# ---- API --------------------------------------------------------------------------------------


def test_api_unassign(org, client):
    assign(org, "a1", "a3", at=T0 - dt.timedelta(days=5))
    auth = bearer(client, "sp-a-admin")
    with clock.frozen_at(LAST_SECOND):
        r = call(client, "post", "/assignments/unassign", auth, {"account_ids": ["a3", "a1", "a2"]})
        assert r.status_code == 200
        want = {
            "unassigned": [
                {"account_id": "a1", "manager": "sp-a-account_manager", "ended_at": "2026-03-10T16:00:00Z"},
                {"account_id": "a3", "manager": "sp-a-account_manager", "ended_at": "2026-03-10T16:00:00Z"},
            ]
        }
        assert r.json() == want
        # a retry changes nothing and answers the same
        again = call(client, "post", "/assignments/unassign", auth, {"account_ids": ["a1", "a2", "a3"]})
        assert again.json() == want
    assert AccountManagerAssignment.objects.filter(ended_at=MIDNIGHT).count() == 2
    assert AuditEntry.objects.filter(action="customer.unassign").count() == 1


def test_api_unassign_refuses_what_the_caller_may_not_act_on(org, client):
    assign(org, "a1")
    r = call(client, "post", "/assignments/unassign", bearer(client, "sp-a-admin"), {"account_ids": ["a1", "b1"]})
    assert r.status_code == 404
    assert r.json()["details"] == ["b1"]
    r = call(client, "post", "/assignments/unassign", bearer(client, "sp-a-operator"), {"account_ids": ["a1"]})
    assert r.status_code == 403
    r = call(client, "post", "/assignments/unassign", bearer(client, "dist-admin"), {"account_ids": ["s1"]})
    assert r.status_code == 404
    assert open_assignments() == {"a1": "sp-a-account_manager"}


def test_api_unassign_idempotency_key(org, client):
    assign(org, "a1", at=T0 - dt.timedelta(days=5))
    auth = bearer(client, "sp-a-admin")
    with clock.frozen_at(T0):
        first = call(client, "post", "/assignments/unassign", auth, {"account_ids": ["a1"]}, HTTP_IDEMPOTENCY_KEY="k")
    assert first.status_code == 200
    assign(org, "a1", at=T0 + dt.timedelta(hours=10))  # assigned again since
    with clock.frozen_at(T0 + dt.timedelta(hours=20)):  # within the key's 24 hours
        replay = call(client, "post", "/assignments/unassign", auth, {"account_ids": ["a1"]}, HTTP_IDEMPOTENCY_KEY="k")
        assert replay.json() == first.json()
        assert open_assignments() == {"a1": "sp-a-account_manager"}  # the replay wrote nothing
        # the same key for an assignment of the same customers is another request
        other = call(
            client,
            "post",
            "/assignments",
            auth,
            {"account_ids": ["a1"], "manager": "sp-a-account_manager"},
            HTTP_IDEMPOTENCY_KEY="k",
        )
    assert other.status_code == 409
    assert other.json()["code"] == "idempotency_key_reused"
