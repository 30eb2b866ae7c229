"""The Lead Dispatch page: dispatchers dispatch and recall (batch and per row), staff see "My leads"
and update status; masking, isolation, the history, and the page in Simplified Chinese."""

from __future__ import annotations

import re

from django.test import Client

from partnercenter.leads.models import Lead
from tests.lead_fixtures import leads, snapshot  # noqa: F401

URL = "/leads/"


def client_for(org, username: str) -> Client:
    c = Client()
    c.force_login(org.users[username])
    return c


def form_key(html: str) -> str:
    return re.search(r'name="form_key" value="(\w+)"', html).group(1)


def test_admin_page_masks_contact_data(org, leads):  # noqa: F811
    r = client_for(org, "sp-a-admin").get(URL)
    html = r.content.decode()
    assert r.status_code == 200
    assert "<h1>Lead Dispatch</h1>" in html
    assert "王*明" in html and "139****5678" in html and "wa***@example.com" in html
    assert "13912345678" not in html and "wang.xiaoming" not in html and "王小明" not in html
    assert "Delta Retail" not in html
    assert html.count('name="leads"') == 3
    assert 'data-testid="batch-dispatch"' in html and 'data-testid="batch-recall"' in html
    assert '<option value="sp-a-account_manager">' in html
    assert "sp-b-account_manager" not in html


def test_batch_dispatch_and_row_recall_by_form(org, leads):  # noqa: F811
    c = client_for(org, "sp-a-admin")
    a, b = leads["Acme Trading"], leads["Blue River Foods"]
    key = form_key(c.get(URL).content.decode())
    data = {"form_key": key, "action": "dispatch", "assignee": "sp-a-account_manager", "leads": [a.pk, b.pk]}
    r = c.post(URL, data, follow=True)
    assert "Dispatched 2 lead(s) to sp-a-account_manager." in r.content.decode()
    # the same form posted twice (a double click) dispatches once
    c.post(URL, data)
    assert a.events.filter(kind="dispatched").count() == 1
    r = c.post(URL, {"form_key": "k2", "row_recall": b.pk}, follow=True)
    assert "Recalled 1 lead(s)." in r.content.decode()
    assert list(Lead.objects.filter(assignee__isnull=False).values_list("company", flat=True)) == ["Acme Trading"]


def test_refused_batch_shows_why_and_writes_nothing(org, leads):  # noqa: F811
    c = client_for(org, "sp-a-admin")
    before = snapshot()
    r = c.post(URL, {"form_key": "k", "action": "recall", "leads": [leads["Acme Trading"].pk]})
    assert r.status_code == 409
    assert f"{leads['Acme Trading'].number} is not dispatched" in r.content.decode()
    r = c.post(URL, {"form_key": "k", "action": "dispatch", "assignee": "", "leads": [leads["Acme Trading"].pk]})
    assert r.status_code == 400
    r = c.post(
        URL, {"form_key": "k", "action": "dispatch", "assignee": "sp-a-admin", "leads": [leads["Delta Retail"].pk]}
    )
    assert r.status_code == 404
    assert snapshot() == before


def test_staff_sees_my_leads_and_updates_status(org, leads):  # noqa: F811
    client_for(org, "sp-a-admin").post(
        URL,
        {
            "form_key": "k",
            "action": "dispatch",
            "assignee": "sp-a-account_manager",
            "leads": [leads["Cedar Logistics"].pk],
        },
    )
    am = client_for(org, "sp-a-account_manager")
    html = am.get(URL).content.decode()
    assert "My leads" in html and "Cedar Logistics" in html and "Acme Trading" not in html
    assert 'name="leads"' not in html and "batch-dispatch" not in html
    pk = leads["Cedar Logistics"].pk
    r = am.post(URL, {"form_key": "s1", "update": pk, f"status-{pk}": "qualified", "note": "demo booked"}, follow=True)
    assert f"{leads['Cedar Logistics'].number} is now Qualified." in r.content.decode()
    html = am.get(f"{URL}?history={pk}").content.decode()
    assert "demo booked" in html and 'data-kind="status_changed"' in html
    assert am.get(f"{URL}?history={leads['Acme Trading'].pk}").status_code == 404


def test_isolation_and_menu(org, leads):  # noqa: F811
    assert client_for(org, "sp-b-admin").get(f"{URL}?history={leads['Acme Trading'].pk}").status_code == 404
    assert client_for(org, "sp-a-finance").get(URL).status_code == 403
    assert Client().get(URL).status_code == 302


def test_page_in_simplified_chinese(org, leads):  # noqa: F811
    c = client_for(org, "sp-a-admin")
    html = c.get(URL, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "<h1>线索派发</h1>" in html
    for text in ("派发", "收回", "产品意向", "联系人"):
        assert text in html, text


def test_platform_operator_sees_every_lead_with_its_partner(org, leads):  # noqa: F811
    html = client_for(org, "op").get(URL).content.decode()
    assert html.count('name="leads"') == 4
    assert '<small class="muted">sp-b</small>' in html
    assert "Account manager" in html and "(sp-b, " in html


def test_operator_role_needs_the_menu(org):
    # the operator role's preset has no Lead Dispatch: a partner admin grants it (tests.lead_fixtures)
    assert client_for(org, "sp-a-operator").get(URL).status_code == 403
