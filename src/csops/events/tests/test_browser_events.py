"""In real Chromium: a customer registers for a lab on the public page, redeems the lab's
production code and sees their lab space; a CSE signs up as the lab's DRI."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone

from csops.customers.tests.test_browser import browser, expect, log_in, page  # noqa: F401  (fixtures)
from csops.events import actions
from csops.events.models import CodeKind, DriRole, InvitationCode, LabSpace

pytestmark = pytest.mark.browser


def test_a_customer_registers_and_redeems_a_lab_code_and_a_cse_signs_up(page, users):  # noqa: F811
    lab = actions.create_event(
        actor=users["admin"], kind="lab", title="CI pipelines lab", time_zone="Europe/Berlin",
        starts_at=timezone.now().replace(microsecond=0) + dt.timedelta(days=14), capacity=20,
        lab_access_days=4,
    )
    actions.file_lab_request(lab, actor=users["admin"])
    code = InvitationCode.objects.get(event=lab, kind=CodeKind.PRODUCTION).code

    page.goto("/e/")
    expect(page.locator("main h1")).to_have_text("Webinars and labs")
    page.get_by_role("link", name="Register for CI pipelines lab").click()
    page.get_by_label("Name").fill("Ada Lovelace")
    page.get_by_label("Email").fill("ada@example.org")
    page.get_by_label("Company").fill("Analytical Engines")
    page.get_by_role("button", name="Register").click()
    expect(page.locator("#outcome")).to_have_text("You are registered")

    page.get_by_role("link", name="Redeem your lab invitation code").click()
    page.get_by_label("Invitation code").fill(code)
    page.get_by_label("The email you registered with").fill("ada@example.org")
    page.get_by_role("button", name="Get my lab space").click()
    space = LabSpace.objects.get()
    expect(page.locator("#space-name")).to_have_text(space.name)
    expect(page.locator("#space-expiry")).to_contain_text(f"{space.expires_at:%Y}")
    assert space.name.startswith("ada-lovelace-")
    assert space.expires_at == actions.access_until(lab)

    log_in(page, "csm-user")
    page.get_by_role("link", name="Events").click()
    page.get_by_role("link", name="CI pipelines lab").click()
    expect(page).to_have_url(re.compile(rf"/events/{lab.pk}/$"))
    page.get_by_role("button", name="Sign up as Host").click()
    expect(page.get_by_role("status")).to_contain_text("You are the host of this event")
    expect(page.locator("#slots")).to_contain_text(str(users["csm"]))
    assert lab.slots.get(role=DriRole.HOST).cse == users["csm"]
    expect(page.locator("#registrations")).to_contain_text("ada@example.org")
