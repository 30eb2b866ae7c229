"""The leads API (/api/v1/leads): import by the platform operator, search, dispatch, recall, status,
history; isolation 404s, idempotency, masked contact data."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from partnercenter.leads.models import Lead
from tests.lead_fixtures import leads, row, snapshot  # noqa: F401

API = "/api/v1/leads"


def client_for(org, username: str) -> Client:
    c = Client()
    c.force_login(org.users[username])
    return c


def post(c: Client, path: str, body: dict, key: str | None = None):
    extra = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return c.post(f"{API}{path}", json.dumps(body), content_type="application/json", **extra)


def test_operator_imports_single_and_batch(org):
    c = client_for(org, "op")
    r = post(c, "", {"leads": [row("sp-a", "Acme")]})
    assert r.status_code == 200
    (one,) = r.json()
    assert (one["partner"], one["company"], one["contact_name"], one["phone"], one["email"], one["status"]) == (
        "sp-a",
        "Acme",
        "王*明",
        "139****5678",
        "wa***@example.com",
        "new",
    )
    r = post(c, "", {"leads": [row("sp-a", "B"), row("sp-b", "C")]}, key="imp-1")
    assert [x["company"] for x in r.json()] == ["B", "C"]
    again = post(c, "", {"leads": [row("sp-a", "B"), row("sp-b", "C")]}, key="imp-1")
    assert again.json() == r.json()
    assert post(c, "", {"leads": [row("sp-a", "D")]}, key="imp-1").status_code == 409
    assert Lead.objects.count() == 3


def test_import_errors_name_row_and_column(org):
    r = post(client_for(org, "op"), "", {"leads": [row("sp-a", "A"), row("sp-a", "B", email="x", phone="")]})
    assert r.status_code == 422
    assert r.json()["details"] == [{"row": 2, "column": "email", "why": "not an email address"}]
    assert Lead.objects.count() == 0


@pytest.mark.parametrize("who", ["sp-a-admin", "sp-a-account_manager"])
def test_partner_users_may_not_import(org, who):
    assert post(client_for(org, who), "", {"leads": [row("sp-a", "A")]}).status_code == 403
    assert Lead.objects.count() == 0


def test_dispatch_recall_status_and_history(org, leads):  # noqa: F811
    admin, am = client_for(org, "sp-a-admin"), client_for(org, "sp-a-account_manager")
    a, c = leads["Acme Trading"].pk, leads["Cedar Logistics"].pk
    r = post(admin, "/dispatch", {"lead_ids": [a, c], "assignee": "sp-a-account_manager"}, key="x1")
    assert r.status_code == 200
    assert [x["assignee"] for x in r.json()] == ["sp-a-account_manager"] * 2
    assert (
        post(admin, "/dispatch", {"lead_ids": [a, c], "assignee": "sp-a-account_manager"}, key="x1").json() == r.json()
    )
    assert post(admin, "/recall", {"lead_ids": [c]}).status_code == 200
    mine = am.get(API).json()
    assert (mine["total"], [x["id"] for x in mine["items"]]) == (1, [a])
    assert am.get(f"{API}/{c}").status_code == 404
    r = post(am, f"/{a}/status", {"status": "qualified", "note": "budget ok"})
    assert (r.status_code, r.json()["status"]) == (200, "qualified")
    assert post(admin, f"/{a}/status", {"status": "lost"}).status_code == 403
    events = admin.get(f"{API}/{a}/events").json()
    assert [(e["kind"], e["actor"], e["assignee"], e["to_status"]) for e in events] == [
        ("created", "op", None, "new"),
        ("dispatched", "sp-a-admin", "sp-a-account_manager", ""),
        ("status_changed", "sp-a-account_manager", None, "qualified"),
    ]
    assert [s["username"] for s in admin.get(f"{API}/staff").json()] == [
        "sp-a-account_manager",
        "sp-a-admin",
        "sp-a-operator",
    ]
    assert am.get(f"{API}/staff").json() == []


def test_isolation_and_refusals_write_nothing(org, leads):  # noqa: F811
    other = client_for(org, "sp-b-admin")
    a = leads["Acme Trading"].pk
    before = snapshot()
    assert other.get(f"{API}/{a}").status_code == 404
    assert other.get(f"{API}/{a}/events").status_code == 404
    assert post(other, "/dispatch", {"lead_ids": [a], "assignee": "sp-b-account_manager"}).status_code == 404
    assert post(other, "/recall", {"lead_ids": [a]}).status_code == 404
    assert post(other, f"/{a}/status", {"status": "lost"}).status_code == 404
    am = client_for(org, "sp-a-account_manager")
    r = post(am, "/dispatch", {"lead_ids": [a], "assignee": "sp-a-account_manager"})
    assert (r.status_code, r.json()["code"]) == (403, "dispatch_forbidden")
    fin = client_for(org, "sp-a-finance")
    assert fin.get(API).status_code == 403
    r = post(client_for(org, "op"), "/dispatch", {"lead_ids": [a, leads["Delta Retail"].pk], "assignee": "sp-b-admin"})
    assert (r.status_code, r.json()["code"]) == (422, "other_partner")
    assert snapshot() == before


def test_routes_document_every_status_code(client, db):
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    ours = {p: ops for p, ops in paths.items() if p.startswith(API)}
    assert len(ours) == 7
    for path, ops in ours.items():
        for method, op in ops.items():
            codes = set(op["responses"])
            assert {"200", "401", "403", "404", "422"} <= codes, (method, path)
            if method == "post":
                assert "409" in codes, path
    assert paths[API]["post"]["x-menu"] == "platform_operator"
    assert paths[API]["get"]["x-menu"] == "lead_dispatch"
