"""The Details tab (I5): a period's detail lines in the user's scope, each search filter with its
exact rows, one line with its feedback thread; another partner's lines are never listed and are
404; a distributor views its second-level resellers' lines but does not leave feedback on them;
a user without the menu is refused."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from partnercenter.core import clock
from partnercenter.incentives import details_selectors as sel
from partnercenter.incentives import feedback as fb
from partnercenter.incentives.models import Feedback
from tests.incentive_fixtures import JAN, Incentives, incentive, make_incentives
from tests.test_api import bearer, call

NOW = dt.datetime(2026, 2, 10, 4, 0, tzinfo=dt.UTC)
URL = "/incentives/details/"


@pytest.fixture
def inc(org) -> Incentives:
    made = make_incentives(org)
    with clock.frozen_at(NOW):
        yield made


@pytest.fixture
def sub_line(org, inc):
    """A January incentive of the distributor's second-level reseller sub1."""
    return incentive(
        inc.cloud,
        "sub1",
        org,
        period=JAN,
        number="INC-202601-000005",
        lines=[("s1", "CS2601000009", "Compute", "10", "0.03")],
    ).lines.get()


def orders(user, period=JAN, **filters) -> list[tuple[str, str]]:
    return [
        (line.incentive.number, line.order_id) for line in sel.detail_lines(user, period, sel.DetailFilters(**filters))
    ]


ALL_JAN_SP_A = [
    ("INC-202601-000001", "CS2601000001"),
    ("INC-202601-000001", "CS2601000002"),
    ("INC-202601-000002", "CS2601000003"),
    ("INC-202601-000004", "CS2512000001"),
]


# ---- selectors: every filter with its exact rows -------------------------------------------------


def test_the_periods_in_scope_latest_first(org, inc):
    assert sel.periods(org.users["sp-a-finance"]) == [JAN, dt.date(2025, 12, 1)]
    assert sel.periods(org.users["sp-b-finance"]) == [JAN]
    assert sel.periods(org.users["ref-finance"]) == []


def test_a_period_lists_only_the_partners_own_lines(org, inc):
    assert orders(org.users["sp-a-finance"]) == ALL_JAN_SP_A
    assert orders(org.users["sp-b-finance"]) == [("INC-202601-000003", "CS2601000004")]
    assert orders(org.users["sp-a-finance"], dt.date(2025, 12, 1)) == [("INC-202512-000001", "CS2512000001")]
    assert len(orders(org.users["op"])) == 5  # the platform operator sees every partner's


def test_filter_by_program_one_or_more(org, inc):
    user = org.users["sp-a-finance"]
    assert orders(user, programs=("marketplace-boost",)) == [("INC-202601-000002", "CS2601000003")]
    assert orders(user, programs=("cloud-growth",)) == [ALL_JAN_SP_A[0], ALL_JAN_SP_A[1], ALL_JAN_SP_A[3]]
    assert orders(user, programs=("cloud-growth", "marketplace-boost")) == ALL_JAN_SP_A


def test_filter_by_account_order_incentive_and_product_type(org, inc):
    user = org.users["sp-a-finance"]
    assert orders(user, customer_account="a3") == [ALL_JAN_SP_A[1], ALL_JAN_SP_A[2]]
    assert orders(user, order_id="2601000002") == [ALL_JAN_SP_A[1]]
    assert orders(user, order_id="CS2512") == [ALL_JAN_SP_A[3]]
    assert orders(user, incentive_id="INC-202601-000004") == [ALL_JAN_SP_A[3]]
    assert orders(user, product_type="Compute") == [ALL_JAN_SP_A[0], ALL_JAN_SP_A[3]]
    assert orders(user, product_type="Storage", customer_account="a3") == [ALL_JAN_SP_A[1]]
    assert orders(user, order_id="CS2601000004") == []  # sp-b's order


