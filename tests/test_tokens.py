"""API tokens: a password change revokes them; owners list and revoke theirs; admins and platform
operators revoke a user's tokens (API, console, CLI); every revocation is in the audit log."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from partnercenter.accounts.models import ApiToken, AuditEntry
from tests.conftest import PASSWORD

API = "/api/v1"
NEW_PASSWORD = "Another-pass-5678"


def token_for(client, username: str, password: str = PASSWORD) -> dict[str, str]:
    r = client.post(f"{API}/auth/tokens", {"username": username, "password": password}, content_type="application/json")
    assert r.status_code == 201, r.content
    return {"HTTP_AUTHORIZATION": f"Bearer {r.json()['token']}"}


def live(username: str) -> int:
    return ApiToken.objects.filter(user__username=username, revoked_at__isnull=True).count()


def revocations() -> list[tuple[str | None, str, str, int]]:
    return [
        (e.actor.username if e.actor else None, e.target, e.detail["reason"], len(e.detail["tokens"]))
        for e in AuditEntry.objects.filter(action="token.revoke").order_by("id")
    ]


def test_changing_the_password_in_the_console_revokes_the_users_tokens(org, client):
    api = Client()  # no console session: the bearer token alone
    auth = token_for(api, "sp-a-operator")
    token_for(api, "sp-a-operator")
    other = token_for(api, "sp-a-finance")
    client.force_login(org.users["sp-a-operator"])
    r = client.post(
        "/accounts/password/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert r.status_code == 302
    assert api.get(f"{API}/me", **auth).status_code == 401
    assert live("sp-a-operator") == 0
    assert api.get(f"{API}/me", **other).status_code == 200  # someone else's tokens are untouched
    assert revocations() == [(None, "sp-a-operator", "password_changed", 2)]


def test_a_password_reset_by_any_path_revokes_the_tokens(org, client):
    """The operator admin and ``changepassword`` both end in ``set_password`` + ``save``."""
    auth = token_for(client, "sp-a-admin")
    user = org.users["sp-a-admin"]
    user.set_password(NEW_PASSWORD)
    user.save()
    assert client.get(f"{API}/me", **auth).status_code == 401
    assert revocations() == [(None, "sp-a-admin", "password_changed", 1)]


def test_saving_a_user_without_a_new_password_keeps_the_tokens(org, client):
    auth = token_for(client, "sp-a-admin")
    user = org.users["sp-a-admin"]
    user.first_name = "Ann"
    user.save()
    user.check_password(PASSWORD)  # a hash upgrade on sign-in is no password change
    assert client.get(f"{API}/me", **auth).status_code == 200
    assert revocations() == []


def test_the_owner_lists_and_revokes_their_tokens(org, client):
    first = token_for(client, "sp-a-operator")
    second = token_for(client, "sp-a-operator")
    token_for(client, "sp-a-finance")
    r = client.get(f"{API}/auth/tokens", **second)
    assert r.status_code == 200
    rows = r.json()
    assert [row["is_current"] for row in rows] == [True, False]
    assert [row["is_active"] for row in rows] == [True, True]
    mine = list(ApiToken.objects.filter(user__username="sp-a-operator").order_by("-created_at", "-id"))
    assert [row["id"] for row in rows] == [t.pk for t in mine]
    assert [row["prefix"] for row in rows] == [t.prefix for t in mine]
    assert "digest" not in rows[0] and "token" not in rows[0]

    r = client.delete(f"{API}/auth/tokens/{mine[1].pk}", **second)
    assert r.status_code == 204
    assert client.get(f"{API}/me", **first).status_code == 401
    assert client.get(f"{API}/me", **second).status_code == 200
    rows = client.get(f"{API}/auth/tokens", **second).json()
    assert [row["is_active"] for row in rows] == [True, False]
    assert rows[1]["revoked_at"] is not None
    # revoking it again, or someone else's token, is "not found" and changes nothing
    assert client.delete(f"{API}/auth/tokens/{mine[1].pk}", **second).status_code == 404
    finance_token = ApiToken.objects.get(user__username="sp-a-finance")
    r = client.delete(f"{API}/auth/tokens/{finance_token.pk}", **second)
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    assert live("sp-a-finance") == 1
    assert revocations() == [("sp-a-operator", "sp-a-operator", "revoked", 1)]


def test_revoking_the_current_token_is_audited(org, client):
    auth = token_for(client, "sp-a-operator")
    assert client.delete(f"{API}/auth/tokens/current", **auth).status_code == 204
    assert revocations() == [("sp-a-operator", "sp-a-operator", "revoked", 1)]


def test_partner_admin_revokes_its_own_users_tokens_only(org, client):
    victim = token_for(client, "sp-a-operator")
    token_for(client, "sp-b-operator")
    admin = token_for(client, "sp-a-admin")
    r = client.delete(f"{API}/users/sp-a-operator/tokens", **admin)
    assert r.status_code == 200
    assert r.json() == {"username": "sp-a-operator", "revoked": 1}
    assert client.get(f"{API}/me", **victim).status_code == 401
    r = client.delete(f"{API}/users/sp-b-operator/tokens", **admin)
    assert r.status_code == 404
    assert live("sp-b-operator") == 1
    # a user without User Management may not, not even for a colleague
    finance = token_for(client, "sp-a-finance")
    r = client.delete(f"{API}/users/sp-a-admin/tokens", **finance)
    assert r.status_code == 403 and r.json()["code"] == "menu_forbidden"
    assert live("sp-a-admin") == 1
    assert revocations() == [("sp-a-admin", "sp-a-operator", "revoked_by_admin", 1)]


def test_platform_operator_revokes_anyones_tokens(org, client):
    token_for(client, "sp-b-finance")
    token_for(client, "sp-b-finance")
    op = token_for(client, "op")
    r = client.delete(f"{API}/users/sp-b-finance/tokens", **op)
    assert r.json() == {"username": "sp-b-finance", "revoked": 2}
    assert live("sp-b-finance") == 0
    assert revocations() == [("op", "sp-b-finance", "revoked_by_admin", 2)]


def test_cli_revokes_a_users_tokens(org, client):
    auth = token_for(client, "sp-a-account_manager")
    out = StringIO()
    call_command("users", "revoke-tokens", "sp-a-account_manager", stdout=out)
    assert out.getvalue() == "Revoked 1 API token(s) of sp-a-account_manager.\n"
    assert client.get(f"{API}/me", **auth).status_code == 401
    assert revocations() == [(None, "sp-a-account_manager", "revoked_by_cli", 1)]
    with pytest.raises(CommandError, match="No user 'nobody'"):
        call_command("users", "revoke-tokens", "nobody", stdout=StringIO())


def test_console_lists_own_tokens_and_revokes_one(org, client):
    api = Client()  # no console session: the bearer token alone
    auth = token_for(api, "sp-a-operator")
    token = ApiToken.objects.get()
    client.force_login(org.users["sp-a-operator"])
    page = client.get("/accounts/password/").content.decode()
    assert 'data-testid="api-tokens"' in page
    assert f"{token.prefix}…" in page
    assert token.digest not in page
    r = client.post(f"/accounts/tokens/{token.pk}/revoke/")
    assert r.status_code == 302 and r["Location"] == "/accounts/password/"
    assert api.get(f"{API}/me", **auth).status_code == 401
    # another user's token id changes nothing
    other = token_for(api, "sp-a-finance")
    other_token = ApiToken.objects.get(user__username="sp-a-finance")
    client.post(f"/accounts/tokens/{other_token.pk}/revoke/")
    assert api.get(f"{API}/me", **other).status_code == 200


def test_console_admin_revokes_a_users_tokens(org, client):
    api = Client()  # no console session: the bearer token alone
    auth = token_for(api, "sp-a-finance")
    token_for(api, "sp-b-finance")
    client.force_login(org.users["sp-a-admin"])
    assert "/accounts/users/sp-a-finance/tokens/revoke/" in client.get("/accounts/users/").content.decode()
    r = client.post("/accounts/users/sp-a-finance/tokens/revoke/")
    assert r.status_code == 302
    assert api.get(f"{API}/me", **auth).status_code == 401
    assert client.post("/accounts/users/sp-b-finance/tokens/revoke/").status_code == 404
    assert live("sp-b-finance") == 1
    client.force_login(org.users["sp-a-operator"])
    assert client.post("/accounts/users/sp-a-admin/tokens/revoke/").status_code == 403
    assert revocations() == [("sp-a-admin", "sp-a-finance", "revoked_by_admin", 1)]
