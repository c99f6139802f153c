"""A CSM works a CTA in real Chromium: My CTAs, the CTA page, a task, a logged call, a snooze and
the close, each seen on the page and in the database, with no console error under the CSP."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.conf import settings
from django.utils import timezone

from csops.cockpit.actions import create_cta
from csops.cockpit.models import Cta, CtaType, Playbook
from csops.customers.models import Account
from csops.customers.tests.test_browser import expect, log_in
from csops.timeline.models import Activity

pytestmark = pytest.mark.browser


@pytest.fixture
def overdue_cta(seeded, users) -> Cta:
    account = Account.objects.filter(contacts__isnull=False).order_by("pk").first()
    account.csm = users["csm"]
    account.save()
    kind = CtaType.objects.get(name="Risk")
    cta, _ = create_cta(
        account,
        actor=None,
        type=kind,
        reason=kind.reasons.get(name="At-Risk"),
        name="Usage is sliding",
        playbook=Playbook.objects.get(name="Account Triage"),
        due_date=timezone.localdate() - dt.timedelta(days=2),
    )
    return cta


def watch_console(page) -> list[str]:
    errors: list[str] = []

    def on_console(msg) -> None:
        # Chromium asks for /favicon.ico on its own; the app serves an SVG icon instead.
        if msg.type == "error" and not msg.location.get("url", "").endswith("/favicon.ico"):
            errors.append(f"{msg.text} at {msg.location.get('url')}")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    return errors


def saved(page, message: str) -> None:
    expect(page.get_by_role("status")).to_contain_text(message)


def test_csm_works_a_cta_from_my_ctas_to_closed(live_server, transactional_db, overdue_cta, page):
    errors = watch_console(page)
    cta, contact = overdue_cta, overdue_cta.account.contacts.order_by("pk").first()
    log_in(page, "csm-user")
    expect(page.locator("main h1")).to_contain_text("Accounts")

    response = page.goto("/cockpit/")
    assert response is not None and response.headers.get("content-security-policy") == settings.CSP_POLICY
    overdue = page.locator("section").filter(has=page.get_by_role("heading", name=re.compile("^Overdue")))
    expect(overdue.get_by_role("heading")).to_contain_text("1")
    overdue.get_by_role("link", name="Usage is sliding").click()
    expect(page).to_have_url(re.compile(rf"/cockpit/ctas/{cta.pk}/$"))
    expect(page.locator("main h1")).to_contain_text("Usage is sliding")

    # Complete the first task.
    first = cta.tasks.order_by("position").first()
    page.get_by_role("button", name=f"Mark “{first.name}” done").click()
    saved(page, "Task done.")
    expect(page.locator("ul.tasks s").filter(has_text=first.name)).to_be_visible()
    first.refresh_from_db()
    assert first.done_at is not None

    # Log a call from the CTA page.
    activities = page.locator("#activities")
    activities.get_by_text("Log an activity").click()
    activities.get_by_label("Type").select_option(label="Customer Call")
    activities.get_by_label("Subject").fill("Triage call with the team")
    activities.get_by_label("Date").fill(str(timezone.localdate()))
    activities.get_by_label("Customer attendees").select_option(value=str(contact.pk))
    activities.get_by_label("Sentiment").select_option(label="Yellow")
    activities.get_by_label("Notes").fill("Adoption stalled after the reorg.")
    activities.get_by_role("button", name="Log activity").click()
    expect(page).to_have_url(re.compile(rf"/cockpit/ctas/{cta.pk}/$"))
    saved(page, "Activity logged.")
    logged = page.locator("#activities ol.timeline li").first
    expect(logged).to_contain_text("Triage call with the team")
    expect(logged).to_contain_text(str(contact))
    activity = Activity.objects.get(subject="Triage call with the team")
    assert activity.cta == cta and list(activity.external_attendees.all()) == [contact]

    # Snooze it for a week.
    until = timezone.localdate() + dt.timedelta(days=7)
    page.get_by_label("Snooze until").fill(str(until))
    page.get_by_label("because").fill("Customer at an offsite")
    page.get_by_role("button", name="Snooze", exact=True).click()
    saved(page, "CTA snoozed.")
    expect(page.locator("#snoozed")).to_contain_text("Customer at an offsite")
    cta.refresh_from_db()
    assert (cta.snoozed_until, cta.snooze_reason) == (until, "Customer at an offsite")

    # Close it as a success.
    page.get_by_label("Close as").select_option(label="Closed Success")
    page.get_by_role("button", name="Close", exact=True).click()
    saved(page, "CTA closed.")
    expect(page.locator("#closed")).to_contain_text("Closed Success")
    expect(page.get_by_role("button", name="Reopen")).to_be_visible()
    cta.refresh_from_db()
    assert cta.closed_at is not None and cta.status.name == "Closed Success"

    # Gone from My CTAs.
    page.goto("/cockpit/")
    expect(page.get_by_role("link", name="Usage is sliding")).to_have_count(0)
    page.wait_for_load_state("networkidle")
    assert errors == []


def test_bulk_reassign_from_the_list_with_the_keyboard(
    live_server, transactional_db, overdue_cta, users, page
):
    """Select every row with the header checkbox (core/bulk.js), then reassign without a mouse."""
    errors = watch_console(page)
    log_in(page, "admin-user")
    expect(page.locator("main h1")).to_contain_text("Accounts")
    page.goto("/cockpit/ctas/?state=open")
    select_all = page.get_by_label("Select every row on this page")
    expect(select_all).to_be_visible()
    select_all.focus()
    page.keyboard.press("Space")
    expect(page.get_by_label("Select Usage is sliding")).to_be_checked()
    page.get_by_label("Reassign to").focus()
    page.get_by_label("Reassign to").select_option(label=str(users["admin"]))
    page.get_by_role("button", name="Reassign selected").focus()
    page.keyboard.press("Enter")
    saved(page, f"Reassigned 1 CTA(s) to {users['admin']}.")
    overdue_cta.refresh_from_db()
    assert overdue_cta.owner == users["admin"]
    page.wait_for_load_state("networkidle")
    assert errors == []
