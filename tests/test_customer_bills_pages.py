"""Customer Bills page (seed 004, C1–C4): Bill by Instance rows built from the line items with exact
sums, month boundaries in the billing time zone, the current month up to yesterday, filters,
paging, display fields (saved vs this session), downloads, scoping, and the API."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db.models import Sum
from django.test import Client

from partnercenter.core import clock, menus
from partnercenter.core.money import ExactSum
from partnercenter.customer_bills import table_settings
from partnercenter.customer_bills.models import TableSetting
from partnercenter.exports import registry
from partnercenter.exports.models import ExportTask
from partnercenter.partners import services as partner_services
from partnercenter.usage import resource_months
from partnercenter.usage import services as usage_services
from partnercenter.usage.models import LineItem, ResourceMonth, ResourceMonthBuild
from tests.conftest import PASSWORD

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
MARCH = dt.date(2026, 3, 1)
APRIL = dt.date(2026, 4, 1)


def on(day: int, hour: int = 10, minute: int = 0, second: int = 0, month: int = 3) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, second, tzinfo=SHANGHAI)


AFTER_MARCH = on(10, month=4)  # 2026-04-10 10:00 Shanghai: March is over, its bill not yet issued? (it is: 5th)


def rec(line_id: str, account: str, billed: str, start: dt.datetime, **extra: str) -> dict[str, str]:
    utc = start.astimezone(dt.UTC)
    r = {
        "line_id": line_id,
        "account_id": account,
        "billed_cost": billed,
        "currency": "USD",
        "charge_category": "Usage",
        "charge_period_start": utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "charge_period_end": (utc + dt.timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "service_name": "ECS",
        "service_type": "cloud",
        "region_id": "ap-shanghai",
        "resource_id": "ins-1",
        "resource_name": "web-1",
        "project": "web",
        "billing_mode": "pay_per_use",
    }
    r.update(extra)
    return r


def ingest(records: list[dict[str, str]], at: dt.datetime) -> None:
    with clock.frozen_at(at):
        report = usage_services.ingest_records(records, fmt="native", source="t")
    assert report.error_count == 0, report.errors


MARCH_RECORDS = [
    rec("M1", "a1", "100.123456789012345", on(5)),
    rec("M2", "a1", "-20.5", on(6)),  # a negative usage charge: a refund, shown positive
    rec("M3", "a1", "3.25", on(7), charge_category="Tax"),
    rec("M8", "a1", "7", on(31, 23, 59, 59)),  # the last second of March, Shanghai time
    rec("A1", "a1", "11", on(1, 0, 0, 0, month=4)),  # the first second of April: April's
    rec(
        "M4",
        "a3",
        "50",
        on(8),
        service_name="Market App",
        service_type="marketplace",
        region_id="",
        resource_id="app-1",
        resource_name="",
        project="",
    ),  # fmt: skip
    rec("M10", "a3", "-1.25", on(13), charge_category="Credit", resource_id="ins-9", project="data"),
    rec("M5", "a2", "999", on(9)),  # a2 is sp-a's referral customer: never on a customer bill
    rec("M6", "b1", "30", on(11)),  # sp-b's customer
    rec("M9", "r1", "5", on(12)),  # the referral partner's customer
    rec("D1", "d1", "40", on(14), region_id="ap-guangzhou"),  # the distributor's direct customer
    rec("S1", "s1", "60.000000000000001", on(15)),  # sub1's customer (second level)
]


@pytest.fixture
def march(org):
    ingest(MARCH_RECORDS, on(2, month=4))
    resource_months.clear_cache()
    yield org
    resource_months.clear_cache()


def sign_in(c: Client, username: str) -> None:
    """Through the sign-in form, as a person does (Django rotates the session at sign-in)."""
    r = c.post("/accounts/login/", {"username": username, "password": PASSWORD})
    assert r.status_code == 302, r.content[:300]


def sign_out(c: Client) -> None:
    assert c.post("/accounts/logout/").status_code == 302


def client_for(username: str) -> Client:
    c = Client()
    sign_in(c, username)
    return c


def page(client: Client, at: dt.datetime = AFTER_MARCH, **params: str) -> str:
    with clock.frozen_at(at):
        r = client.get("/customer-bills/", params)
    assert r.status_code == 200, r.content[:500]
    return r.content.decode()


def exacts(html: str) -> list[str]:
    return re.findall(r'data-exact="([^"]*)"', html)


# ---- the stored rows ----------------------------------------------------------------------------


def test_resource_month_rows_are_the_line_items_summed_exactly(march):
    build = usage_services.build_resource_months(MARCH, at=AFTER_MARCH)
    assert build.through_day == dt.date(2026, 3, 31)
    a1 = ResourceMonth.objects.get(month=MARCH, customer__account_id="a1")
    assert (a1.expenditure, a1.refund, a1.adjustment, a1.tax) == (
        Decimal("107.123456789012345"),
        Decimal("20.5"),
        Decimal("0"),
        Decimal("3.25"),
    )
    assert a1.amount == Decimal("89.873456789012345")
    assert (a1.line_item_count, a1.first_day, a1.last_day) == (4, dt.date(2026, 3, 5), dt.date(2026, 3, 31))
    assert (a1.service_name, a1.x_project, a1.region_id, a1.resource_id, a1.resource_name) == (
        "ECS", "web", "ap-shanghai", "ins-1", "web-1")  # fmt: skip
    # Only reseller line items: not the referral customer a2, not the referral partner's r1.
    assert set(ResourceMonth.objects.values_list("customer__account_id", flat=True)) == {"a1", "a3", "b1", "d1", "s1"}
    assert build.rows == ResourceMonth.objects.filter(month=MARCH).count() == 6


def test_resource_month_sums_equal_the_line_items(march):
    usage_services.build_resource_months(MARCH, at=AFTER_MARCH)
    items = LineItem.objects.filter(
        association_type="reseller", charge_day__gte=MARCH, charge_day__lt=APRIL, is_correction=False
    )
    want = {
        r["customer_id"]: (r["s"], r["n"])
        for r in items.values("customer_id").annotate(s=ExactSum("billed_cost"), n=Sum(1))
    }  # noqa: E501
    got = {
        r["customer_id"]: (r["s"], r["n"])
        for r in ResourceMonth.objects.filter(month=MARCH)
        .values("customer_id")
        .annotate(s=ExactSum("amount"), n=Sum("line_item_count"))
    }
    assert got == want
    assert got[march.customers["s1"].pk] == (Decimal("60.000000000000001"), 1)


def test_month_boundaries_are_taken_in_the_billing_time_zone(march):
    usage_services.build_resource_months(APRIL, at=on(3, month=4))
    april = ResourceMonth.objects.get(month=APRIL)
    assert (april.customer.account_id, april.amount, april.first_day) == ("a1", Decimal("11"), APRIL)


def test_the_current_month_runs_up_to_yesterday_and_is_rebuilt_when_the_day_moves(march):
    ingest(
        [rec("A9", "a1", "2.5", on(9, 23, 59, 59, month=4)), rec("A10", "a1", "4", on(10, 0, 0, 0, month=4))],
        on(10, 1, month=4),
    )  # noqa: E501
    build = resource_months.ensure_current(APRIL, on(10, 12, month=4))
    assert build.through_day == dt.date(2026, 4, 9)
    assert ResourceMonth.objects.get(month=APRIL).amount == Decimal("13.5")  # A1 + A9, not today's A10
    same = resource_months.ensure_current(APRIL, on(10, 23, 59, month=4))
    assert same.built_at == build.built_at  # nothing moved: not rebuilt
    later = resource_months.ensure_current(APRIL, on(11, 0, 0, 1, month=4))
    assert later.through_day == dt.date(2026, 4, 10)
    assert ResourceMonth.objects.get(month=APRIL).amount == Decimal("17.5")


def test_a_new_batch_makes_the_build_stale_and_the_tick_rebuilds_it(march):
    build = resource_months.ensure_current(MARCH, AFTER_MARCH)
    ingest([rec("M11", "a1", "0.000000000000001", on(20))], AFTER_MARCH)
    assert not resource_months.is_current(build, MARCH, AFTER_MARCH)
    with clock.frozen_at(AFTER_MARCH):
        call_command("tick", stdout=open("/dev/null", "w"))  # noqa: SIM115
    fresh = ResourceMonthBuild.objects.get(month=MARCH)
    assert resource_months.is_current(fresh, MARCH, AFTER_MARCH)
    assert ResourceMonth.objects.get(month=MARCH, customer__account_id="a1").amount == Decimal("89.873456789012346")


# ---- the page -----------------------------------------------------------------------------------


def test_bill_by_instance_shows_exact_amounts_and_totals(march):
    html = page(client_for("sp-a-admin"), month="2026-03")
    assert "89.873456789012345" in exacts(html)
    assert 'data-exact="89.873456789012345" title="89.873456789012345">89.87<' in html
    # Totals: E 157.123456789012345, R 20.5, A -1.25, T 3.25, amount 138.623456789012345
    totals = html[html.index("<tfoot>") : html.index("</tfoot>")]
    assert exacts(totals) == ["157.123456789012345", "20.5", "-1.25", "3.25", "138.623456789012345"]
    assert "a2" not in re.findall(r">(\w\d)<", html)  # the referral customer never appears
    assert ">b1<" not in html and ">d1<" not in html


def test_c1_says_current_data_up_to_yesterday_then_complete_after_the_5th(march):
    client = client_for("sp-a-admin")
    html = page(client, on(4, 23, 59, 59, month=4), month="2026-03")
    assert 'data-complete="false"' in html and "2026-04-05" in html
    html = page(client, on(5, 0, 0, 0, month=4), month="2026-04")
    assert "Current data up to 2026-04-04" in html
    html = page(client, on(5, 0, 0, 0, month=4), month="2026-03")
    assert 'data-complete="true"' in html


def test_months_with_data_newest_first(march):
    html = page(client_for("sp-a-admin"), on(10, month=4))
    assert re.findall(r'<option value="(2026-\d\d)"', html) == ["2026-04", "2026-03"]
    # On April 1st the current month has nothing up to yesterday: March is the newest month.
    html = page(client_for("sp-a-admin"), on(1, 12, month=4))
    assert re.findall(r'<option value="(2026-\d\d)"', html) == ["2026-03"]


def test_filters_product_project_region(march):
    client = client_for("sp-a-admin")
    html = page(client, month="2026-03", product="Market App")
    assert ">a3<" in html and ">a1<" not in html
    html = page(client, month="2026-03", project="data")
    assert exacts(html[html.index("<tfoot>") :])[-1] == "-1.25"
    html = page(client, month="2026-03", region="ap-shanghai")
    assert ">a1<" in html and ">app-1<" not in html
    assert '<option value="Market App">' in html and '<option value="web" ' not in html  # facets of the month


def test_customer_choice_and_other_partners_customers(march):
    client = client_for("sp-a-admin")
    html = page(client, month="2026-03", customer="a3")
    assert ">a3<" in html and ">a1<" not in html
    assert 'data-testid="download-customer"' in html
    with clock.frozen_at(AFTER_MARCH):
        r = client.get("/customer-bills/", {"month": "2026-03", "customer": "b1"})
    assert r.status_code == 400
    assert "no customer with account ID b1" in r.content.decode()


def test_paging_instances(org):
    ingest([rec(f"P{i}", "a1", f"{i}.01", on(5), resource_id=f"ins-{i:03d}") for i in range(55)], on(2, month=4))
    client = client_for("sp-a-admin")
    html = page(client, month="2026-03")
    assert "55 instances" in html and "Page 1 of 2" in html
    assert html.count('<tr><td><span class="cell"') == 50
    html2 = page(client, month="2026-03", page="2")
    assert html2.count('<tr><td><span class="cell"') == 5
    # The totals are over the whole filter on every page: Σ i + 55 × 0.01
    assert exacts(html2[html2.index("<tfoot>") :])[-1] == "1485.55"


def test_bill_details_tab_and_keyset_paging(march):
    client = client_for("sp-a-admin")
    html = page(client, month="2026-03", tab="details")
    assert 'id="details-table"' in html
    assert exacts(html[: html.index("<tfoot>")]) == ["100.123456789012345", "-20.5", "3.25", "7", "50", "-1.25"]
    assert "2026-03-31 23:59:59" in html
    build = resource_months.ensure_current(MARCH, AFTER_MARCH)
    scope = resource_months.Scope.of([march.partners["sp-a"].pk])
    first = resource_months.details_page(build, scope, limit=4)
    second = resource_months.details_page(build, scope, after=first.next_after or 0, limit=4)
    assert [r.x_line_id for r in first.rows + second.rows] == ["M1", "M2", "M3", "M8", "M4", "M10"]
    assert second.next_after is None


def test_htmx_switch_returns_the_pane_only(march):
    client = client_for("sp-a-admin")
    with clock.frozen_at(AFTER_MARCH):
        r = client.get("/customer-bills/", {"month": "2026-03", "tab": "details"}, headers={"HX-Request": "true"})
    body = r.content.decode()
    assert r.status_code == 200 and "<html" not in body and 'data-testid="bills-pane"' in body
    assert "HX-Request" in r["Vary"]


# ---- scoping ------------------------------------------------------------------------------------


def customers_on_page(username: str) -> set[str]:
    with clock.frozen_at(AFTER_MARCH):
        r = client_for(username).get("/api/v1/customer-bills/instances", {"month": "2026-03"})
    assert r.status_code == 200, r.content
    return {i["account_id"] for i in r.json()["items"]}


def test_isolation_per_perspective(march):
    assert customers_on_page("sp-a-admin") == {"a1", "a3"}
    assert customers_on_page("sp-b-admin") == {"b1"}
    assert customers_on_page("dist-admin") == {"d1", "s1"}  # the distributor sees the second level too
    assert customers_on_page("sub1-admin") == {"s1"}
    assert customers_on_page("sub2-admin") == set()
    assert customers_on_page("ref-admin") == set()  # referral customers never
    assert customers_on_page("op") == {"a1", "a3", "b1", "d1", "s1"}


def test_confirm_bill_and_return_credit_is_linked_for_those_who_may_confirm(march):
    """Seed 004: "Click the Confirm Bill and Return Credit Amount button to enter the bill
    confirmation page" — with the month and customer on screen; platform operators view only."""
    html = page(client_for("sp-a-admin"), month="2026-03", customer="a1")
    link = re.search(r'<a class="button" href="([^"]+)" data-testid="confirm-bills">([^<]+)</a>', html)
    assert link is not None
    assert (link[1], link[2]) == (
        "/customer-bills/confirm/?month=2026-03&amp;customer=a1",
        "Confirm Bill and Return Credit",
    )
    html = page(client_for("dist-admin"), month="2026-03")
    assert 'href="/customer-bills/confirm/?month=2026-03" data-testid="confirm-bills"' in html
    html = page(client_for("op"), month="2026-03")
    assert 'data-testid="bill-table"' in html and 'data-testid="confirm-bills"' not in html


