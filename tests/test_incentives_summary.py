"""Incentive Management › Confirm Incentives › Summary and an incentive's detail page (seed 003,
I2–I4, I9): rows with exact figures, the search box, the Confirm Bill dialog and its OK, the
operator's Approve, and who may see and do what."""

from __future__ import annotations

import datetime as dt
import html
import re
from decimal import Decimal

import pytest
from django.test import Client

from partnercenter.core import clock
from partnercenter.incentives.models import Estimate, Incentive, State, Transition
from tests.incentive_fixtures import FEB, JAN, incentive, make_incentives
from tests.test_incentives_workflow import unpaid_bill

pytestmark = pytest.mark.django_db
D = Decimal
BASE = "/incentives/"
# Inside the confirmation window of January's incentives (deadline 2026-02-16 00:00 Shanghai).
BEFORE_DEADLINE = dt.datetime(2026, 2, 10, tzinfo=dt.UTC)


@pytest.fixture
def made(org):
    with clock.frozen_at(BEFORE_DEADLINE):
        yield make_incentives(org)


def as_user(org, username: str, language: str = "en") -> Client:
    c = Client(headers={"accept-language": language})
    c.force_login(org.users[username])
    return c


def text(r) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", r.content.decode())))


def rows(r) -> dict[str, tuple[str, Decimal, str]]:
    """number → (state, exact amount, operation text) of the Summary table."""
    body = r.content.decode()
    out = {}
    for m in re.finditer(r'<tr data-number="([^"]*)" data-state="([^"]*)">(.*?)</tr>', body, re.S):
        amount = re.search(r'data-testid="amount" data-exact="([^"]*)"', m.group(3)).group(1)
        operation = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", m.group(3).split('class="operations"')[1])).strip()
        out[m.group(1) or "estimate"] = (m.group(2), Decimal(amount), operation.lstrip("> ").strip())
    return out


def test_summary_lists_the_partners_incentives_with_exact_amounts(org, made):
    r = as_user(org, "sp-a-finance").get(BASE)
    assert r.status_code == 200
    assert rows(r) == {
        "INC-202601-000001": ("pending_confirmation", D("27.00"), "Confirm Bill"),
        "INC-202601-000002": ("pending_confirmation", D("5.01"), "Confirm Bill"),
        "INC-202601-000004": ("issued", D("-5.00"), ""),
        "INC-202512-000001": ("issued", D("60.00"), ""),
    }
    page = text(r)
    assert "Sales › Incentives › Incentive Management › Confirm Incentives" in page
    assert "Cloud Growth Incentive" in page and "Marketplace Boost" in page and "2026-02-16 00:00" in page


def test_search_by_state_period_and_program(org, made):
    c = as_user(org, "sp-a-finance")
    assert list(rows(c.get(BASE, {"state": "pending_confirmation"}))) == ["INC-202601-000001", "INC-202601-000002"]
    assert list(rows(c.get(BASE, {"period": "2025-12"}))) == ["INC-202512-000001"]
    assert list(rows(c.get(BASE, {"program": "marketplace-boost"}))) == ["INC-202601-000002"]
    assert list(rows(c.get(BASE, {"state": "issued", "period": "2026-01"}))) == ["INC-202601-000004"]
    bad = c.get(BASE, {"state": "nope", "period": "2026-13"})
    assert bad.status_code == 400
    assert "Status: no such status." in text(bad) and "Reconciliation period: must be a month (YYYY-MM)." in text(bad)


def test_estimated_rows_are_the_latest_estimates_of_the_current_period(org, made):
    common = {"program": made.cloud, "partner": org.partners["sp-a"], "period_start": FEB, "currency": "USD"}
    at = dt.datetime(2026, 2, 14, tzinfo=dt.UTC)
    Estimate.objects.create(
        **common,
        period_end=dt.date(2026, 3, 1),
        base_amount=Decimal(100),
        amount=Decimal(3),
        line_count=1,
        as_of=at,
        computed_at=at,
    )
    Estimate.objects.create(
        **common,
        period_end=dt.date(2026, 3, 1),
        base_amount=Decimal(200),
        amount=Decimal(6),
        line_count=2,
        as_of=at,
        computed_at=at + dt.timedelta(hours=1),
    )
    c = as_user(org, "sp-a-finance")
    assert rows(c.get(BASE, {"state": "estimated"})) == {"estimate": ("estimated", D("6"), "")}
    assert rows(c.get(BASE))["estimate"] == ("estimated", D("6"), "")
    assert rows(as_user(org, "sp-b-finance").get(BASE, {"state": "estimated"})) == {}