def test_customer_name_searches_what_the_user_may_see(org, inc):
    finance = org.users["sp-a-finance"]  # sees 张*明 and A****d; may not reveal
    assert orders(finance, customer_name="张*明") == [ALL_JAN_SP_A[0], ALL_JAN_SP_A[3]]
    assert orders(finance, customer_name="小") == []  # the hidden middle is not searchable
    assert orders(finance, customer_name="Acme") == []
    assert orders(finance, customer_name="a****d") == [ALL_JAN_SP_A[1], ALL_JAN_SP_A[2]]
    admin = org.users["sp-a-admin"]  # may reveal: the real name
    assert orders(admin, customer_name="acme") == [ALL_JAN_SP_A[1], ALL_JAN_SP_A[2]]
    assert orders(admin, customer_name="小") == [ALL_JAN_SP_A[0], ALL_JAN_SP_A[3]]


def test_filter_by_feedback(org, inc):
    user = org.users["sp-a-finance"]
    lines = {line.order_id: line for line in sel.detail_lines(user, JAN)}
    asked = fb.leave_feedback(actor=user, line_id=lines["CS2601000001"].pk, text="The base looks low.")
    fb.leave_feedback(actor=user, line_id=lines["CS2601000003"].pk, text="Why 10 %?")
    fb.answer_feedback(actor=org.users["op"], feedback_id=asked.pk, text="Checked: correct.")
    assert orders(user, feedback="with") == [ALL_JAN_SP_A[0], ALL_JAN_SP_A[2]]
    assert orders(user, feedback="without") == [ALL_JAN_SP_A[1], ALL_JAN_SP_A[3]]
    assert orders(user, feedback="answered") == [ALL_JAN_SP_A[0]]
    assert orders(user, feedback="") == ALL_JAN_SP_A
    statuses = {line.order_id: sel.feedback_status(line) for line in sel.detail_lines(user, JAN)}
    assert statuses == {
        "CS2601000001": "answered", "CS2601000002": "none", "CS2601000003": "open", "CS2512000001": "none"
    }  # fmt: skip


def test_distributor_views_sub_resellers_lines_but_cannot_leave_feedback(org, inc, sub_line):
    dist = org.users["dist-finance"]
    assert orders(dist) == [("INC-202601-000005", "CS2601000009")]
    assert sel.get_line(dist, sub_line.pk).order_id == "CS2601000009"
    assert sel.may_leave_feedback(dist, sub_line) is False
    assert sel.may_leave_feedback(org.users["sub1-finance"], sub_line) is True
    assert orders(org.users["sub1-finance"]) == [("INC-202601-000005", "CS2601000009")]
    assert orders(org.users["sub2-finance"]) == []


# ---- the page -----------------------------------------------------------------------------------


def page_rows(response) -> list[tuple[str, str, str, Decimal, str]]:
    return [
        (r["line"].incentive.number, r["customer_name"], r["line"].order_id, r["line"].amount, r["status"])
        for r in response.context["rows"]
    ]


def test_the_details_tab_lists_the_latest_period_by_default(org, inc, client):
    client.force_login(org.users["sp-a-finance"])
    r = client.get(URL)
    assert r.status_code == 200
    assert r.context["period"] == JAN and r.context["tab"] == "details"
    assert page_rows(r) == [
        ("INC-202601-000001", "张*明", "CS2601000001", Decimal("24.00"), "none"),
        ("INC-202601-000001", "A****d", "CS2601000002", Decimal("3.00"), "none"),
        ("INC-202601-000002", "A****d", "CS2601000003", Decimal("5.01"), "none"),
        ("INC-202601-000004", "张*明", "CS2512000001", Decimal("-5.00"), "none"),
    ]
    html = r.content.decode()
    assert 'data-tab="details"' in html and 'aria-current="page" data-tab="details"' in html
    assert "张小明" not in html and "Acme Ltd" not in html  # masked on screen
    assert [p.code for p in r.context["programs"]] == ["cloud-growth", "marketplace-boost"]


