"""Exports of incentive details (I6, X1–X4): by period (every program), by one or more programs of
the period, selected lines. The files hold the lines' exact figures, anonymized customer names
and neutralised text; only the export owner's lines; bad options are refused before anything is
queued."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.urls import reverse

from partnercenter.core import clock
from partnercenter.core.errors import Forbidden, ValidationFailed
from partnercenter.core.masking import anonymize
from partnercenter.exports import services
from partnercenter.exports.models import ExportStatus, ExportTask
from partnercenter.incentives import feedback as fb
from partnercenter.incentives.models import Line
from partnercenter.partners.models import Customer
from tests.incentive_fixtures import FEB, Incentives, incentive, make_incentives
from tests.test_export_writers import read_xlsx

NOW = dt.datetime(2026, 2, 10, 4, 0, tzinfo=dt.UTC)
HEADER = [
    "Reconciliation period", "Incentive ID", "Incentive program", "Customer name", "Customer account", "Order ID",
    "Product type", "Currency", "Base amount", "Rate", "Amount", "Feedback",
]  # fmt: skip
A1, A3 = anonymize("张小明", kind="customer"), anonymize("Acme Ltd", kind="customer")
L1 = ["2026-01", "INC-202601-000001", "Cloud Growth Incentive", A1, "a1", "CS2601000001", "Compute", "USD",
      "800.125", "0.03", "24.00", "No feedback"]  # fmt: skip
L2 = ["2026-01", "INC-202601-000001", "Cloud Growth Incentive", A3, "a3", "CS2601000002", "Storage", "USD",
      "99.995", "0.03", "3.00", "No feedback"]  # fmt: skip
L3 = ["2026-01", "INC-202601-000002", "Marketplace Boost", A3, "a3", "CS2601000003", "Security", "USD",
      "50.05", "0.1", "5.01", "No feedback"]  # fmt: skip
L4 = ["2026-01", "INC-202601-000004", "Cloud Growth Incentive", A1, "a1", "CS2512000001", "Compute", "USD",
      "-100", "0.05", "-5.00", "No feedback"]  # fmt: skip


@pytest.fixture
def inc(org) -> Incentives:
    return make_incentives(org)


@pytest.fixture(autouse=True)
def _exports(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    with clock.frozen_at(NOW):
        yield


def export(org, kind: str, params, fmt: str = "csv", username: str = "sp-a-finance") -> ExportTask:
    task, _created = services.create_export(org.users[username], kind, params, fmt)
    services.run_export(str(task.pk))
    task.refresh_from_db()
    assert task.status == ExportStatus.SUCCEEDED, task.error
    return task


def csv_rows(task: ExportTask) -> list[list[str]]:
    return list(csv.reader(io.StringIO(task.path.read_bytes().decode("utf-8-sig"))))


def numbers(rows: list[list[str]]) -> list[list[str]]:
    """Amounts compared as numbers: the file holds the exact decimal, in its canonical text."""
    from decimal import Decimal

    return [r[:8] + [str(Decimal(v).normalize()) for v in r[8:11]] + r[11:] for r in rows]


def expected(*rows: list[str]) -> list[list[str]]:
    return numbers([list(r) for r in rows])


def test_by_period_exports_every_program_of_the_period(org, inc):
    task = export(org, "incentive_details_by_period", {"period": "2026-01"})
    header, *rows = csv_rows(task)
    assert header == HEADER
    assert numbers(rows) == expected(L1, L2, L3, L4)
    assert task.row_count == 4
    text = task.path.read_text(encoding="utf-8-sig")
    assert "张小明" not in text and "Acme Ltd" not in text and "CS2601000004" not in text  # sp-b's line


def test_by_period_xlsx_has_the_same_rows_with_amounts_as_numbers(org, inc):
    task = export(org, "incentive_details_by_period", {"period": "2026-01"}, fmt="xlsx")
    header, *rows = read_xlsx(task.path.read_bytes())
    assert [t for _k, t in header] == HEADER
    assert [[t for _k, t in r] for r in rows] == [
        L1[:8] + ["800.125", "0.03", "24", "No feedback"],
        L2[:8] + ["99.995", "0.03", "3", "No feedback"],
        L3[:8] + ["50.05", "0.1", "5.01", "No feedback"],
        L4[:8] + ["-100", "0.05", "-5", "No feedback"],
    ]
    assert [k for k, _t in rows[0]] == ["s"] * 8 + ["n", "n", "n", "s"]


def test_by_program_exports_the_selected_programs_of_the_period(org, inc):
    task = export(org, "incentive_details_by_program", {"period": "2026-01", "programs": ["marketplace-boost"]})
    assert numbers(csv_rows(task)[1:]) == expected(L3)
    task = export(org, "incentive_details_by_program", {"period": "2026-01", "programs": "cloud-growth"})
    assert numbers(csv_rows(task)[1:]) == expected(L1, L2, L4)
    both = {"period": "2026-01", "programs": ["marketplace-boost", "cloud-growth"]}
    task = export(org, "incentive_details_by_program", both)
    assert numbers(csv_rows(task)[1:]) == expected(L1, L2, L3, L4)
    assert task.params == {"period": "2026-01", "programs": ["cloud-growth", "marketplace-boost"]}


def test_selected_exports_only_those_lines_with_their_feedback_status(org, inc):
    by_order = dict(Line.objects.values_list("order_id", "pk"))
    fb.leave_feedback(actor=org.users["sp-a-finance"], line_id=by_order["CS2601000003"], text="Why?")
    task = export(org, "incentive_details_selected", {"lines": [by_order["CS2601000003"], by_order["CS2512000001"]]})
    l3 = L3[:11] + ["Awaiting answer"]
    assert numbers(csv_rows(task)[1:]) == expected(l3, L4)
    # the December line of the same order is in another period but still the user's
    task = export(
        org, "incentive_details_selected", {"lines": [str(Line.objects.get(incentive__number="INC-202512-000001").pk)]}
    )
    assert [r[:2] for r in csv_rows(task)[1:]] == [["2025-12", "INC-202512-000001"]]


def test_selected_lines_of_another_partner_are_refused(org, inc):
    mine = Line.objects.get(order_id="CS2601000001").pk
    theirs = Line.objects.get(order_id="CS2601000004").pk  # sp-b's
    with pytest.raises(ValidationFailed) as exc:
        services.create_export(
            org.users["sp-a-finance"], "incentive_details_selected", {"lines": [mine, theirs]}, "csv"
        )
    assert exc.value.code == "invalid_params"
    assert exc.value.message == f"Lines {theirs} are not incentive detail lines you may export."
    assert exc.value.details == [{"where": "params.lines", "why": "not lines you may export"}]
    assert ExportTask.objects.count() == 0


@pytest.mark.parametrize(
    ("kind", "params", "where"),
    [
        ("incentive_details_by_period", {}, "params.period"),
        ("incentive_details_by_period", {"period": "2026-13"}, "params.period"),
        ("incentive_details_by_period", {"period": "2026-01", "x": 1}, "params.x"),
        ("incentive_details_by_program", {"period": "2026-01"}, "params.programs"),
        ("incentive_details_by_program", {"period": "2026-01", "programs": []}, "params.programs"),
        ("incentive_details_by_program", {"period": "2026-01", "programs": ["nope"]}, "params.programs"),
        ("incentive_details_by_program", {"programs": ["cloud-growth"]}, "params.period"),
        ("incentive_details_by_program", {"period": "2026-01", "programs": ["cloud-growth"], "q": "x"}, "params.q"),
        ("incentive_details_selected", {}, "params.lines"),
        ("incentive_details_selected", {"lines": ["abc"]}, "params.lines"),
        ("incentive_details_selected", {"lines": [999999]}, "params.lines"),
    ],
)
def test_bad_options_are_refused_and_nothing_is_queued(org, inc, kind, params, where):
    with pytest.raises(ValidationFailed) as exc:
        services.create_export(org.users["sp-a-finance"], kind, params, "csv")
    assert exc.value.code == "invalid_params"
    assert [d["where"] for d in exc.value.details][0] == where
    assert ExportTask.objects.count() == 0


def test_a_period_without_lines_is_nothing_to_export(org, inc):
    with pytest.raises(ValidationFailed) as exc:
        services.create_export(org.users["sp-a-finance"], "incentive_details_by_period", {"period": "2025-11"}, "csv")
    assert exc.value.code == "nothing_to_export"
    with pytest.raises(ValidationFailed) as exc:  # sp-b has no marketplace incentive in January
        services.create_export(
            org.users["sp-b-finance"], "incentive_details_by_program",
            {"period": "2026-01", "programs": ["marketplace-boost"]}, "csv",
        )  # fmt: skip
    assert exc.value.code == "invalid_params"


def test_the_export_is_scoped_by_its_owner(org, inc):
    task = export(org, "incentive_details_by_period", {"period": "2026-01"}, username="sp-b-finance")
    assert [r[1:3] + r[4:6] for r in csv_rows(task)[1:]] == [
        ["INC-202601-000003", "Cloud Growth Incentive", "b1", "CS2601000004"]
    ]
    task = export(org, "incentive_details_by_period", {"period": "2026-01"}, username="op")
    assert task.row_count == 5


def test_a_user_without_the_menu_cannot_export(org, inc):
    with pytest.raises(Forbidden):
        services.create_export(org.users["sp-a-operator"], "incentive_details_by_period", {"period": "2026-01"}, "csv")
    assert ExportTask.objects.count() == 0


def test_formula_text_is_neutralised(org, inc):
    Customer.objects.filter(account_id="a1").update(name="=HYPERLINK(1)")
    # Generated lines never change (database triggers), so the hostile order id comes with a new one.
    incentive(inc.cloud, "sp-a", org, period=FEB, number="INC-202602-000001",
              lines=[("a1", "=cmd|' /C calc'!A0", "Compute", "10", "0.03")])  # fmt: skip
    task = export(org, "incentive_details_by_program", {"period": "2026-02", "programs": ["cloud-growth"]})
    rows = csv_rows(task)[1:]
    assert len(rows) == 1
    assert rows[0][5] == "'=cmd|' /C calc'!A0"
    assert rows[0][3] == anonymize("=HYPERLINK(1)", kind="customer")
    xlsx = export(org, "incentive_details_by_program", {"period": "2026-02", "programs": ["cloud-growth"]}, "xlsx")
    assert read_xlsx(xlsx.path.read_bytes())[1][5] == ("s", "'=cmd|' /C calc'!A0")


# ---- the page's export form -----------------------------------------------------------------


def test_the_details_page_creates_the_export_tasks(org, inc, client):
    client.force_login(org.users["sp-a-finance"])
    url = reverse("incentives:details_export")
    r = client.post(
        url, {"method": "period", "period": "2026-01", "format": "csv", "back": "period=2026-01"}, follow=True
    )
    assert [str(m) for m in r.context["messages"]] == ["Export task created"]
    assert r.redirect_chain[0][0] == "/incentives/details/?period=2026-01"
    client.post(url, {"method": "program", "period": "2026-01", "programs": ["cloud-growth", "marketplace-boost"],
                      "format": "xlsx"})  # fmt: skip
    ids = [
        str(pk)
        for pk in Line.objects.filter(order_id__in=["CS2601000001", "CS2601000002"]).values_list("pk", flat=True)
    ]
    client.post(url, {"action": "selected", "lines": ids, "format": "csv"})
    tasks = list(ExportTask.objects.order_by("created_at", "kind").values_list("kind", "params", "format"))
    assert sorted(tasks) == sorted([
        ("incentive_details_by_period", {"period": "2026-01"}, "csv"),
        ("incentive_details_by_program", {"period": "2026-01", "programs": ["cloud-growth", "marketplace-boost"]}, "xlsx"),
        ("incentive_details_selected", {"lines": sorted(int(i) for i in ids)}, "csv"),
    ])  # fmt: skip
    r = client.post(url, {"action": "selected", "format": "csv"}, follow=True)
    assert [str(m) for m in r.context["messages"]][-1] == "Select the detail lines to export."
    assert ExportTask.objects.count() == 3
