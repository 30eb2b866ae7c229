"""Seed 003 "Viewing and Exporting Incentive Details for Reconciliation", end to end in a real
browser: sign in as a partner user, Sales › Incentives › Incentive Management › Details, select
the reconciliation period, filter by a program and by an order ID, Feedback → text → OK, Details
of the line, export by period, by incentive plan name (two programs), Export › Export Selected,
then Export › View Export → Download each file and read its figures; finally the page at
1366×768 with its amounts and actions on the first screen.

SQLite: the live server shares the test's in-memory connection, so the test touches the database
only while the browser is idle.
"""

from __future__ import annotations

import csv
import datetime as dt
import faulthandler
import io
import os
import signal
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from partnercenter.core import clock
from partnercenter.core.masking import anonymize
from partnercenter.exports import services as export_services
from partnercenter.exports.models import ExportStatus, ExportTask
from partnercenter.incentives.models import Feedback, Line
from tests.browser.test_expenditure_procedure import exact, xlsx_rows
from tests.browser.test_navigation import sign_in
from tests.browser.test_partner_bills_procedure import download, inside_viewport
from tests.incentive_fixtures import make_incentives

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DEADLINE_SECONDS = 120
WAIT = 10_000
WIDTH, HEIGHT = 1366, 768
NOW = dt.datetime(2026, 2, 10, 4, 0, tzinfo=dt.UTC)
FEEDBACK = "The base of CS2601000001 should include the 2 January charge."
A1, A3 = anonymize("张小明", kind="customer"), anonymize("Acme Ltd", kind="customer")
# (incentive, program, customer, account, order, product, base, rate, amount) of sp-a's January.
JANUARY = [
    ("INC-202601-000001", "Cloud Growth Incentive", A1, "a1", "CS2601000001", "Compute", "800.125", "0.03", "24.00"),
    ("INC-202601-000001", "Cloud Growth Incentive", A3, "a3", "CS2601000002", "Storage", "99.995", "0.03", "3.00"),
    ("INC-202601-000002", "Marketplace Boost", A3, "a3", "CS2601000003", "Security", "50.05", "0.1", "5.01"),
    ("INC-202601-000004", "Cloud Growth Incentive", A1, "a1", "CS2512000001", "Compute", "-100", "0.05", "-5.00"),
]