def test_account_manager_sees_only_assigned_customers(march):
    admin, mgr = march.users["sp-a-admin"], march.users["sp-a-account_manager"]
    with clock.frozen_at(on(1, month=4)):
        partner_services.assign_customers(actor=admin, customers=[march.customers["a3"]], manager=mgr)
    from partnercenter.accounts import services as account_services

    account_services.set_menus(actor=admin, user=mgr, menu_codes=[*sorted(mgr.menu_codes()), menus.CUSTOMER_BILLS])
    assert customers_on_page("sp-a-account_manager") == {"a3"}
    with clock.frozen_at(AFTER_MARCH):
        r = client_for("sp-a-account_manager").get(
            "/api/v1/customer-bills/instances", {"month": "2026-03", "customer": "a1"}
        )  # noqa: E501
    assert r.status_code == 404


def test_without_the_menu_the_page_is_forbidden(march):
    with clock.frozen_at(AFTER_MARCH):
        assert client_for("sp-a-operator").get("/customer-bills/").status_code == 403
        assert client_for("sp-a-operator").get("/api/v1/customer-bills/instances").status_code == 403


# ---- display fields (C3) ------------------------------------------------------------------------


def headers_of(html: str) -> list[str]:
    return re.findall(r'<th scope="col" data-col="([a-z_]+)"', html)


