"""In real Chromium: an admin edits a rule, another admin approves it, and the changelog shows it."""

from __future__ import annotations

import re

import pytest

from csops.core.models import Role, User
from csops.customers.tests.test_browser import browser, expect, log_in, page  # noqa: F401  (fixtures)
from csops.governance.models import ChangeRequest, Status
from csops.rules.models import Rule

pytestmark = pytest.mark.browser
RULE = "Upcoming renewal"


@pytest.fixture
def second_admin(users) -> User:
    return User.objects.create_user(username="admin-2", password="pw-for-tests", role=Role.ADMIN,
                                    first_name="Robin", last_name="Reviewer")


def test_a_rule_change_is_reviewed_by_a_second_admin_and_logged(page, users, second_admin):  # noqa: F811
    log_in(page, "admin-user")
    expect(page.locator("main h1")).to_contain_text("Accounts")
    page.get_by_role("link", name="Configuration").click()
    page.get_by_role("link", name="rules", exact=True).click()
    page.get_by_role("link", name=RULE).click()
    expect(page.locator("main h1")).to_contain_text(RULE)
    page.get_by_role("link", name="Propose a change").click()

    definition = page.get_by_label("Definition (YAML)")
    text = definition.input_value()
    definition.fill(text.replace("Four months before", "Three months before"))
    page.get_by_label("What").fill("Renewal CTA three months out")
    page.get_by_label("Why").fill("CSMs found four months too early.")
    page.get_by_role("button", name="Open the change request").click()

    expect(page).to_have_url(re.compile(r"/governance/changes/\d+/$"))
    expect(page.get_by_role("status")).to_contain_text("another CS Ops admin reviews it")
    expect(page.locator("pre.diff .added")).to_contain_text(["+description: Three months before"])
    expect(page.locator("#status")).to_have_text("Awaiting review")
    assert Rule.objects.get(name=RULE).description == "Four months before the renewal date."
    change = ChangeRequest.objects.get()

    page.get_by_role("button", name="Log out").click()
    log_in(page, "admin-2")
    page.goto(change.get_absolute_url())
    page.get_by_label("Approve (applies it now)").check()
    page.get_by_label("Remarks").fill("Impact checked.")
    page.get_by_role("button", name="Submit").click()
    expect(page.locator("#status")).to_have_text("Applied")
    change.refresh_from_db()
    assert change.status == Status.APPLIED
    assert Rule.objects.get(name=RULE).description == "Three months before the renewal date."

    page.goto("/governance/changelog/")
    row = page.locator("table tbody tr").first
    expect(row).to_contain_text("Renewal CTA three months out")
    expect(row).to_contain_text("CSMs found four months too early.")
    expect(row).to_contain_text("Robin Reviewer")