@pytest.fixture(autouse=True)
def _deadline() -> Iterator[None]:
    def expire(signum, frame) -> None:  # noqa: ANN001
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        raise TimeoutError(f"the incentive details procedure took longer than {DEADLINE_SECONDS} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(DEADLINE_SECONDS)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def rows_of(page: Page) -> list[str]:
    return page.locator("#incentive-details tbody tr[data-line]").evaluate_all("rows => rows.map(r => r.dataset.order)")


def search(page: Page) -> None:
    page.get_by_test_id("search").click()
    expect(page.locator("#incentive-details")).to_be_visible(timeout=WAIT)


def figures(rows: list[list[str]]) -> list[tuple[str, ...]]:
    """A file's rows as (incentive … amount) with the numbers as exact decimals' text."""
    out = []
    for r in rows:
        base, rate, amount = (Decimal(v) for v in r[8:11])
        out.append((r[1], r[2], r[3], r[4], r[5], r[6], str(base), str(rate), f"{amount:.2f}"))
    return out


def expected(*orders: str) -> list[tuple[str, ...]]:
    return [row for row in JANUARY if row[4] in orders]


def open_details_tab(page: Page) -> None:
    nav = page.locator("nav.sidenav")
    expect(nav.locator(".nav-group-title", has_text="Sales › Incentives")).to_be_visible()
    nav.get_by_role("link", name="Incentive Management", exact=True).click()
    expect(page.locator("h1")).to_contain_text("Incentive Management")
    page.locator("nav.tabs a[data-tab=details]").click()
    expect(page.locator("h1")).to_have_text("Incentive details")


def test_seed_003_viewing_and_exporting_incentive_details(page: Page, org, live_server, settings, tmp_path) -> None:
    settings.VAR_DIR = tmp_path
    make_incentives(org)
    page.route("**/favicon.ico", lambda route: route.fulfill(status=204))
    with clock.frozen_at(NOW):
        sign_in(page, "sp-a-finance")
        open_details_tab(page)

        # -- select the period, then filter ------------------------------------------------------
        page.get_by_test_id("period").select_option("2026-01")
        search(page)
        assert rows_of(page) == ["CS2601000001", "CS2601000002", "CS2601000003", "CS2512000001"]
        page.get_by_test_id("program-filter").select_option(["marketplace-boost"])
        search(page)
        assert rows_of(page) == ["CS2601000003"]
        row = page.locator("tr[data-order=CS2601000003]")
        assert exact(row.get_by_test_id("amount")) == Decimal("5.01")
        assert exact(row.get_by_test_id("base")) == Decimal("50.05")
        expect(row.get_by_test_id("customer-name")).to_have_text("A****d")
        page.get_by_test_id("program-filter").select_option([])
        page.fill("#details-order", "CS2601000001")
        search(page)
        assert rows_of(page) == ["CS2601000001"]
        row = page.locator("tr[data-order=CS2601000001]")
        assert exact(row.get_by_test_id("amount")) == Decimal("24.00")

        # -- Feedback → text → OK ----------------------------------------------------------------
        row.get_by_test_id("feedback").click()
        dialog = page.get_by_test_id("feedback-dialog")
        expect(dialog).to_be_visible(timeout=WAIT)
        dialog.get_by_test_id("feedback-text").fill(FEEDBACK)
        dialog.get_by_test_id("feedback-ok").click()
        line_dialog = page.get_by_test_id("line-dialog")
        expect(line_dialog.get_by_test_id("dialog-notice")).to_have_text("Your feedback was submitted.")
        expect(line_dialog.get_by_test_id("thread-text")).to_have_text(FEEDBACK)
        expect(row.get_by_test_id("feedback-status")).to_have_attribute("data-status", "open")
        line_dialog.locator("[data-close-dialog]").click()
        expect(line_dialog).to_have_count(0)

        # -- Details -----------------------------------------------------------------------------
        row.get_by_test_id("details").click()
        expect(line_dialog).to_be_visible(timeout=WAIT)
        expect(line_dialog.get_by_test_id("line-order")).to_have_text("CS2601000001")
        assert exact(line_dialog.get_by_test_id("line-base")) == Decimal("800.125")
        assert exact(line_dialog.get_by_test_id("line-amount")) == Decimal("24.00")
        expect(line_dialog.get_by_test_id("line-rate")).to_have_text("0.03")
        expect(line_dialog.get_by_test_id("thread-text")).to_have_text(FEEDBACK)

        # -- Export by period; by incentive plan name (two programs) ----------------------------
        form = page.get_by_test_id("export-form")
        form.get_by_test_id("export-method").select_option("period")
        form.get_by_test_id("export-period").select_option("2026-01")
        form.locator("#export-format").select_option("csv")
        form.get_by_test_id("export").click()
        expect(page.locator(".messages .success")).to_have_text("Export task created")
        form = page.get_by_test_id("export-form")
        form.get_by_test_id("export-method").select_option("program")
        form.get_by_test_id("export-programs").select_option(["cloud-growth", "marketplace-boost"])
        form.locator("#export-format").select_option("xlsx")
        form.get_by_test_id("export").click()
        expect(page.locator(".messages .success")).to_have_text("Export task created")

        # -- Export › Export Selected ------------------------------------------------------------
        page.fill("#details-order", "")
        search(page)
        for order in ("CS2601000002", "CS2512000001"):
            page.locator(f"tr[data-order={order}]").get_by_test_id("select-line").check()
        page.get_by_test_id("export-menu").locator("summary").click()
        page.get_by_test_id("selected-format").select_option("csv")
        page.get_by_test_id("export-selected").click()
        expect(page.locator(".messages .success")).to_have_text("Export task created")

        # The worker's job, run here while the browser waits on a page that polls nothing.
        kinds = dict(ExportTask.objects.values_list("kind", "format"))
        assert kinds == {
            "incentive_details_by_period": "csv",
            "incentive_details_by_program": "xlsx",
            "incentive_details_selected": "csv",
        }
        for task in ExportTask.objects.filter(status=ExportStatus.QUEUED):
            export_services.run_export(str(task.pk))
        assert set(ExportTask.objects.values_list("status", flat=True)) == {ExportStatus.SUCCEEDED}
        assert list(Feedback.objects.values_list("text", "line__order_id")) == [(FEEDBACK, "CS2601000001")]

        # -- Export › View Export → Download ------------------------------------------------------
        page.get_by_test_id("export-menu").locator("summary").click()
        page.get_by_test_id("view-export").click()
        expect(page.locator("h1")).to_have_text("Export History")
        files = {}
        for kind in ("incentive_details_by_period", "incentive_details_by_program", "incentive_details_selected"):
            history_row = page.locator(f"tr[data-kind={kind}]")
            expect(history_row).to_have_attribute("data-status", "succeeded")
            files[kind] = download(page, history_row.get_by_test_id("download"))[1]

        # -- 1366×768: the amounts and the actions on the first screen -------------------------------
        page.set_viewport_size({"width": WIDTH, "height": HEIGHT})
        page.goto("/incentives/details/?period=2026-01")
        first = page.locator("#incentive-details tbody tr[data-line]").first
        for testid in ("amount", "base", "feedback-status", "feedback", "details", "select-line"):
            inside_viewport(page, first.get_by_test_id(testid))
        inside_viewport(page, page.get_by_test_id("export"))
        inside_viewport(page, page.get_by_test_id("export-menu"))
        assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH
        if shots := os.environ.get("PARTNERCENTER_LAYOUT_SCREENSHOTS", ""):
            Path(shots).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(shots) / "incentive-details-en.png"))

    # -- the files: exactly the lines' figures, names anonymized -------------------------------------
    by_period = list(csv.reader(io.StringIO(files["incentive_details_by_period"].decode("utf-8-sig"))))
    assert by_period[0][:4] == ["Reconciliation period", "Incentive ID", "Incentive program", "Customer name"]
    assert figures(by_period[1:]) == JANUARY
    assert {r[11] for r in by_period[1:]} == {"Awaiting answer", "No feedback"}
    by_program = xlsx_rows(files["incentive_details_by_program"])
    assert figures(by_program[1:]) == JANUARY
    selected = list(csv.reader(io.StringIO(files["incentive_details_selected"].decode("utf-8-sig"))))
    assert figures(selected[1:]) == expected("CS2601000002", "CS2512000001")
    for content in files.values():
        assert "张小明".encode() not in content and b"Acme Ltd" not in content
    assert Line.objects.filter(incentive__partner__code="sp-a", incentive__period_start="2026-01-01").count() == 4