def test_fields_for_the_session_only_are_gone_after_signing_in_again(march):
    client = client_for("sp-a-finance")
    with clock.frozen_at(AFTER_MARCH):
        r = client.post(
            "/customer-bills/fields/bill_by_instance/", {"fields": ["amount", "account_id"], "month": "2026-03"}
        )
    assert r.status_code == 302
    assert headers_of(page(client, month="2026-03")) == ["amount", "account_id"]
    assert not TableSetting.objects.exists()
    sign_out(client)
    sign_in(client, "sp-a-finance")
    assert headers_of(page(client, month="2026-03")) == list(table_settings.DEFAULTS["bill_by_instance"])


def test_saved_fields_are_kept_across_sessions(march):
    client = client_for("sp-a-finance")
    with clock.frozen_at(AFTER_MARCH):
        r = client.post(
            "/customer-bills/fields/bill_by_instance/",
            {"fields": ["resource_id", "project", "amount"], "save": "1", "month": "2026-03"},
            headers={"HX-Request": "true"},
        )
    assert r.status_code == 200 and headers_of(r.content.decode()) == ["resource_id", "project", "amount"]
    sign_out(client)
    sign_in(client, "sp-a-finance")
    html = page(client, month="2026-03")
    assert headers_of(html) == ["resource_id", "project", "amount"]
    assert 'data-testid="save-selected" checked' in html
    # The details table has its own fields.
    assert headers_of(page(client, month="2026-03", tab="details")) == list(table_settings.DEFAULTS["bill_details"])


