"""A contact answers a survey on a phone in real Chromium: the link from the email, a tap and the
keyboard, the thank-you page, no console error under the CSP."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from django.core.cache import cache

from csops.cockpit.tests.test_browser_cockpit import watch_console
from csops.customers.models import Contact
from csops.customers.tests.test_browser import TIMEOUT_MS, browser, expect  # noqa: F401  (fixture)
from csops.programs import surveys
from csops.programs.models import Survey, SurveyInvitation, SurveyResponse

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def phone(browser, live_server, transactional_db) -> Iterator:  # noqa: F811
    cache.clear()
    context = browser.new_context(base_url=live_server.url, viewport=PHONE, is_mobile=True, has_touch=True)
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    try:
        yield tab
    finally:
        context.close()


def test_a_contact_answers_on_a_phone(phone, live_server, settings, make_account):
    settings.CSOPS_BASE_URL = live_server.url  # where the links in emails point
    page = phone
    errors = watch_console(page)
    account = make_account()
    contact = Contact.objects.create(
        external_id="B-1", account=account, first_name="Ada", last_name="Admin", email="ada@customer.example"
    )
    survey = Survey.objects.get(name="Post-onboarding NPS")
    assert surveys.invite_contacts(survey, [{"account_id": account.pk, "contact_id": contact.pk, "key": "b"}])
    message = SurveyInvitation.objects.select_related("message").get().message
    link = re.search(r"https?://\S+/t/[^/\s]+/", message.text).group(0)

    response = page.goto(urlsplit(link).path)  # the tracked link redirects to the survey page
    assert response is not None and response.status == 200
    assert response.headers.get("content-security-policy") == settings.CSP_POLICY
    expect(page).to_have_url(re.compile(r"/s/[\w-]{43}/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(survey.question)
    scores = page.get_by_role("radio")
    expect(scores).to_have_count(11)
    # Large enough to tap: at least 44 by 44 CSS pixels, all within the phone's width.
    for index in (0, 10):
        box = page.locator(".choice").nth(index).bounding_box()
        assert box["width"] >= 44 and box["height"] >= 44 and box["x"] + box["width"] <= PHONE["width"]

    page.get_by_label("8", exact=True).tap()
    expect(page.get_by_label("8", exact=True)).to_be_checked()
    page.keyboard.press("ArrowRight")  # the radio group moves with the arrow keys
    page.keyboard.press("ArrowRight")
    ten = page.get_by_role("radio", name=re.compile(r"^10"))
    expect(ten).to_be_checked()
    expect(ten).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_label(survey.comment_prompt)).to_be_focused()
    page.keyboard.type("Onboarding was smooth.")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Send my answer")).to_be_focused()
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", level=1)).to_have_text("Answer received")
    expect(page.get_by_role("status")).to_have_text(survey.thank_you)
    answer = SurveyResponse.objects.get()
    assert (answer.score, answer.category, answer.comment, answer.contact_id) == (
        10,
        "promoter",
        "Onboarding was smooth.",
        contact.pk,
    )

    assert errors == []

    again = page.goto(urlsplit(link).path)  # the link again: answered once, and thanked
    assert again is not None and again.status == 410
    expect(page.get_by_role("heading", level=1)).to_have_text("This survey has already been answered")
