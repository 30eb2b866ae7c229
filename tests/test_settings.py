"""Settings as the product starts: environments, debug, production security, sign-in throttling."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PASSWORD

SRC = Path(__file__).resolve().parents[1] / "src"
REAL_SECRET = "f3a9c1d7e5b2a8c4f6e0d9b7a5c3e1f2-production-secret"
LOGIN = "/accounts/login/"


def run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Start a fresh interpreter with the product's settings read from ``env``."""
    inherited = ("PARTNERCENTER_", "DATABASE_URL", "DJANGO_")  # the browser tests set DJANGO_ALLOW_ASYNC_UNSAFE
    full = {k: v for k, v in os.environ.items() if not k.startswith(inherited)}
    full.update(PYTHONPATH=str(SRC), DJANGO_SETTINGS_MODULE="partnercenter.settings", **env)
    return subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], env=full, capture_output=True, text=True, timeout=120, check=False
    )


def settings_in(*names: str, **env: str) -> dict[str, object]:
    code = (
        "import json, django; from django.conf import settings; django.setup(); "
        f"print(json.dumps({{n: getattr(settings, n, None) for n in {list(names)!r}}}, default=str))"
    )
    r = run_python(code, **env)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def production(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "PARTNERCENTER_ENV": "production",
        "PARTNERCENTER_SECRET_KEY": REAL_SECRET,
        "PARTNERCENTER_ALLOWED_HOSTS": "partners.example.com",
        "PARTNERCENTER_VAR_DIR": str(tmp_path),
        **extra,
    }


# ---- environment and debug ------------------------------------------------------------------


@pytest.mark.parametrize("value", ["prod", "staging", "Production", ""])
def test_an_unknown_environment_is_refused_at_start(value):
    r = run_python("import django; django.setup()", PARTNERCENTER_ENV=value)
    assert r.returncode != 0
    assert "ImproperlyConfigured" in r.stderr
    assert f"PARTNERCENTER_ENV is {value!r}; it must be one of: development, production." in r.stderr


def test_debug_is_off_unless_asked_for_in_development(tmp_path):
    assert settings_in("DEBUG", PARTNERCENTER_VAR_DIR=str(tmp_path)) == {"DEBUG": False}
    assert settings_in("DEBUG", PARTNERCENTER_VAR_DIR=str(tmp_path), PARTNERCENTER_DEBUG="1") == {"DEBUG": True}
    assert settings_in("DEBUG", **production(tmp_path)) == {"DEBUG": False}


def test_debug_is_refused_in_production(tmp_path):
    r = run_python("import django; django.setup()", **production(tmp_path, PARTNERCENTER_DEBUG="1"))
    assert r.returncode != 0
    assert "PARTNERCENTER_DEBUG=1 is refused in production." in r.stderr


def test_a_debug_flag_that_is_not_a_flag_is_refused(tmp_path):
    r = run_python("import django; django.setup()", PARTNERCENTER_DEBUG="maybe", PARTNERCENTER_VAR_DIR=str(tmp_path))
    assert r.returncode != 0
    assert "PARTNERCENTER_DEBUG is 'maybe'; use 1 or 0." in r.stderr


# ---- production security ---------------------------------------------------------------------


def test_production_sends_hsts_and_trusts_no_forwarded_proto_by_default(tmp_path):
    got = settings_in(
        "SECURE_HSTS_SECONDS",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS",
        "SECURE_SSL_REDIRECT",
        "SECURE_PROXY_SSL_HEADER",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        **production(tmp_path),
    )
    assert got == {
        "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_SSL_REDIRECT": True,
        "SECURE_PROXY_SSL_HEADER": None,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
    }


def test_forwarded_proto_is_trusted_only_behind_a_declared_tls_proxy(tmp_path):
    got = settings_in("SECURE_PROXY_SSL_HEADER", **production(tmp_path, PARTNERCENTER_BEHIND_TLS_PROXY="1"))
    assert got == {"SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"]}


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    code = "from partnercenter.cli import main; main(['check', '--deploy', '--fail-level', 'WARNING'])"
    r = run_python(code, **production(tmp_path))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "System check identified no issues (0 silenced)." in r.stdout


