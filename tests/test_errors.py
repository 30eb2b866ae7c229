"""Errors reach people as the product's own pages and integrators as JSON, never Django's debug pages."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from partnercenter.accounts.models import User
from tests.conftest import PASSWORD

API = "/api/v1"


@pytest.fixture
def quiet_client(db) -> Client:
    """A client that receives the 500 answer instead of the exception, as a browser would."""
    return Client(raise_request_exception=False)


def token(client: Client, username: str) -> dict[str, str]:
    r = client.post(f"{API}/auth/tokens", {"username": username, "password": PASSWORD}, content_type="application/json")
    assert r.status_code == 201, r.content
    return {"HTTP_AUTHORIZATION": f"Bearer {r.json()['token']}"}


def test_debug_is_off_in_the_test_settings(settings):
    assert settings.DEBUG is False


def test_a_missing_page_answers_the_products_own_404(client, org):
    client.force_login(org.users["sp-a-admin"], backend="django.contrib.auth.backends.ModelBackend")
    r = client.get("/no-such-page/")
    assert r.status_code == 404
    assert [t.name for t in r.templates][:2] == ["404.html", "base.html"]
    body = r.content.decode()
    assert "The page or record does not exist, or it is not yours to see." in body
    assert "Using the URLconf" not in body  # Django's debug page lists the URL patterns


def test_a_server_error_answers_the_products_own_500_page(quiet_client, org, monkeypatch):
    quiet_client.force_login(org.users["sp-a-admin"], backend="django.contrib.auth.backends.ModelBackend")

    def broken(*args, **kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr("partnercenter.core.views.scoping.customers_for", broken)
    r = quiet_client.get("/")
    assert r.status_code == 500
    body = r.content.decode()
    assert 'data-testid="server-error"' in body
    assert '<link rel="stylesheet" href="/static/core/console.css">' in body  # the console's look
    assert "Server error" in body and "服务器错误" in body
    assert "database on fire" not in body and "Traceback" not in body


def test_an_unknown_api_route_answers_json_404(client, db):
    r = client.get(f"{API}/no-such-route")
    assert r.status_code == 404
    assert r["Content-Type"] == "application/json"
    assert r.json() == {"code": "not_found", "message": "No API route at /api/v1/no-such-route."}


def test_an_error_inside_an_api_route_answers_json_500(quiet_client, org, monkeypatch):
    auth = token(quiet_client, "sp-a-admin")

    def broken(self):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(User, "menu_codes", broken)
    r = quiet_client.get(f"{API}/me", **auth)
    assert r.status_code == 500
    assert r["Content-Type"].startswith("application/json")
    assert r.json() == {"code": "server_error", "message": "Something went wrong on our side; it has been logged."}


def test_multipart_without_a_boundary_answers_json_400_in_the_api_and_a_page_in_the_console(org):
    client = Client(raise_request_exception=False, enforce_csrf_checks=True)
    csrf = {"HTTP_X_CSRFTOKEN": client.get("/accounts/login/").cookies["csrftoken"].value}
    r = client.post("/accounts/login/", data=b"--x\r\n", content_type="multipart/form-data", **csrf)
    assert r.status_code == 400
    assert "The request could not be read. Go back and try again." in r.content.decode()
    client.force_login(org.users["op"], backend="django.contrib.auth.backends.ModelBackend")
    r = client.post(f"{API}/partners", data=b"--x\r\n", content_type="multipart/form-data", **csrf)
    assert r.status_code == 400
    assert r.json() == {
        "code": "bad_request",
        "message": "The request body could not be read.",
        "details": [{"where": "body", "why": "Invalid boundary in multipart: None"}],
    }


def test_a_refused_csrf_check_answers_the_products_own_page_or_json(org):
    client = Client(raise_request_exception=False, enforce_csrf_checks=True)
    r = client.post("/accounts/login/", {"username": "op", "password": PASSWORD})
    assert r.status_code == 403
    assert [t.name for t in r.templates][:2] == ["403.html", "base.html"]
    assert "CSRF verification failed" not in r.content.decode()  # Django's own page


def test_a_usage_batch_over_the_limit_answers_json_413_and_writes_nothing(client, org, settings):
    from partnercenter.usage.models import IngestBatch

    settings.USAGE_BATCH_MAX_BYTES = 1000
    auth = token(client, "op")
    body = b'{"format": "native", "items": [' + b" " * 1000 + b"]}"
    r = client.post(f"{API}/usage/batches", data=body, content_type="application/json", **auth)
    assert r.status_code == 413
    assert r.json() == {
        "code": "payload_too_large",
        "message": "The body is larger than this route accepts (1000 bytes).",
        "details": {"limit_bytes": 1000},
    }
    assert IngestBatch.objects.count() == 0


def test_a_usage_batch_larger_than_the_form_limit_is_accepted(client, org, settings):
    from tests.test_usage_ingest import record

    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    auth = token(client, "op")
    items = [record(f"big-{i}", "a1", "1.5", "2026-03-01T00:00:00Z") for i in range(20)]
    body = json.dumps({"format": "native", "items": items}).encode()
    assert len(body) > 100
    r = client.post(f"{API}/usage/batches", data=body, content_type="application/json", **auth)
    assert r.status_code == 201, r.content
    assert r.json()["rows_new"] == 20


def test_other_api_routes_answer_413_json_over_the_form_limit(client, org, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    auth = token(client, "op")
    body = {"code": "x" * 200, "name": "X", "kind": "solution_provider"}
    r = client.post(f"{API}/partners", body, content_type="application/json", **auth)
    assert r.status_code == 413
    assert r.json() == {"code": "payload_too_large", "message": "The request body is larger than this route accepts."}


def test_a_wrong_method_on_an_api_route_answers_json_405_with_allow(client, org):
    client.force_login(org.users["sp-a-admin"])
    r = client.delete("/api/v1/expenditure/summary")
    assert r.status_code == 405
    assert r["Content-Type"] == "application/json"
    assert r.json() == {
        "code": "method_not_allowed",
        "message": "DELETE is not allowed on /api/v1/expenditure/summary.",
        "details": {"allowed": ["GET"]},
    }
    assert r["Allow"] == "GET"


NUL_ANSWER = {"code": "validation_error", "message": "Text must not contain the NUL character (U+0000)."}


def test_a_nul_character_in_an_api_body_query_or_path_is_refused_and_changes_nothing(client, org):
    from partnercenter.partners.models import AccountManagerAssignment

    before = list(AccountManagerAssignment.objects.values_list("pk", "ended_at"))
    auth = token(client, "sp-a-admin")
    body = {"customers": ["a1\x00"], "manager": "sp-a-account_manager"}
    r = client.post(f"{API}/assignments/unassign", body, content_type="application/json", **auth)
    assert r.status_code == 422
    assert r.json() == {**NUL_ANSWER, "details": [{"where": "body", "why": "NUL character"}]}
    r = client.get(f"{API}/customers", {"search": "a\x00"}, **auth)
    assert r.status_code == 422
    assert r.json() == {**NUL_ANSWER, "details": [{"where": "query", "why": "NUL character"}]}
    r = client.get(f"{API}/customers/a%00", **auth)
    assert r.status_code == 422
    assert r.json() == {**NUL_ANSWER, "details": [{"where": "path", "why": "NUL character"}]}
    assert list(AccountManagerAssignment.objects.values_list("pk", "ended_at")) == before


def test_a_usage_batch_with_a_nul_character_is_rejected_and_writes_nothing(client, org, settings):
    from partnercenter.usage.models import IngestBatch, LineItem
    from tests.test_usage_ingest import record

    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100  # a large batch: ingestion itself checks each row
    auth = token(client, "op")
    item = record("nul-1", "a1", "1.5", "2026-03-01T00:00:00Z")
    item["service_name"] = "bad\x00text"
    body = json.dumps({"format": "native", "items": [item]}).encode()
    r = client.post(f"{API}/usage/batches", data=body, content_type="application/json", **auth)
    assert r.status_code == 422, r.content
    assert r.json()["errors"] == [{"row": 1, "column": "service_name", "reason": "contains the NUL character (U+0000)"}]
    assert IngestBatch.objects.count() == 0
    assert LineItem.objects.count() == 0