def test_unknown_fields_are_refused(march):
    client = client_for("sp-a-finance")
    with clock.frozen_at(AFTER_MARCH):
        r = client.post(
            "/customer-bills/fields/bill_by_instance/", {"fields": ["amount", "password"], "month": "2026-03"}
        )
        assert r.status_code == 422 and "Unknown or repeated fields" in r.content.decode()
        assert client.post("/customer-bills/fields/nope/", {"fields": ["amount"]}).status_code == 404
    assert not TableSetting.objects.exists()


# ---- downloads (C4) -----------------------------------------------------------------------------


@pytest.fixture
def stub_download_kinds():
    """The download kinds, as their registration declares them, when this branch has none."""
    added = []
    for code, params in (
        ("customer_bill", [registry.Param("customer", "Customer"), registry.Param("month", "Month", "month")]),
        ("customer_bills_all", [registry.Param("month", "Month", "month")]),
    ):
        if registry.find(code) is None:
            registry.register(
                registry.ExportKind(
                    code=code,
                    label=code,
                    menu=menus.CUSTOMER_BILLS,
                    columns=[registry.Column("x", "x")],
                    rows=lambda ctx: iter([("x",)]),
                    filename_stem=code.replace("_", "-"),
                    params=params,
                )
            )
            added.append(code)
    yield
    for code in added:
        registry.unregister(code)


