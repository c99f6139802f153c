"""A CSE engagement end to end in the Debian Chromium: the AE files from the account page's CSE Help,
the batch raises the CTA, the CSE finds it in My CTAs, logs the call and sends the follow-up, and the
email reaches a real SMTP server."""

from __future__ import annotations

import email
import email.policy
import re
from decimal import Decimal

import pytest

from csops.core.models import Role, User
from csops.customers.models import Segment
from csops.customers.tests import test_browser
from csops.engagements import actions
from csops.engagements.models import NAME_SUFFIX, EngagementRequest, RequestStatus
from csops.programs import outbox
from csops.programs.models import SurveyInvitation

pytestmark = pytest.mark.browser

# The shared Chromium and a tab on the live server (they also allow the ORM in the test thread).
browser = test_browser.browser
page = test_browser.page
expect, log_in = test_browser.expect, test_browser.log_in
PASSWORD = test_browser.PASSWORD


def log_out(tab) -> None:
    tab.get_by_role("button", name="Log out").click()
    expect(tab).to_have_url(re.compile(r"/login/"))


def test_an_ae_files_and_the_cse_calls_and_follows_up(
    live_server, transactional_db, users, team, make_account, contact_for, smtp_server, page
):
    ae = User.objects.create_user(
        username="ae-browser", email="ae-browser@example.com", role=Role.ACCOUNT_OWNER,
        first_name="Avery", last_name="Owner", password=PASSWORD,
    )
    cse = team["cse"]
    cse.first_name, cse.last_name = "Casey", "Engineer"
    cse.set_password(PASSWORD)
    cse.save()
    account = make_account(
        name="Globex Mobile", segment=Segment.objects.get(name="Scale"), arr=Decimal("60000"),
        csm=team["pool"], cse=None, ae=ae,
    )
    contact = contact_for(account, "GitLab Admin", first_name="Ada")

    # The AE opens CSE Help from the account page and fills it in, partly from the keyboard.
    log_in(page, ae.username)
    page.goto(account.get_absolute_url())
    page.get_by_role("link", name="CSE Help", exact=True).first.click()
    expect(page.locator("main h1")).to_contain_text("CSE Help")
    expect(page.locator("table.list")).to_contain_text("You are the account owner")
    expect(page.get_by_label("Customer contact")).to_have_value(str(contact.pk))
    page.get_by_label("Onboarding").focus()
    page.keyboard.press("Space")
    expect(page.get_by_label("Onboarding")).to_be_checked()
    page.get_by_label("Primary use case").select_option("ci")
    page.get_by_label("Type of risk").select_option("adoption")
    page.get_by_label("Environment").select_option("saas")
    page.get_by_label("Challenges / pain points").fill("Slow pipelines on the mobile monorepo.")
    topic = page.get_by_label("Topic")
    topic.fill("CI pipelines for the mobile team")
    topic.press("Enter")  # submits the form
    expect(page.locator(".messages")).to_contain_text("every 4 hours from 00:30")
    expect(page.locator("#status")).to_have_text("Filed")
    request = EngagementRequest.objects.get()
    assert request.filed_by == ae and request.cta is None

    # The 4-hourly batch raises the CTA.
    report = actions.convert_requests()
    assert report.ctas == 1
    request.refresh_from_db()
    assert request.cse == cse and request.cta.name == f"Globex Mobile{NAME_SUFFIX}"
    log_out(page)

    # The CSE finds the CTA in My CTAs and works it from its page.
    log_in(page, cse.username)
    page.get_by_role("link", name="My CTAs").click()
    page.get_by_role("link", name=request.cta.name).first.click()
    expect(page.locator("main h1")).to_contain_text(request.cta.name)
    expect(page.locator("#engagement")).to_contain_text(f"CSE engagement request #{request.pk}")
    page.locator("#engagement").get_by_role("link", name="Log the call").click()
    expect(page).to_have_url(re.compile(rf"/engagements/{request.pk}/#call$"))
    call = page.locator("#call")
    expect(call.get_by_label("Date of the call")).to_have_value(actions.business_today().isoformat())
    call.get_by_label("Notes").fill("Walked through caching and parallel jobs.")
    call.get_by_role("button", name="Log the call").click()
    expect(page.locator(".messages")).to_contain_text("Call logged on the timeline")
    expect(page.locator("#status")).to_have_text("Call held")

    follow_up = page.locator("#follow-up")
    expect(follow_up.get_by_label(re.compile("Ada GitLab Admin"))).to_be_checked()
    expect(follow_up.get_by_label(re.compile("Deploy the CSE engagement CSAT survey"))).to_be_checked()
    follow_up.get_by_label("Summary").fill("We reviewed the mobile pipelines.")
    follow_up.get_by_label("Action items").fill("Enable caching on the build job.")
    follow_up.get_by_label("Resources").fill("https://docs.example.com/ci/caching")
    follow_up.get_by_role("button", name="Send the follow-up").click()
    expect(page.locator(".messages")).to_contain_text("with the CSE engagement CSAT survey")
    expect(page.locator("#status")).to_have_text("Followed up")
    expect(page.locator("#follow-ups")).to_contain_text("Done on time")
    request.refresh_from_db()
    assert request.status == RequestStatus.FOLLOWED_UP

    # The outbox delivers the follow-up (and the outreach the batch queued) to the SMTP server.
    outbox.deliver()
    follow_ups = [(to, text) for to, text in smtp_server.messages if "Following up on our session" in text]
    assert len(follow_ups) == 1, [text[:200] for _, text in smtp_server.messages]
    recipients, raw = follow_ups[0]
    assert contact.email in recipients and cse.email in recipients
    message = email.message_from_string(raw, policy=email.policy.default)
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "We reviewed the mobile pipelines." in text and "Enable caching on the build job." in text
    assert "How did the session go? One click tells us: http" in text  # the CSAT survey's link
    assert SurveyInvitation.objects.filter(contact=contact, survey__name="CSE engagement CSAT").count() == 1
