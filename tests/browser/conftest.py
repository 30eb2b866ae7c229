"""Browser tests: Debian's Chromium driven by Playwright (sync API) against pytest-django's live server.

Never downloads a browser: Chromium is launched from /usr/bin/chromium.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make between
# browser steps are still synchronous, so Django's async-safety check must stand aside.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def _serve_one_request_at_a_time() -> None:
    """On SQLite the live server shares the test's one in-memory connection. Two requests at once
    (a page's htmx loads) can deadlock inside the sqlite3 module: one thread holds the database's
    mutex while our Python aggregate (``exact_sum``) waits for the GIL, the other holds the GIL
    while asking SQLite for the mutex. So the live server handles requests one after another,
    in its own thread (Django then answers ``Connection: close``, so no socket is held open
    between requests); on PostgreSQL every request has its own connection and stays threaded."""
    from django.core.servers.basehttp import WSGIServer
    from django.test.testcases import LiveServerThread

    class SerialWSGIServer(WSGIServer):
        def __init__(self, *args: object, connections_override: object = None, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)  # the thread itself took the shared connection

    LiveServerThread.server_class = SerialWSGIServer


if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
    _serve_one_request_at_a_time()

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless=new",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (make browser)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(chromium, live_server):  # noqa: ANN001 - Playwright types stay out of the signatures
    context = chromium.new_context(base_url=live_server.url, locale="en-US")
    context.set_default_timeout(10_000)
    pg = context.new_page()
    try:
        yield pg
    finally:
        context.close()