def test_the_page_applies_every_filter_from_the_query(org, inc, client):
    client.force_login(org.users["sp-a-finance"])
    r = client.get(URL, {"period": "2026-01", "program": "cloud-growth", "product_type": "Compute"})
    assert [x[2] for x in page_rows(r)] == ["CS2601000001", "CS2512000001"]
    r = client.get(URL, {"period": "2026-01", "order_id": "CS2601000003"})
    assert [x[2] for x in page_rows(r)] == ["CS2601000003"]
    r = client.get(URL, {"period": "2025-12"})
    assert page_rows(r) == [("INC-202512-000001", "张*明", "CS2512000001", Decimal("60.00"), "none")]
    r = client.get(URL, {"period": "1999-01"})  # not a period with incentives: the latest one
    assert r.context["period"] == JAN


def test_the_line_details_and_its_thread(org, inc, client):
    user = org.users["sp-a-finance"]
    line = inc.by_number["INC-202601-000002"].lines.get()
    asked = fb.leave_feedback(actor=user, line_id=line.pk, text="Is Security covered?")
    fb.answer_feedback(actor=org.users["op"], feedback_id=asked.pk, text="Yes, at 10 %.")
    client.force_login(user)
    r = client.get(reverse("incentives:line", args=[line.pk]), HTTP_HX_REQUEST="true")
    assert r.status_code == 200
    assert [f.text for f in r.context["thread"]] == ["Is Security covered?", "Yes, at 10 %."]
    html = r.content.decode()
    assert "CS2601000003" in html and "50.05" in html and "5.01" in html and "0.1" in html
    assert 'data-testid="answer-form"' not in html  # partners do not answer
    client.force_login(org.users["op"])
    r = client.get(reverse("incentives:line", args=[line.pk]))
    assert r.status_code == 200 and 'data-testid="answer-form"' in r.content.decode()


def test_feedback_through_the_page(org, inc, client):
    user = org.users["sp-a-finance"]
    line = inc.by_number["INC-202601-000002"].lines.get()
    client.force_login(user)
    url = reverse("incentives:feedback", args=[line.pk])
    form = client.get(url, HTTP_HX_REQUEST="true")
    assert form.status_code == 200 and 'data-testid="feedback-form"' in form.content.decode()
    r = client.post(url, {"text": "  Rate should be 12 %  ", "form_key": "k1"}, HTTP_HX_REQUEST="true")
    assert r.status_code == 200
    html = r.content.decode()
    assert "Your feedback was submitted." in html and 'hx-swap-oob="true"' in html
    assert list(Feedback.objects.values_list("text", "author__username")) == [("Rate should be 12 %", "sp-a-finance")]
    # the same form sent twice records it once
    client.post(url, {"text": "Rate should be 12 %", "form_key": "k1"}, HTTP_HX_REQUEST="true")
    assert Feedback.objects.count() == 1
    r = client.post(url, {"text": "   ", "form_key": "k2"}, HTTP_HX_REQUEST="true")
    assert r.status_code == 200 and "enter the text of your feedback" in r.content.decode()
    assert Feedback.objects.count() == 1


def test_operator_answers_through_the_page(org, inc, client):
    line = inc.by_number["INC-202601-000002"].lines.get()
    asked = fb.leave_feedback(actor=org.users["sp-a-finance"], line_id=line.pk, text="Why?")
    client.force_login(org.users["sp-a-admin"])
    r = client.post(reverse("incentives:answer", args=[asked.pk]), {"text": "I answer myself"})
    assert r.status_code == 403
    client.force_login(org.users["op"])
    r = client.post(reverse("incentives:answer", args=[asked.pk]), {"text": "Because."})
    assert r.status_code == 302
    assert list(Feedback.objects.order_by("id").values_list("text", "reply_to_id")) == [
        ("Why?", None), ("Because.", asked.pk)
    ]  # fmt: skip


# ---- isolation ----------------------------------------------------------------------------------


def test_another_partners_line_is_not_found(org, inc, client):
    other = inc.by_number["INC-202601-000003"].lines.get()  # sp-b's
    client.force_login(org.users["sp-a-admin"])
    assert client.get(reverse("incentives:line", args=[other.pk])).status_code == 404
    assert client.get(reverse("incentives:feedback", args=[other.pk])).status_code == 404
    assert client.post(reverse("incentives:feedback", args=[other.pk]), {"text": "x"}).status_code == 404
    assert "CS2601000004" not in client.get(URL).content.decode()
    assert Feedback.objects.count() == 0
    theirs = fb.leave_feedback(actor=org.users["sp-b-finance"], line_id=other.pk, text="Mine")
    client.force_login(org.users["op"])
    assert client.post(reverse("incentives:answer", args=[theirs.pk]), {"text": "ok"}).status_code == 302
    client.force_login(org.users["sp-a-admin"])
    assert client.post(reverse("incentives:answer", args=[theirs.pk]), {"text": "x"}).status_code == 404