def form_fields(html: str, testid: str) -> dict[str, str]:
    form = html[html.index(f'data-testid="{testid}"') :]
    form = form[: form.index("</form>")]
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form))


def test_download_buttons_create_export_tasks(march, stub_download_kinds, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    client = client_for("sp-a-finance")
    html = page(client, month="2026-03", customer="a3", product="Market App")
    one = form_fields(html, "download-customer")
    assert {k: one[k] for k in ("kind", "customer", "month")} == {
        "kind": "customer_bill",
        "customer": "a3",
        "month": "2026-03",
    }
    everyone = form_fields(html, "download-all")
    assert {k: everyone[k] for k in ("kind", "month")} == {"kind": "customer_bills_all", "month": "2026-03"}
    with clock.frozen_at(AFTER_MARCH):
        for fields in (one, everyone):
            fields.pop("csrfmiddlewaretoken", None)
            assert client.post("/exports/create/", fields).status_code == 302
    tasks = {t.kind: t.params for t in ExportTask.objects.all()}
    assert tasks == {
        "customer_bill": {"customer": "a3", "month": "2026-03"},
        "customer_bills_all": {"month": "2026-03"},
    }


# ---- API ----------------------------------------------------------------------------------------


def test_api_instances_and_details_with_exact_strings(march):
    client = client_for("sp-a-finance")
    with clock.frozen_at(AFTER_MARCH):
        r = client.get("/api/v1/customer-bills/instances", {"month": "2026-03", "limit": 1})
        body = r.json()
        assert r.status_code == 200 and body["count"] == 3 and len(body["items"]) == 1
        assert body["items"][0]["amount"] == "89.873456789012345" and body["items"][0]["refund"] == "20.5"
        assert body["totals"][0]["amount"] == "138.623456789012345"
        assert body["through_day"] == "2026-03-31" and body["complete"] is True
        r = client.get("/api/v1/customer-bills/details", {"month": "2026-03", "limit": 5, "customer": "a1"})
        assert [i["billed_cost"] for i in r.json()["items"]] == ["100.123456789012345", "-20.5", "3.25", "7"]
        assert r.json()["next_after"] is None
        months = client.get("/api/v1/customer-bills/months").json()
        assert [m["month"] for m in months] == ["2026-04", "2026-03"]
        assert client.get("/api/v1/customer-bills/instances", {"month": "2026-13"}).status_code == 422
        assert client.get("/api/v1/customer-bills/instances", {"month": "0000-01"}).status_code == 422
        assert client.get("/customer-bills/", {"month": "0000-01"}).status_code == 400


def test_api_table_settings(march):
    client = client_for("sp-a-finance")
    r = client.get("/api/v1/customer-bills/table-settings/bill_details")
    assert r.status_code == 200 and r.json()["source"] == "default"
    r = client.put(
        "/api/v1/customer-bills/table-settings/bill_details",
        {"fields": ["billed_cost", "line_id"]},
        content_type="application/json",
    )  # noqa: E501
    assert r.status_code == 200 and r.json()["fields"] == ["billed_cost", "line_id"] and r.json()["source"] == "saved"
    r = client.put(
        "/api/v1/customer-bills/table-settings/bill_details",
        {"fields": ["billed_cost", "billed_cost"]},
        content_type="application/json",
    )  # noqa: E501
    assert r.status_code == 422 and r.json()["code"] == "invalid_fields"
    assert client.get("/api/v1/customer-bills/table-settings/other").status_code == 404
    assert TableSetting.objects.get().fields == ["billed_cost", "line_id"]
