"""Customer bill downloads (C4): one customer's bill, all customers' bills, and a customer's month
as FOCUS 1.2. Every field and every line item of the month whatever the screen shows, the
customer anonymized, formulas neutralised, the user's scope only, reseller charges only."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest

from partnercenter.accounts import services as account_services
from partnercenter.core import clock, menus
from partnercenter.core.errors import ValidationFailed
from partnercenter.core.masking import anonymize
from partnercenter.exports import registry, services
from partnercenter.exports.models import ExportStatus, ExportTask
from partnercenter.partners import services as partner_services
from partnercenter.usage import selectors as usage_selectors
from partnercenter.usage import services as usage_services
from partnercenter.usage.models import LineItem
from tests.conftest import Org
from tests.test_export_writers import read_xlsx

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
NOW = dt.datetime(2026, 4, 10, 10, 0, tzinfo=SHANGHAI)  # March is over (and due)
MONTH = "2026-03"


def on(day: int, hour: int = 10, minute: int = 0, second: int = 0, month: int = 3) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, second, tzinfo=SHANGHAI)


def rec(line_id: str, account: str, billed: str, start: dt.datetime, **extra: str) -> dict[str, str]:
    utc = start.astimezone(dt.UTC)
    r = {
        "line_id": line_id,
        "account_id": account,
        "billed_cost": billed,
        "currency": "USD",
        "charge_category": "Usage",
        "charge_period_start": utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "charge_period_end": (utc + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "service_name": "ECS",
        "service_type": "cloud",
        "region_id": "ap-shanghai",
        "billing_mode": "pay_per_use",
    }
    r.update(extra)
    return r


FULL = rec(
    "L1",
    "a1",
    "13028.441023123878751",
    on(5),
    list_cost="14000.5",
    effective_cost="12000.000000000000001",
    pricing_quantity="2.5",
    pricing_unit="Hours",
    description='=HYPERLINK("http://evil")',
    resource_id="ins-001",
    resource_name="+cmd|' /C calc'!A0",
    region_name="华东地区（上海）",
    service_category="Compute",
    project="alpha",
    order_id="ORD-1",
    provider_name="Tencent Cloud",
    publisher_name="Tencent Cloud",
    sku_id="SKU-9",
    charge_class="",
    charge_frequency="Usage-Based",
    pricing_category="Standard",
)
RECORDS = [
    FULL,
    rec("L2", "a1", "-28.000000000000001", on(6)),  # a refund
    rec("L3", "a1", "7", on(31, 23, 59, 59)),  # the last second of March in Shanghai
    rec("L4", "a1", "11", on(1, 0, 0, 0, month=4)),  # the first second of April: not March's
    rec("L5", "a1", "3", on(1, 0, 0, 0)),  # the first second of March
    rec("L6", "a1", "5", on(28, 23, 59, 59, month=2)),  # the last second of February
    rec("L7", "a1", "1.5", on(6), charge_category="Tax"),  # same start as L2: ordered by id
    rec("R1", "a2", "999", on(9)),  # sp-a's referral customer: never in a customer bill
    rec("A1", "a3", "50", on(8), service_name="Market App", service_type="marketplace", region_id=""),
    rec("B1", "b1", "30", on(11)),  # sp-b's customer
    rec("D1", "d1", "20", on(12)),  # the distributor's own customer
    rec("S1", "s1", "21", on(13)),  # sub1's customer (second-level reseller of dist)
    rec("S2", "s2", "22", on(14)),  # sub2's customer
    rec("F1", "r1", "5", on(12)),  # a referral partner's customer
]


@pytest.fixture(autouse=True)
def _exports(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}


@pytest.fixture
def march(org: Org) -> Org:
    with clock.frozen_at(on(1, month=4)):
        report = usage_services.ingest_records(RECORDS, fmt="native", source="t")
    assert report.error_count == 0, report.errors
    return org


def export(org: Org, username: str, kind: str, params, fmt: str = "csv", at: dt.datetime = NOW) -> ExportTask:
    with clock.frozen_at(at):
        task, _created = services.create_export(org.users[username], kind, params, fmt)
        services.run_export(str(task.pk))
    task.refresh_from_db()
    assert task.status == ExportStatus.SUCCEEDED, task.error
    return task


def rows_of(task: ExportTask) -> list[list[str]]:
    return list(csv.reader(io.StringIO(task.path.read_bytes().decode("utf-8-sig"))))


def line_ids_in(task: ExportTask) -> list[str]:
    header, *rows = rows_of(task)
    return [r[header.index("Line ID")] for r in rows]


def item(line_id: str) -> LineItem:
    return LineItem.objects.get(x_line_id=line_id)


def refused(org: Org, username: str, kind: str, params) -> ValidationFailed:
    with clock.frozen_at(NOW), pytest.raises(ValidationFailed) as caught:
        services.create_export(org.users[username], kind, params, "csv")
    return caught.value


HEADER = [
    "Line item ID", "Line ID", "Charge period start", "Charge period end", "Partner", "Account ID", "Customer",
    "Service type", "Product", "Product category", "Project", "Region", "Region name", "Resource ID",
    "Resource name", "Billing mode", "Order ID", "Classification", "Charge category", "Description", "Quantity",
    "Unit", "List cost", "Effective cost", "Billed cost", "Currency", "Correction",
]  # fmt: skip


# ---- one customer's bill ----------------------------------------------------------------------


def test_one_customers_bill_has_every_field_of_every_line_item_exactly(march):
    task = export(march, "sp-a-admin", "customer_bill", {"customer": "a1", "month": MONTH})
    header, *rows = rows_of(task)
    assert header == HEADER
    # Charge order, then id: L5 (1 March 00:00:00), L1, L2 and L7 (same start), L3 (31 March 23:59:59).
    assert [r[1] for r in rows] == ["L5", "L1", "L2", "L7", "L3"]
    assert rows[1] == [
        str(item("L1").pk), "L1", "2026-03-05 10:00:00+08:00", "2026-03-05 11:00:00+08:00", "sp-a", "a1",
        anonymize("张小明", kind="customer"), "Cloud service", "ECS", "Compute", "alpha", "ap-shanghai",
        "华东地区（上海）", "ins-001", "'+cmd|' /C calc'!A0", "Pay-per-use", "ORD-1", "Expenditure", "Usage",
        "'=HYPERLINK(\"http://evil\")", "2.5", "Hours", "14000.5", "12000.000000000000001",
        "13028.441023123878751", "USD", "",
    ]  # fmt: skip
    assert rows[2][17:19] == ["Refund", "Usage"] and rows[2][24] == "-28.000000000000001"
    assert rows[3][17:19] == ["Tax", "Tax"] and rows[3][20:24] == ["", "", "", ""]
    assert rows[4][2] == "2026-03-31 23:59:59+08:00" and rows[0][2] == "2026-03-01 00:00:00+08:00"
    assert task.row_count == 5
    # Every amount as stored, to the last digit: the file adds up to the ledger.
    stored = [item(r[1]).billed_cost for r in rows]
    assert [Decimal(r[24]) for r in rows] == stored
    assert sum(stored) == Decimal("13028.441023123878751") - Decimal("28.000000000000001") + 3 + 7 + Decimal("1.5")


def test_the_real_customer_name_is_never_in_the_file(march):
    for kind, params in (
        ("customer_bill", {"customer": "a1", "month": MONTH}),
        ("customer_bills_all", {"month": MONTH}),
    ):
        for fmt in ("csv", "xlsx"):
            task = export(march, "sp-a-admin", kind, params, fmt)
            data = task.path.read_bytes()
            assert "张小明".encode() not in data and b"Acme Ltd" not in data
            if fmt == "csv":
                assert anonymize("张小明", kind="customer") in data.decode("utf-8-sig")


def test_the_bill_as_xlsx_has_numbers_and_neutralised_text(march):
    task = export(march, "sp-a-admin", "customer_bill", {"customer": "a1", "month": MONTH}, "xlsx")
    header, *rows = read_xlsx(task.path.read_bytes())
    assert [text for _t, text in header] == HEADER
    l1 = rows[1]
    assert l1[0] == ("n", str(item("L1").pk))
    assert l1[24] == ("s", "13028.441023123878751")  # 20 significant digits: exact text, not a double
    assert l1[22] == ("n", "14000.5") and l1[20] == ("n", "2.5")
    assert l1[19] == ("s", '\'=HYPERLINK("http://evil")') and l1[14] == ("s", "'+cmd|' /C calc'!A0")
    assert rows[2][24] == ("s", "-28.000000000000001") and rows[0][24] == ("n", "3")
    assert l1[6] == ("s", anonymize("张小明", kind="customer"))


def test_screen_filters_and_display_fields_do_not_change_the_download(march):
    plain = export(march, "sp-a-admin", "customer_bill", {"customer": "a1", "month": MONTH})
    filtered_params = {
        "customer": "a1",
        "month": MONTH,
        "product": "Nothing",
        "project": "beta",
        "region": "eu-west-1",
        "fields": ["product"],
        "view": "instance",
    }
    with clock.frozen_at(NOW + dt.timedelta(minutes=1)):
        task, _ = services.create_export(march.users["sp-a-admin"], "customer_bill", filtered_params, "csv")
        services.run_export(str(task.pk))
    task.refresh_from_db()
    assert task.params == {"customer": "a1", "month": MONTH}  # what the download was asked for
    assert rows_of(task) == rows_of(plain)


def test_a_customer_not_in_scope_is_refused(march):
    for username, account in (("sp-a-admin", "b1"), ("sp-a-admin", "zz-none"), ("sub1-admin", "s2")):
        err = refused(march, username, "customer_bill", {"customer": account, "month": MONTH})
        assert err.code == "invalid_params"
        assert [(d["where"], d["why"]) for d in err.details] == [
            ("params.customer", "is not a customer whose bill you may download")
        ]
    assert not ExportTask.objects.exists()


@pytest.mark.parametrize(
    ("params", "where", "why"),
    [
        ({"customer": "a1"}, "params.month", "is required"),
        ({"customer": "a1", "month": "2026-13"}, "params.month", "must be a month (YYYY-MM)"),
        ({"month": MONTH}, "params.customer", "is required"),
    ],
)
def test_bad_options_are_refused(march, params, where, why):
    err = refused(march, "sp-a-admin", "customer_bill", params)
    assert err.code == "invalid_params" and [(d["where"], d["why"]) for d in err.details] == [(where, why)]


def test_a_referral_customer_has_nothing_to_download(march):
    err = refused(march, "sp-a-admin", "customer_bill", {"customer": "a2", "month": MONTH})
    assert err.code == "nothing_to_export"


def test_the_downloads_need_the_customer_bills_menu(march):
    from partnercenter.core.errors import Forbidden

    with clock.frozen_at(NOW), pytest.raises(Forbidden):
        services.create_export(march.users["sp-a-operator"], "customer_bills_all", {"month": MONTH}, "csv")
    assert {k.code for k in registry.all_kinds() if k.menu == menus.CUSTOMER_BILLS} >= {
        "customer_bill",
        "customer_bills_all",
        "customer_bill_focus",
    }


# ---- all customers' bills and scope -----------------------------------------------------------


def test_all_customer_bills_of_a_partner_are_its_reseller_customers_only(march):
    task = export(march, "sp-a-admin", "customer_bills_all", {"month": MONTH})
    header, *rows = rows_of(task)
    assert header == HEADER
    # Charge order across customers; a2 (referral) and every other partner's customers never.
    assert [r[1] for r in rows] == ["L5", "L1", "L2", "L7", "A1", "L3"]
    assert {r[5] for r in rows} == {"a1", "a3"}
    a1 = rows[4]
    assert a1[4:10] == ["sp-a", "a3", anonymize("Acme Ltd", kind="customer"), "Marketplace", "Market App", ""]


def test_a_distributor_downloads_its_second_level_resellers_customers_too(march):
    task = export(march, "dist-admin", "customer_bills_all", {"month": MONTH})
    assert line_ids_in(task) == ["D1", "S1", "S2"]
    header, *rows = rows_of(task)
    assert [r[4] for r in rows] == ["dist", "sub1", "sub2"]
    one = export(march, "dist-admin", "customer_bill", {"customer": "s2", "month": MONTH})
    assert line_ids_in(one) == ["S2"]
    # A second-level reseller sees its own customers only.
    assert line_ids_in(export(march, "sub1-admin", "customer_bills_all", {"month": MONTH})) == ["S1"]


def test_an_account_manager_downloads_only_assigned_customers(march):
    admin, manager = march.users["sp-a-admin"], march.users["sp-a-account_manager"]
    account_services.set_menus(actor=admin, user=manager, menu_codes=[menus.CUSTOMER_BILLS, menus.EXPORTS])
    with clock.frozen_at(on(2, month=4)):
        partner_services.assign_customers(actor=admin, customers=[march.customers["a3"]], manager=manager)
    manager.refresh_from_db()
    assert line_ids_in(export(march, "sp-a-account_manager", "customer_bills_all", {"month": MONTH})) == ["A1"]
    err = refused(march, "sp-a-account_manager", "customer_bill", {"customer": "a1", "month": MONTH})
    assert err.code == "invalid_params"


def test_a_platform_operator_downloads_every_partners_reseller_charges(march):
    task = export(march, "op", "customer_bills_all", {"month": MONTH})
    assert sorted(line_ids_in(task)) == sorted(["L5", "L1", "L2", "L7", "A1", "L3", "B1", "D1", "S1", "S2"])


def test_month_boundaries_are_taken_in_the_billing_time_zone(march):
    feb = export(march, "sp-a-admin", "customer_bill", {"customer": "a1", "month": "2026-02"})
    assert line_ids_in(feb) == ["L6"]
    april = export(march, "sp-a-admin", "customer_bill", {"customer": "a1", "month": "2026-04"})
    assert line_ids_in(april) == ["L4"]


def test_the_current_month_holds_the_charges_up_to_yesterday(march):
    # On 31 March at noon, the 31st is not in the download yet (C1).
    task = export(march, "sp-a-admin", "customer_bill", {"customer": "a1", "month": MONTH}, at=on(31, 12))
    assert line_ids_in(task) == ["L5", "L1", "L2", "L7"]
    # On 1 March nothing of March is downloadable yet.
    err = refused_at(march, on(1, 12), {"customer": "a1", "month": MONTH})
    assert err.code == "nothing_to_export"


def refused_at(org: Org, at: dt.datetime, params) -> ValidationFailed:
    with clock.frozen_at(at), pytest.raises(ValidationFailed) as caught:
        services.create_export(org.users["sp-a-admin"], "customer_bill", params, "csv")
    return caught.value


def test_the_selector_streams_in_charge_order_and_stops_at_yesterday(march):
    partner = march.partners["sp-a"].pk
    with clock.frozen_at(on(31, 12)):
        rows = list(usage_selectors.customer_bill_line_items([partner], dt.date(2026, 3, 1)))
        through = list(
            usage_selectors.customer_bill_line_items([partner], dt.date(2026, 3, 17), through_day=on(6).date())
        )
    assert [r["x_line_id"] for r in rows] == ["L5", "L1", "L2", "L7", "A1"]
    assert [r["x_line_id"] for r in through] == ["L5", "L1", "L2", "L7"]
    with clock.frozen_at(NOW):
        mine = list(usage_selectors.customer_bill_line_items(None, dt.date(2026, 3, 1), [march.customers["a3"].pk]))
    assert [r["x_line_id"] for r in mine] == ["A1"] and mine[0]["billed_cost"] == Decimal("50")


# ---- FOCUS 1.2 --------------------------------------------------------------------------------


def test_the_focus_file_names_the_partner_as_invoice_issuer(march):
    task = export(march, "sp-a-admin", "customer_bill_focus", {"customer": "a1", "month": MONTH})
    header, *rows = rows_of(task)
    got = [dict(zip(header, r, strict=True)) for r in rows]
    assert header[:3] == ["ProviderName", "PublisherName", "InvoiceIssuerName"] and header[-5:] == [
        "x_Project", "x_BillingMode", "x_ServiceType", "x_OrderId", "x_LineId",
    ]  # fmt: skip
    l1 = got[1]
    assert {k: v for k, v in l1.items() if v} == {
        "ProviderName": "Tencent Cloud", "PublisherName": "Tencent Cloud", "InvoiceIssuerName": "SP-A",
        "BillingAccountId": "sp-a", "BillingAccountName": "SP-A", "SubAccountId": "a1",
        "SubAccountName": anonymize("张小明", kind="customer"), "SubAccountType": "Customer",
        "BillingPeriodStart": "2026-02-28T16:00:00Z", "BillingPeriodEnd": "2026-03-31T16:00:00Z",
        "ChargePeriodStart": "2026-03-05T02:00:00Z", "ChargePeriodEnd": "2026-03-05T03:00:00Z",
        "ChargeCategory": "Usage", "ChargeDescription": "'=HYPERLINK(\"http://evil\")",
        "ChargeFrequency": "Usage-Based", "BilledCost": "13028.441023123878751",
        "EffectiveCost": "12000.000000000000001", "ListCost": "14000.5", "PricingCategory": "Standard",
        "PricingQuantity": "2.5", "PricingUnit": "Hours", "BillingCurrency": "USD", "ServiceName": "ECS",
        "ServiceCategory": "Compute", "SkuId": "SKU-9", "ResourceId": "ins-001",
        "ResourceName": "'+cmd|' /C calc'!A0", "RegionId": "ap-shanghai", "RegionName": "华东地区（上海）",
        "x_Project": "alpha", "x_BillingMode": "pay_per_use", "x_ServiceType": "cloud", "x_OrderId": "ORD-1",
        "x_LineId": "L1",
    }  # fmt: skip
    # Without a stored effective cost, EffectiveCost is the billed cost.
    assert got[2]["EffectiveCost"] == got[2]["BilledCost"] == "-28.000000000000001"
    assert (
        got[0]["ChargePeriodStart"] == "2026-02-28T16:00:00Z" and got[4]["ChargePeriodStart"] == "2026-03-31T15:59:59Z"
    )


def test_the_focus_file_is_valid_focus_that_round_trips_exactly(march):
    task = export(march, "sp-a-admin", "customer_bill_focus", {"customer": "a1", "month": MONTH})
    before = usage_selectors.ledger_watermark()
    originals = list(LineItem.objects.filter(x_line_id__in=["L5", "L1", "L2", "L7", "L3"]).order_by("x_line_id"))
    with clock.frozen_at(NOW):
        report = usage_services.ingest_path(task.path, fmt="focus", source="focus-roundtrip")
    assert report.error_count == 0, report.errors
    assert report.rows_new == 5
    again = {li.x_line_id: li for li in LineItem.objects.filter(pk__gt=before)}
    fields = (
        "billed_cost", "list_cost", "billing_currency", "charge_period_start", "charge_period_end",
        "charge_category", "classification", "charge_frequency", "pricing_category", "pricing_quantity",
        "pricing_unit", "provider_name", "publisher_name", "service_type", "service_name", "service_category",
        "sku_id", "region_id", "region_name", "resource_id", "x_project", "x_billing_mode", "x_order_id",
        "customer_id", "partner_id", "association_type", "charge_day", "charge_month",
    )  # fmt: skip
    for old in originals:
        new = again[old.x_line_id]
        assert {f: getattr(new, f) for f in fields} == {f: getattr(old, f) for f in fields}
        assert new.effective_cost == (old.effective_cost if old.effective_cost is not None else old.billed_cost)
    total = sum((li.billed_cost for li in again.values()), Decimal(0))
    assert total == sum((li.billed_cost for li in originals), Decimal(0))
    # Formula neutralisation is the one change a text can undergo.
    assert again["L1"].charge_description == "'" + FULL["description"]


def test_the_focus_file_is_csv_only(march):
    with clock.frozen_at(NOW), pytest.raises(ValidationFailed) as caught:
        services.create_export(
            march.users["sp-a-admin"], "customer_bill_focus", {"customer": "a1", "month": MONTH}, "xlsx"
        )
    assert caught.value.code == "invalid_format"


def test_headers_and_labels_speak_chinese(march):
    from django.utils import translation

    with translation.override("zh-hans"):
        task = export(march, "sp-a-admin", "customer_bill", {"customer": "a1", "month": MONTH})
        err = refused(march, "sp-a-admin", "customer_bill", {"customer": "b1", "month": MONTH})
    header, *rows = rows_of(task)
    assert header[:2] == ["明细 ID", "账单行 ID"]
    assert err.details[0]["why"] == "不是您可以下载其账单的客户"
    # FOCUS column names are never translated.
    with translation.override("zh-hans"):
        focus = export(march, "sp-a-admin", "customer_bill_focus", {"customer": "a1", "month": MONTH})
    assert rows_of(focus)[0][:3] == ["ProviderName", "PublisherName", "InvoiceIssuerName"]
