"""The Customer Expenditure pages fit a 1366×768 screen in English and 简体中文: no horizontal
scrolling, the amounts and the row actions always on screen, long text wrapped or truncated with
its full value in a title attribute."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from partnercenter.core import clock
from partnercenter.partners import services as partner_services
from tests.browser.test_navigation import sign_in
from tests.test_expenditure_console import KNOWN, NOW, ingest, rec

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTH, HEIGHT = 1366, 768
LONG = "Shanghai Very Long Customer Name Industrial Cloud Computing Technology Company Limited"
LONG_ID = "acs-" + "9" * 40
LONG_RESOURCE = "ecs-instance-" + "abcdef0123456789" * 6
LONG_ORDER = "CS" + "2026031012345678" * 3

# Everything the check measures, in one round trip: the page's and each table's overflow, and
# the right edge of every cell that must stay visible.
MEASURE = """(selectors) => {
  const vw = document.documentElement.clientWidth;
  const out = {vw, pageScroll: document.documentElement.scrollWidth, tables: [], cells: []};
  for (const t of document.querySelectorAll('table.data')) {
    const wrap = t.closest('.table-wrap') || t.parentElement;
    out.tables.push({id: t.id, right: t.getBoundingClientRect().right, wrapScroll: wrap.scrollWidth,
                     wrapClient: wrap.clientWidth});
  }
  for (const sel of selectors) {
    for (const el of document.querySelectorAll(sel)) {
      const r = el.getBoundingClientRect();
      out.cells.push({sel, right: r.right, width: r.width, text: el.textContent.trim().slice(0, 40)});
    }
  }
  return out;
}"""
SUMMARY_CELLS = [
    "#summary-table td.num",
    "#summary-table th.num",
    "#summary-table td.operations a",
    "#summary-table tfoot td",
]
DETAIL_CELLS = ["#details-table td.num", "#details-table th.num"]


def _data() -> None:
    with clock.frozen_at(NOW - dt.timedelta(days=30)):
        partner_services.create_customer(
            account_id=LONG_ID,
            name=LONG,
            email="very.long.mailbox.name.for.testing@subsidiary.example.com",
            mobile="13912345678",
            partner_code="sp-a",
            association_type="reseller",
            valid_from=NOW - dt.timedelta(days=30),
        )
    with clock.frozen_at(NOW - dt.timedelta(hours=1)):
        ingest(
            [
                *KNOWN,
                rec(
                    "W1",
                    LONG_ID,
                    "1234567890.345678",
                    "2026-03-11",
                    resource_id=LONG_RESOURCE,
                    order_id=LONG_ORDER,
                    project="a-project-with-a-rather-long-name",
                    service_name="Elastic Cloud Server Dedicated Host",
                ),
                rec("W2", LONG_ID, "-987654321.87", "2026-03-12", charge_category="Credit"),
                rec("W3", LONG_ID, "-1234567.89", "2026-03-12", charge_category="Tax"),
            ]
        )


def _check(page: Page, cells: list[str], shot: Path) -> None:
    page.screenshot(path=str(shot), full_page=True)
    m = page.evaluate(MEASURE, cells)
    assert m["pageScroll"] <= m["vw"], f"the page scrolls sideways: {m['pageScroll']} > {m['vw']} ({shot.name})"
    for t in m["tables"]:
        assert t["right"] <= m["vw"], (shot.name, t)
        assert t["wrapScroll"] <= t["wrapClient"], (shot.name, t)
    assert m["cells"], shot.name
    for c in m["cells"]:
        assert 0 < c["right"] <= m["vw"], (shot.name, c)


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_expenditure_pages_fit_1366_wide(chromium, live_server, org, language, tmp_path) -> None:  # noqa: ANN001
    _data()
    shots = Path(os.environ.get("PARTNERCENTER_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    context = chromium.new_context(
        base_url=live_server.url, locale="en-US", viewport={"width": WIDTH, "height": HEIGHT}
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        with clock.frozen_at(NOW):
            sign_in(page, "sp-a-admin")
            if language != "en":
                page.locator(f"form.lang-switch button[value='{language}']").click()
                expect(page.locator("html")).to_have_attribute("lang", language)
            page.goto("/expenditure/?start=2026-03-01&end=2026-03-18")
            expect(page.locator("#summary-table tbody tr[data-account]")).to_have_count(5)
            _check(page, SUMMARY_CELLS, shots / f"summary-{language}.png")
            # Revealed columns are the longest text the summary shows.
            page.goto("/expenditure/?start=2026-03-01&end=2026-03-18&reveal=name,email,mobile")
            expect(page.locator(f"#summary-table tr[data-account='{LONG_ID}'] [data-col=name]")).to_have_attribute(
                "title", LONG
            )
            _check(page, SUMMARY_CELLS, shots / f"summary-revealed-{language}.png")
            page.goto("/expenditure/details/?start=2026-03-01&end=2026-03-18&reveal=name")
            expect(page.locator("#details-table tbody tr[data-line]")).to_have_count(10)
            resource = page.locator("#details-table tr[data-account] [data-col=resource_id]").filter(
                has_text="ecs-instance"
            )
            expect(resource).to_have_attribute("title", LONG_RESOURCE)
            _check(page, DETAIL_CELLS, shots / f"details-{language}.png")
    finally:
        context.close()