def test_confirm_bill_dialog_then_ok_confirms_the_whole_period(org, made):
    c = as_user(org, "sp-a-finance")
    dialog = c.get(
        BASE + "INC-202601-000002/confirm/",
        {"next": "/incentives/?state=pending_confirmation"},
        headers={"HX-Request": "true"},
    )
    assert dialog.status_code == 200
    html = dialog.content.decode()
    assert "<html" not in html and 'role="dialog"' in html
    items = re.findall(
        r'data-testid="period">([^<]*)</td>\s*<td data-testid="name">([^<]*)</td>\s*<td data-testid="association">'
        r'([^<]*)</td>\s*<td class="num" data-testid="amount" data-exact="([^"]*)">([^<]*)</td>',
        html,
    )
    assert [(p, n, a, D(x), shown) for p, n, a, x, shown in items] == [
        ("2026-01", "Cloud Growth Incentive", "Reseller", D("27.00"), "27.00 USD"),
        ("2026-01", "Marketplace Boost", "Reseller", D("5.01"), "5.01 USD"),
    ]
    key = re.search(r'name="form_key" value="([^"]+)"', html).group(1)
    with clock.frozen_at(dt.datetime(2026, 2, 10, tzinfo=dt.UTC)):
        r = c.post(BASE + "INC-202601-000002/confirm/", {"form_key": key, "next": "/incentives/?period=2026-01"})
        assert (r.status_code, r["Location"]) == (302, "/incentives/?period=2026-01")
        again = c.post(BASE + "INC-202601-000002/confirm/", {"form_key": key, "next": "/incentives/"})
        assert again.status_code == 302  # a resubmitted form answers the first confirmation again
    page = c.get(r["Location"])
    assert "Incentive reconciliation succeeded" in text(page)
    got = rows(page)
    assert got["INC-202601-000001"][0] == got["INC-202601-000002"][0] == "issuing"
    assert page.content.decode().count('data-testid="status">Issuing<') == 2
    assert Transition.objects.filter(to_state=State.ISSUING, actor=org.users["sp-a-finance"]).count() == 2


def test_the_dialog_without_scripts_is_a_page_and_a_refusal_changes_nothing(org, made):
    c = as_user(org, "sp-a-finance")
    page = c.get(BASE + "INC-202601-000001/confirm/")
    assert page.status_code == 200 and "<html" in page.content.decode() and "Confirm Bill" in text(page)
    unpaid_bill(org)
    count = Transition.objects.count()
    r = c.post(BASE + "INC-202601-000001/confirm/", {"form_key": "k"})
    assert r.status_code == 409
    assert "Frozen: bill 2026-01 has 12.34 USD unpaid" in text(r)
    assert Transition.objects.count() == count


def test_a_frozen_period_shows_why_instead_of_the_button(org, made):
    unpaid_bill(org)
    got = rows(as_user(org, "sp-a-finance").get(BASE, {"state": "pending_confirmation"}))
    assert got == {
        "INC-202601-000001": ("pending_confirmation", D("27.00"), "Frozen: bill 2026-01 has 12.34 USD unpaid"),
        "INC-202601-000002": ("pending_confirmation", D("5.01"), "Frozen: bill 2026-01 has 12.34 USD unpaid"),
    }


def test_isolation_another_partner_gets_404_and_no_menu_is_refused(org, made):
    other = as_user(org, "sp-b-finance")
    assert list(rows(other.get(BASE))) == ["INC-202601-000003"]
    for url in ("INC-202601-000001/", "INC-202601-000001/confirm/"):
        assert other.get(BASE + url).status_code == 404
    assert other.post(BASE + "INC-202601-000001/confirm/").status_code == 404
    assert other.post(BASE + "INC-202601-000001/approve/").status_code == 404
    no_menu = as_user(org, "sp-a-operator")
    for url in ("", "INC-202601-000001/", "INC-202601-000001/confirm/"):
        assert no_menu.get(BASE + url).status_code == 403
    assert no_menu.post(BASE + "INC-202601-000001/confirm/").status_code == 403
    anonymous = Client().get(BASE)
    assert anonymous.status_code == 302 and "/login" in anonymous["Location"]
    assert Incentive.objects.get(number="INC-202601-000001").state == State.PENDING


def test_a_distributor_views_its_resellers_incentives_read_only(org, made):
    incentive(
        made.cloud,
        "sub1",
        org,
        period=JAN,
        number="INC-202601-000005",
        lines=[("s1", "CS2601000009", "Compute", "100", "0.03")],
    )
    c = as_user(org, "dist-finance")
    assert rows(c.get(BASE)) == {"INC-202601-000005": ("pending_confirmation", D("3.00"), "View only")}
    assert "Sub One Customer"[0] + "****r" in text(c.get(BASE + "INC-202601-000005/"))
    r = c.post(BASE + "INC-202601-000005/confirm/", {"form_key": "k"})
    assert r.status_code == 403
    assert "Only the incentive's own partner may confirm it." in text(r)
    assert Incentive.objects.get(number="INC-202601-000005").state == State.PENDING
    assert as_user(org, "sub1-finance").get(BASE + "INC-202601-000005/").status_code == 200
    assert as_user(org, "sub2-admin").get(BASE + "INC-202601-000005/").status_code == 404


