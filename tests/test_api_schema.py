"""The API keeps its published contract: schemathesis drives every route with generated requests.

For a platform operator, a partner admin and an account manager: no request may answer a server
error or a status code the OpenAPI document does not list, and every answer must match its schema
(schemathesis' full set of checks). The docs page works offline.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, Phase
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import CHECKS
from schemathesis.config import SchemathesisConfig

from partnercenter.wsgi import application
from tests.conftest import PASSWORD

API = "/api/v1"
ROLES = ["op", "sp-a-admin", "sp-a-account_manager"]

# Business rules reject some schema-valid requests (an unknown partner code, a taken username):
# 409 and 422 are the documented answers for those, never a 5xx.
CONFIG = SchemathesisConfig.from_dict(
    {"checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "3xx", 401, 403, 404, 409, 422, 429]}}}
)
schema = schemathesis.openapi.from_wsgi(f"{API}/openapi.json", application, config=CONFIG)


@pytest.fixture
def tokens(org) -> Iterator[dict[str, str]]:
    client = Client()
    out = {}
    for username in ROLES:
        r = client.post(
            f"{API}/auth/tokens", {"username": username, "password": PASSWORD}, content_type="application/json"
        )
        assert r.status_code == 201, r.content
        out[username] = r.json()["token"]
    # Like Django's test client (which reconnects these after each of its requests, hence after
    # it): the WSGI app must not close the test's connection, and with it the transaction every
    # test is rolled back in, at the end of each request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield out
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@schema.parametrize()
@hypothesis_settings(
    max_examples=5,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_every_route_answers_as_documented(case, tokens):
    # Each generated request is sent as each of the three roles: same input, different scopes.
    for role in ROLES:
        case.call_and_validate(headers={"Authorization": f"Bearer {tokens[role]}"}, checks=CHECKS.get_all())


def test_the_openapi_document_has_no_duplicate_keys(client, db):
    def no_duplicates(pairs):
        keys = [k for k, _ in pairs]
        assert len(keys) == len(set(keys)), f"duplicate keys: {sorted(k for k in keys if keys.count(k) > 1)}"
        return dict(pairs)

    doc = json.loads(client.get(f"{API}/openapi.json").content, object_pairs_hook=no_duplicates)
    assert doc["paths"]["/api/v1/me"]["get"]["responses"].keys() == {"200", "401"}


# ---- the docs page works offline --------------------------------------------------------------


def test_the_docs_page_references_no_external_host_and_its_assets_are_served(client, db):
    r = client.get(f"{API}/docs")
    assert r.status_code == 200
    html = r.content.decode()
    references = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert references, html
    assert not re.search(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", html, re.IGNORECASE), (
        "an external host in the docs page"
    )
    assert sorted(references) == [
        "/static/ninja/favicon.png",
        "/static/ninja/favicon.svg",
        "/static/ninja/swagger-ui-bundle.js",
        "/static/ninja/swagger-ui-init.js",
        "/static/ninja/swagger-ui.css",
    ]
    for ref in references:
        asset = client.get(ref)
        assert asset.status_code == 200, ref
        assert b"".join(asset.streaming_content if asset.streaming else [asset.content])