def test_distributor_page_shows_no_feedback_action_on_sub_resellers_lines(org, inc, sub_line, client):
    client.force_login(org.users["dist-admin"])
    r = client.get(URL)
    assert [x[2] for x in page_rows(r)] == ["CS2601000009"]
    assert r.context["rows"][0]["may_feedback"] is False
    assert 'data-testid="feedback"' not in r.content.decode()
    assert client.get(reverse("incentives:feedback", args=[sub_line.pk])).status_code == 403
    assert client.post(reverse("incentives:feedback", args=[sub_line.pk]), {"text": "x"}).status_code == 403
    assert client.get(reverse("incentives:line", args=[sub_line.pk])).status_code == 200
    assert Feedback.objects.count() == 0


@pytest.mark.parametrize(
    "name", ["incentives:details", "incentives:line", "incentives:feedback", "incentives:details_export"]
)
def test_a_user_without_the_menu_is_refused(org, inc, client, name):
    line = inc.by_number["INC-202601-000001"].lines.first()
    args = [] if name in ("incentives:details", "incentives:details_export") else [line.pk]
    client.force_login(org.users["sp-a-operator"])  # the operator role has no Incentive Management
    method = client.post if name == "incentives:details_export" else client.get
    assert method(reverse(name, args=args)).status_code == 403
    client.logout()
    assert method(reverse(name, args=args)).status_code == 302  # to sign in


def test_amounts_are_the_lines_exact_figures(org, inc):
    line = sel.detail_lines(org.users["sp-a-finance"], JAN, sel.DetailFilters(order_id="CS2601000001")).get()
    assert (line.base_amount, line.rate, line.amount) == (Decimal("800.125"), Decimal("0.03"), Decimal("24.00"))


# ---- the API ------------------------------------------------------------------------------------

API = "/incentive-details"


def test_api_lists_a_periods_lines_with_exact_amounts(org, inc, client):
    auth = bearer(client, "sp-a-finance")
    r = call(client, "get", API, auth, query={"period": "2026-01", "limit": 2})
    assert r.status_code == 200, r.content
    body = r.json()
    assert (body["total"], body["limit"], body["offset"]) == (4, 2, 0)
    first = body["items"][0]
    assert {k: v for k, v in first.items() if k != "id"} == {
        "period": "2026-01", "incentive": "INC-202601-000001", "kind": "earning", "program": "cloud-growth",
        "program_name": "Cloud Growth Incentive", "partner": "sp-a", "customer_name": "张*明",
        "customer_account": "a1", "order_id": "CS2601000001", "service_type": "cloud", "product_type": "Compute",
        "currency": "USD", "base_amount": "800.125", "rate": "0.03", "amount": "24", "corrects_period": None,
        "feedback_status": "none", "may_leave_feedback": True,
    }  # fmt: skip
    r = call(client, "get", API, auth, query={"period": "2026-01", "offset": 3})
    assert [(i["incentive"], i["amount"], i["corrects_period"]) for i in r.json()["items"]] == [
        ("INC-202601-000004", "-5", "2025-12")
    ]


