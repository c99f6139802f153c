"""The tracker in the Debian Chromium: a process owner finds their process from the nav, turns it red
from the keyboard (first without a reason and plan, which the page refuses naming both fields), and
the leadership report shows it first, with its PDF one click away."""

from __future__ import annotations

import re

import pytest

from csops.core.models import Role, User
from csops.customers.tests import test_browser
from csops.governance import responsibilities as tracker

pytestmark = pytest.mark.browser

browser = test_browser.browser
page = test_browser.page
expect, log_in = test_browser.expect, test_browser.log_in


def test_an_owner_turns_a_process_red_from_the_keyboard_and_leadership_reads_it(page, users):
    owner = User.objects.create_user(username="priya", first_name="Priya", last_name="Raman",
                                     role=Role.VIEWER, password=test_browser.PASSWORD)
    tracker.add_default_processes(actor=users["admin"], owner=users["admin"])
    kpis = tracker.add_process(actor=users["admin"], name="Customer health KPIs", owner=owner)

    log_in(page, "priya")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Responsibilities").click()
    expect(page.locator("main h1")).to_contain_text("Core responsibilities")
    page.get_by_role("link", name="Customer health KPIs").click()
    expect(page.locator("#status")).to_have_text("Green")

    status = page.get_by_label("Status", exact=False).and_(page.locator("select"))
    status.focus()
    status.select_option("red")
    page.keyboard.press("Tab")  # to the reason, then the plan, then the button: left empty
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Update the status")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator(".field.invalid")).to_have_count(2)
    expect(page.get_by_role("alert").filter(has_text="Say why the process is red")).to_be_visible()
    expect(page.get_by_role("alert").filter(has_text="Give the plan")).to_be_visible()

    page.get_by_role("textbox", name="Reason").fill("Two net retention figures in the QBR deck.")
    page.get_by_role("textbox", name="Plan").fill("One definition agreed with Finance by the 30th.")
    page.get_by_role("textbox", name="Plan").press("Tab")
    page.keyboard.press("Enter")
    expect(page.locator(".messages")).to_contain_text("Status updated.")
    expect(page.locator("#status")).to_have_text("Red")
    expect(page.locator("table.history tbody tr")).to_have_count(2)
    kpis.refresh_from_db()
    assert kpis.status == "red" and kpis.history.first().changed_by == owner

    page.get_by_role("link", name="Status report").click()
    expect(page.locator("section.red")).to_contain_text("Customer health KPIs")
    expect(page.locator("section.red")).to_contain_text("One definition agreed with Finance")
    expect(page.locator("section.green li")).to_have_count(len(tracker.DEFAULT_PROCESSES))
    pdf_link = page.get_by_role("link", name="Download the PDF")
    response = page.request.get(pdf_link.get_attribute("href"))
    assert response.ok and response.headers["content-type"] == "application/pdf"
    assert response.body().startswith(b"%PDF-")
    assert re.search(r"core-responsibilities-\d{4}-\d\d-\d\d\.pdf", response.headers["content-disposition"])
