"""A CSM opens an Account 360 page in Chromium and sees the health score, the colours of the
measures, what moved since the previous score, and the trend chart."""

import datetime as dt

import pytest

from csops.customers.tests.test_browser import browser, expect, log_in, page  # noqa: F401
from csops.health.actions import score_accounts
from csops.health.models import AccountHealth
from csops.usage.actions import seed_usage

pytestmark = pytest.mark.browser
TODAY = dt.date(2026, 11, 23)


def test_account_360_shows_health(page, seeded):  # noqa: F811
    seed_usage(end=TODAY, weeks=20, seed=3)
    score_accounts(as_of=TODAY - dt.timedelta(days=40))
    score_accounts(as_of=TODAY)
    health = (
        AccountHealth.objects.filter(previous_on__isnull=False)
        .exclude(color="")
        .exclude(score=None)
        .select_related("account")
        .first()
    )
    log_in(page, "csm-user")
    page.goto(f"/customers/accounts/{health.account_id}/")
    panel = page.locator("#health")
    expect(panel.get_by_role("heading", name="Health")).to_be_visible()
    expect(panel.locator(f"h2 .pill.{health.color}")).to_have_text(f"{health.score:.0f}")
    expect(panel.locator("table.measures").get_by_text("License utilization")).to_be_visible()
    assert panel.locator("table.measures .pill").count() >= 3
    expect(panel.get_by_role("heading", name="What moved since")).to_be_visible()
    chart = panel.locator("figure.chart svg")
    expect(chart).to_be_visible()
    assert chart.bounding_box()["width"] > 200