def test_operator_sees_every_partner_and_approves_issuing_ones(org, made):
    with clock.frozen_at(dt.datetime(2026, 2, 10, tzinfo=dt.UTC)):
        as_user(org, "sp-a-finance").post(BASE + "INC-202601-000001/confirm/", {"form_key": "k"})
    op = as_user(org, "op")
    got = rows(op.get(BASE, {"partner": "sp-a", "period": "2026-01"}))
    assert got["INC-202601-000001"] == ("issuing", D("27.00"), "Approve")
    assert got["INC-202601-000002"] == ("issuing", D("5.01"), "Approve")
    assert "INC-202601-000003" in rows(op.get(BASE))
    assert as_user(org, "sp-a-admin").post(BASE + "INC-202601-000001/approve/").status_code == 302
    assert Incentive.objects.get(number="INC-202601-000001").state == State.ISSUING  # a partner may not approve
    at = dt.datetime(2026, 2, 11, tzinfo=dt.UTC)
    with clock.frozen_at(at):
        r = op.post(BASE + "INC-202601-000001/approve/", {"next": "/incentives/?state=issued"})
    assert (r.status_code, r["Location"]) == (302, "/incentives/?state=issued")
    assert "Incentive INC-202601-000001 approved; it is issued." in text(op.get(r["Location"]))
    inc = Incentive.objects.get(number="INC-202601-000001")
    assert (inc.state, inc.issued_at) == (State.ISSUED, at)
    assert Incentive.objects.get(number="INC-202601-000002").state == State.ISSUING


def test_detail_page_shows_status_policy_and_calculation(org, made):
    r = as_user(org, "sp-a-finance").get(BASE + "INC-202601-000001/")
    assert r.status_code == 200
    body, page = r.content.decode(), text(r)
    assert re.search(r'data-testid="status"><strong>Pending confirmation</strong>', body)
    assert "Cloud Growth Incentive: a share of eligible reseller expenditure." in page
    assert "2026-01 (Monthly)" in page
    assert re.findall(r'data-testid="rate">([^<]*)<', body)[:2] == ["3 %", "5 %"]
    lines = re.findall(
        r'<tr data-order="([^"]*)">\s*<td><span class="truncate" title="[^"]*">([^<]*)</span></td>.*?'
        r'data-testid="base" data-exact="([^"]*)".*?data-testid="rate">([^<]*)<.*?'
        r'data-testid="line-amount" data-exact="([^"]*)"',
        body,
        re.S,
    )
    assert [(o, c, D(b), r, D(a)) for o, c, b, r, a in lines] == [
        ("CS2601000001", "a1 · 张*明", D("800.125"), "3 %", D("24.00")),
        ("CS2601000002", "a3 · A****d", D("99.995"), "3 %", D("3.00")),
    ]
    assert D(re.search(r'data-testid="total" data-exact="([^"]*)"', body).group(1)) == D("27.00")
    assert ">27.00 USD<" in body
    assert "张小明" not in body
    assert "Confirm Bill" in page
    history = as_user(org, "sp-a-finance").get(BASE + "INC-202512-000001/")
    assert "Issued" in text(history) and "System" in text(history)


def test_pages_in_chinese(org, made):
    c = as_user(org, "sp-a-finance", "zh-hans")
    page = text(c.get(BASE))
    assert "激励管理" in page and "确认账单" in page and "待确认" in page
    dialog = text(c.get(BASE + "INC-202601-000001/confirm/"))
    assert "对账周期" in dialog and "确定" in dialog and "代售" in dialog
    with clock.frozen_at(dt.datetime(2026, 2, 10, tzinfo=dt.UTC)):
        r = c.post(BASE + "INC-202601-000001/confirm/", {"form_key": "k"})
    assert "激励对账成功" in text(c.get(r["Location"]))
    detail = text(c.get(BASE + "INC-202601-000001/"))
    assert "激励政策" in detail and "激励计算" in detail and "由合作伙伴确认" in detail


def test_the_summary_pages_by_twenty(org, made):
    for i in range(25):
        incentive(
            made.cloud,
            "sp-b",
            org,
            period=dt.date(2023 + i // 12, 1 + i % 12, 1),
            number=f"INC-{2023 + i // 12}{1 + i % 12:02d}-000001",
            lines=[("b1", f"O{i}", "Compute", "10", "0.1")],
            state=State.ISSUED,
        )
    c = as_user(org, "sp-b-finance")
    first, second = c.get(BASE), c.get(BASE, {"page": 2})
    assert (len(rows(first)), len(rows(second))) == (20, 6)
    assert "26 incentives · page 1 of 2" in text(first) and "26 incentives · page 2 of 2" in text(second)
    assert list(rows(first))[0] == "INC-202601-000003"
    assert set(rows(first)).isdisjoint(rows(second))
    assert "共 26 条激励" in text(as_user(org, "sp-b-finance", "zh-hans").get(BASE))