def test_every_page_carries_a_content_security_policy(client, org):
    for path in (LOGIN, "/api/v1/docs", "/no-such-page"):
        csp = client.get(path)["Content-Security-Policy"]
        assert "default-src 'self'" in csp
        assert "script-src 'self';" in csp
        assert "frame-ancestors 'none'" in csp


# ---- sign-in throttling per address -----------------------------------------------------------


def test_console_sign_in_is_throttled_per_address_across_usernames(client, org, settings):
    usernames = [u for u in org.users if u != "sp-a-admin"]
    for username in usernames[:19]:  # one failure each: no username reaches its own limit of 5
        assert client.post(LOGIN, {"username": username, "password": "wrong"}).status_code == 200
    # the 20th failure from the address reaches the address limit
    assert client.post(LOGIN, {"username": usernames[19], "password": "wrong"}).status_code == 429
    r = client.post(LOGIN, {"username": "sp-a-admin", "password": PASSWORD})
    assert r.status_code == 429
    assert "_auth_user_id" not in client.session
    # another address is not locked
    other = client.post(LOGIN, {"username": "sp-a-admin", "password": PASSWORD}, REMOTE_ADDR="10.1.2.3")
    assert other.status_code == 302


def test_nineteen_failures_from_an_address_still_let_a_right_password_in(client, org):
    usernames = [u for u in org.users if u != "sp-a-admin"]
    for username in usernames[:19]:
        client.post(LOGIN, {"username": username, "password": "wrong"})
    assert client.post(LOGIN, {"username": "sp-a-admin", "password": PASSWORD}).status_code == 302


def test_signing_in_to_ones_own_account_does_not_clear_the_address_failures(client, org):
    usernames = [u for u in org.users if u != "sp-a-admin"]
    for username in usernames[:19]:
        client.post(LOGIN, {"username": username, "password": "wrong"})
    assert client.post(LOGIN, {"username": "sp-a-admin", "password": PASSWORD}).status_code == 302
    client.logout()
    assert client.post(LOGIN, {"username": usernames[19], "password": "wrong"}).status_code == 429


def test_api_tokens_are_throttled_per_address_across_usernames(client, org):
    def issue(username: str, password: str):
        return client.post(
            "/api/v1/auth/tokens", {"username": username, "password": password}, content_type="application/json"
        )

    usernames = [u for u in org.users if u != "sp-a-admin"]
    for username in usernames[:19]:
        assert issue(username, "wrong").status_code == 401
    assert issue(usernames[19], "wrong").status_code == 429
    r = issue("sp-a-admin", PASSWORD)
    assert r.status_code == 429
    assert r.json() == {"code": "too_many_attempts", "message": "Too many failed sign-ins; try again later."}


# ---- the test suite itself --------------------------------------------------------------------


def test_a_missing_shared_fixture_fails_the_tests_instead_of_skipping_them(tmp_path):
    # Its own SQLite database: the PostgreSQL test database is this run's.
    env = {k: v for k, v in os.environ.items() if k not in ("PARTNERCENTER_SHARED_DIR", "DATABASE_URL")}
    env.update(
        PARTNERCENTER_SHARED_DIR=str(tmp_path / "no-shared"), PARTNERCENTER_VAR_DIR=str(tmp_path), PYTHONPATH=str(SRC)
    )
    r = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "pytest", "-q", "tests/test_import.py::test_import_focus_sample"],
        cwd=SRC.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert r.returncode == 1, r.stdout
    assert "1 failed" in r.stdout and "skipped" not in r.stdout
    assert f"The shared test fixture {tmp_path / 'no-shared' / 'focus' / 'customers.csv'} is missing." in r.stdout


def test_no_template_has_an_inline_script_the_content_security_policy_would_block():
    import re
    from pathlib import Path

    import partnercenter

    root = Path(partnercenter.__file__).parent
    inline = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|\son[a-z]+\s*=", re.IGNORECASE)
    offenders = [
        str(p.relative_to(root)) for p in root.rglob("templates/**/*.html") if inline.search(p.read_text("utf-8"))
    ]
    assert offenders == []