def test_api_filters(org, inc, client):
    auth = bearer(client, "sp-a-finance")

    def found(**query):
        r = call(client, "get", API, auth, query=[("period", "2026-01"), *query.items()])
        assert r.status_code == 200, r.content
        return [i["order_id"] for i in r.json()["items"]]

    assert found(program="marketplace-boost") == ["CS2601000003"]
    r = client.get(f"/api/v1{API}?period=2026-01&program=marketplace-boost&program=cloud-growth", **auth)
    assert len(r.json()["items"]) == 4
    assert found(customer_name="a****d") == ["CS2601000002", "CS2601000003"]
    assert found(customer_name="Acme") == []
    assert found(customer_account="a1") == ["CS2601000001", "CS2512000001"]
    assert found(order_id="CS2601000002") == ["CS2601000002"]
    assert found(incentive_id="000004") == ["CS2512000001"]
    assert found(product_type="Security") == ["CS2601000003"]
    assert found(feedback="with") == []
    assert found(feedback="without") == ["CS2601000001", "CS2601000002", "CS2601000003", "CS2512000001"]
    for bad in ({"period": "2026-13"}, {"period": "2026-01", "feedback": "maybe"}, {}):
        assert call(client, "get", API, auth, query=bad).status_code == 422


def test_api_line_feedback_and_answer(org, inc, client):
    line = inc.by_number["INC-202601-000002"].lines.get()
    auth = bearer(client, "sp-a-finance")
    r = call(client, "post", f"{API}/{line.pk}/feedback", auth, {"text": " Why 10 %? "}, HTTP_IDEMPOTENCY_KEY="fb-1")
    assert r.status_code == 200, r.content
    asked = r.json()
    assert (asked["text"], asked["reply_to"], asked["author"]) == ("Why 10 %?", None, "sp-a-finance")
    again = call(client, "post", f"{API}/{line.pk}/feedback", auth, {"text": "Why 10 %?"}, HTTP_IDEMPOTENCY_KEY="fb-1")
    assert again.json()["id"] == asked["id"] and Feedback.objects.count() == 1
    clash = call(client, "post", f"{API}/{line.pk}/feedback", auth, {"text": "Other"}, HTTP_IDEMPOTENCY_KEY="fb-1")
    assert clash.status_code == 409 and clash.json()["code"] == "idempotency_key_reused"
    empty = call(client, "post", f"{API}/{line.pk}/feedback", auth, {"text": "  "})
    assert empty.status_code == 422 and empty.json()["code"] == "invalid_text"
    refused = call(client, "post", f"{API}/feedback/{asked['id']}/answer", auth, {"text": "self"})
    assert refused.status_code == 403 and refused.json()["code"] == "answer_forbidden"
    op = bearer(client, "op")
    r = call(client, "post", f"{API}/feedback/{asked['id']}/answer", op, {"text": "The program's rate."})
    assert r.status_code == 200 and r.json()["reply_to"] == asked["id"]
    r = call(client, "get", f"{API}/{line.pk}", auth)
    assert r.status_code == 200
    assert r.json()["feedback_status"] == "answered"
    assert [(t["text"], t["author"]) for t in r.json()["thread"]] == [
        ("Why 10 %?", "sp-a-finance"),
        ("The program's rate.", "op"),
    ]


def test_api_isolation(org, inc, sub_line, client):
    theirs = inc.by_number["INC-202601-000003"].lines.get()  # sp-b's
    auth = bearer(client, "sp-a-admin")
    assert call(client, "get", f"{API}/{theirs.pk}", auth).status_code == 404
    r = call(client, "post", f"{API}/{theirs.pk}/feedback", auth, {"text": "x"})
    assert r.status_code == 404
    assert "CS2601000004" not in call(client, "get", API, auth, query={"period": "2026-01"}).content.decode()
    dist = bearer(client, "dist-admin")
    r = call(client, "get", f"{API}/{sub_line.pk}", dist)
    assert r.status_code == 200 and r.json()["may_leave_feedback"] is False
    r = call(client, "post", f"{API}/{sub_line.pk}/feedback", dist, {"text": "x"})
    assert r.status_code == 403 and r.json()["code"] == "feedback_forbidden"
    no_menu = bearer(client, "sp-a-operator")
    for method, path, body in (
        ("get", API + "?period=2026-01", None),
        ("get", f"{API}/{sub_line.pk}", None),
        ("post", f"{API}/{sub_line.pk}/feedback", {"text": "x"}),
        ("post", f"{API}/feedback/1/answer", {"text": "x"}),
    ):
        r = call(client, method, path, no_menu, body)
        assert r.status_code == 403 and r.json()["code"] == "menu_forbidden", path
    assert Feedback.objects.count() == 0
