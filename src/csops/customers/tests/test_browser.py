"""End-to-end tests that drive the Debian Chromium through Playwright against a live server.

They never download a browser: without /usr/bin/chromium they are skipped, except on CI
(CI=true), where a missing browser is a failure.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache

# Playwright's sync API runs an event loop in the test thread; without this Django refuses the
# ORM calls the fixtures (and the database teardown) make from that thread.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
PASSWORD = "pw-for-tests"
TIMEOUT_MS = 15_000


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} CI must run the browser tests.")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator:
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is not installed; the browser tests need the Debian Chromium.")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install -e '.[dev]').")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser, live_server, transactional_db):
    # The login throttle counts failures in the (process-wide) local-memory cache.
    cache.clear()
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    try:
        yield tab
    finally:
        context.close()


def expect(target):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


def log_in(page, username: str, password: str = PASSWORD) -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def heading_count(page) -> int:
    return int(page.locator("main h1 small").inner_text().replace(",", ""))


def column_texts(page, label: str) -> list[str]:
    headers = [h.strip() for h in page.locator("table.list thead th").all_inner_texts()]
    assert label in headers, headers
    index = headers.index(label) + 1
    return [t.strip() for t in
            page.locator(f"table.list tbody tr td:nth-child({index})").all_inner_texts()]


def test_filter_accounts_by_segment_and_open_account_360(live_server, transactional_db,
                                                          seeded, page):
    log_in(page, "csm-user")
    expect(page).to_have_url(re.compile(r"/customers/accounts/$"))
    expect(page.locator("main h1")).to_contain_text("Accounts")
    unfiltered = heading_count(page)
    assert unfiltered == len(seeded.accounts)

    page.locator("select[name=segment]").select_option("Scale")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"[?&]segment=Scale(&|$)"))

    filtered = heading_count(page)
    segments = column_texts(page, "Segment")
    assert segments, "no Scale accounts shown; the seeded data should contain some"
    assert set(segments) == {"Scale"}, segments
    assert len(segments) == filtered  # fewer than a page, so every match is on this page
    assert 0 < filtered < unfiltered
    expect(page.locator("select[name=segment] option:checked")).to_have_text(["Scale"])

    first_link = page.locator("table.list tbody tr").first.locator("td").first.locator("a")
    name = first_link.inner_text().strip()
    first_link.click()
    expect(page).to_have_url(re.compile(r"/customers/accounts/\d+/$"))
    expect(page.locator("main h1")).to_contain_text(name)
    expect(page).to_have_title(re.compile(re.escape(name)))
    for section in ("Team", "Contacts", "Opportunities"):
        expect(page.locator("main section h2").filter(
            has_text=re.compile(rf"^\s*{section}\b"))).to_be_visible()


def test_failed_login_shows_error_and_stays_on_login_page(live_server, transactional_db,
                                                          users, page):
    log_in(page, "csm-user", "not-the-password")
    alert = page.get_by_role("alert")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text(re.compile("correct username and password", re.I))
    expect(page).to_have_url(re.compile(r"/login/$"))
    expect(page.locator("main h1")).to_have_text("Log in to csops")
    expect(page.get_by_role("link", name="Accounts")).to_have_count(0)


def test_account_list_has_strict_csp_and_no_console_errors(live_server, transactional_db,
                                                           seeded, page):
    errors: list[str] = []

    def on_console(msg) -> None:
        # Chromium asks for /favicon.ico on its own and the app serves none: ignore that 404
        # (and only that one).
        if msg.type == "error" and not msg.location.get("url", "").endswith("/favicon.ico"):
            errors.append(f"{msg.text} at {msg.location.get('url')}")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    log_in(page, "csm-user")
    expect(page).to_have_url(re.compile(r"/customers/accounts/$"))

    response = page.goto("/customers/accounts/?sort=-arr")
    assert response is not None and response.status == 200
    csp = response.headers.get("content-security-policy")
    assert csp == settings.CSP_POLICY
    directives = {d.split()[0]: d.split()[1:] for d in csp.split(";") if d.strip()}
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    expect(page.locator("table.list tbody tr").first).to_be_visible()
    # The stylesheet loaded (a CSP or 404 failure would leave the page unstyled).
    assert page.evaluate("document.styleSheets.length") >= 1
    assert page.evaluate("document.styleSheets[0].cssRules.length") > 0
    page.wait_for_load_state("networkidle")
    assert errors == []


def test_login_form_works_from_the_keyboard(live_server, transactional_db, users, page):
    page.goto("/login/")
    # Start sequential focus navigation from the heading just above the form.
    page.locator("main h1").click()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "id_username"
    page.keyboard.type("csm-user")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "id_password"
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/customers/accounts/$"))
    expect(page.locator("main h1")).to_contain_text("Accounts")
