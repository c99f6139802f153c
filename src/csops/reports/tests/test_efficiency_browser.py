"""CS Ops process efficiency, measured in the Debian Chromium: each common action declared in
`reports/efficiency.yaml` is performed from its start page the way a user would, counting the
steps (pages loaded), clicks and fields, and the counts must equal the declared ones. Each test
also checks that the action took effect."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from csops.cockpit.actions import create_cta
from csops.cockpit.models import Cta, CtaType, Playbook
from csops.core.models import Role, User
from csops.customers.models import Geo, Opportunity, Segment
from csops.customers.tests import test_browser
from csops.engagements.models import EngagementRequest
from csops.events import actions as events
from csops.events.models import Registration
from csops.governance import actions as governance
from csops.governance.models import Status
from csops.health.models import HealthUpdate
from csops.renewals import handoff as handoffs
from csops.renewals.models import Handoff
from csops.reports import efficiency
from csops.requests.models import OpsRequest
from csops.rules.tests import conftest as rule_fixtures

pytestmark = pytest.mark.browser

# The shared Chromium and a tab on the live server; the rule tests' small book of accounts.
browser, page = test_browser.browser, test_browser.page
expect, log_in, PASSWORD = test_browser.expect, test_browser.log_in, test_browser.PASSWORD
team, make_account, contact_for = rule_fixtures.team, rule_fixtures.make_account, rule_fixtures.contact_for
HOME = "/customers/accounts/"  # where logging in lands


class Counted:
    """The user's hand on the page: every click, Enter, typed field and chosen option goes through
    it and is counted; so is every page the tab loads (a new document in the main frame)."""

    def __init__(self, tab, start: str):
        tab.goto(start)
        tab.wait_for_load_state()
        self.tab, self.steps, self.clicks, self.fields = tab, 0, 0, 0
        tab.on("domcontentloaded", self._loaded)

    def _loaded(self, _tab) -> None:
        self.steps += 1

    def click(self, locator) -> None:
        self.clicks += 1
        locator.click()

    def check(self, locator) -> None:
        self.clicks += 1
        locator.check()

    def enter(self, locator) -> None:
        self.clicks += 1
        locator.press("Enter")

    def fill(self, locator, text: str) -> None:
        self.fields += 1
        locator.fill(text)

    def choose(self, locator, **option) -> None:
        self.fields += 1
        locator.select_option(**option)

    def figures(self) -> dict[str, int]:
        self.tab.wait_for_load_state()
        return {"steps": self.steps, "clicks": self.clicks, "fields": self.fields}


def declared(request) -> dict:
    found = [row for row in efficiency.measured() if row["test"].rpartition("::")[2] == request.node.name]
    assert len(found) == 1, f"efficiency.yaml declares {request.node.name} {len(found)} times"
    return found[0]


def assert_as_declared(request, user: Counted) -> None:
    row = declared(request)
    expected = {key: row[key] for key in ("steps", "clicks", "fields")}
    assert user.figures() == expected, f"{row['action']}: update efficiency.yaml if the UI changed"


def test_every_declared_action_has_its_test():
    rows = efficiency.measured()
    names = {row["test"].rpartition("::")[2] for row in rows}
    assert len(names) == len(rows) >= 6
    tests = {name for name, value in globals().items() if name.startswith("test_") and callable(value)}
    tests.discard("test_every_declared_action_has_its_test")
    assert names == tests, names ^ tests
    here = f"src/csops/reports/tests/{Path(__file__).name}"
    assert {row["test"].rpartition("::")[0] for row in rows} == {here}
    assert all(row["steps"] >= 0 and row["clicks"] > 0 for row in rows)


def test_log_a_health_update(request, page, users, make_account):
    account = make_account(name="Initech Efficiency", csm=users["csm"], csm_sentiment="green")
    log_in(page, "csm-user")
    user = Counted(page, HOME)

    user.fill(page.get_by_label("Search"), "Initech")
    user.enter(page.get_by_label("Search"))
    user.click(page.locator("table.list").get_by_role("link", name=account.name))
    user.click(page.get_by_text("Add a health update"))
    form = page.locator("form[action$='/updates/']")
    user.choose(form.get_by_label("Sentiment"), label="Yellow")
    user.fill(form.get_by_label("Summary"), "Sponsor left; adoption flat since the reorg.")
    user.click(form.get_by_role("button", name="Save health update"))

    expect(page.get_by_role("status")).to_contain_text("Health update saved")
    update = HealthUpdate.objects.get(account=account)
    assert (update.sentiment, update.author) == ("yellow", users["csm"])
    account.refresh_from_db()
    assert account.csm_sentiment == "yellow"
    assert_as_declared(request, user)


def test_close_a_cta_with_its_tasks(request, page, users, make_account):
    account = make_account(name="Umbrella Efficiency", csm=users["csm"])
    kind = CtaType.objects.get(name="Risk")
    cta, _ = create_cta(
        account, actor=None, type=kind, reason=kind.reasons.get(name="At-Risk"), name="Sponsor left",
        owner=users["csm"], playbook=Playbook.objects.get(name="Account Triage"),
        due_date=timezone.localdate() - dt.timedelta(days=1),
    )
    tasks = list(cta.tasks.order_by("position"))
    log_in(page, "csm-user")
    user = Counted(page, HOME)

    user.click(page.get_by_role("link", name="My CTAs"))
    user.click(page.get_by_role("link", name="Sponsor left").first)
    user.choose(page.get_by_label("Close as"), label="Closed Success")
    user.check(page.get_by_label("and mark its 4 open tasks done"))
    user.click(page.get_by_role("button", name="Close", exact=True))

    expect(page.locator("#closed")).to_contain_text("Closed Success")
    cta = Cta.objects.get(pk=cta.pk)
    assert cta.closed_at is not None and cta.status.name == "Closed Success"
    assert len(tasks) == 4 and not cta.tasks.filter(done_at=None).exists()
    assert_as_declared(request, user)


def test_file_a_cse_engagement_request(request, page, team, make_account, contact_for):
    ae = User.objects.create_user(username="ae-efficiency", password=PASSWORD, role=Role.ACCOUNT_OWNER,
                                  email="ae-efficiency@example.com")
    account = make_account(name="Globex Efficiency", segment=Segment.objects.get(name="Scale"),
                           arr=Decimal("60000"), csm=team["pool"], cse=None, ae=ae)
    contact_for(account, "GitLab Admin", first_name="Ada")
    log_in(page, ae.username)
    user = Counted(page, HOME)

    user.fill(page.get_by_label("Search"), "Globex")
    user.enter(page.get_by_label("Search"))
    user.click(page.locator("table.list").get_by_role("link", name=account.name))
    user.click(page.get_by_role("link", name="CSE Help", exact=True).first)
    user.check(page.get_by_label("Onboarding"))
    user.choose(page.get_by_label("Primary use case"), value="ci")
    user.choose(page.get_by_label("Type of risk"), value="adoption")
    user.choose(page.get_by_label("Environment"), value="saas")
    user.fill(page.get_by_label("Topic"), "CI pipelines for the mobile team")
    user.click(page.get_by_role("button", name="File the request"))

    expect(page.locator("#status")).to_have_text("Filed")
    filed = EngagementRequest.objects.get()
    assert (filed.account, filed.filed_by, filed.topic) == (account, ae, "CI pipelines for the mobile team")
    assert_as_declared(request, user)


def test_file_a_cs_ops_request(request, page, users):
    log_in(page, "csm-user")
    user = Counted(page, HOME)

    user.click(page.get_by_role("link", name="CS Ops requests"))
    user.click(page.get_by_role("link", name="New request").first)
    user.fill(page.get_by_label("Title"), "Add the renewal date to the renewal CTA")
    user.fill(page.get_by_label("Description"), "CSMs open the account to find it.")
    user.click(page.get_by_role("button", name="File the request"))

    expect(page.locator("#state")).to_have_text("Triage")
    filed = OpsRequest.objects.get()
    assert (filed.title, filed.requester) == ("Add the renewal date to the renewal CTA", users["csm"])
    assert_as_declared(request, user)


def test_approve_a_configuration_change(request, page, users):
    User.objects.create_user(username="admin-2", password=PASSWORD, role=Role.ADMIN)
    change = governance.propose([governance.parse_object("geos", "name: MEA")], author=users["admin"],
                                title="Add MEA", why="A new region.", ask_review=True)
    assert change.status == Status.OPEN
    log_in(page, "admin-2")
    user = Counted(page, HOME)

    user.click(page.get_by_role("link", name="Changes", exact=True))
    user.click(page.get_by_role("link", name="Add MEA"))
    user.check(page.get_by_label("Approve (applies it now)"))
    user.click(page.get_by_role("button", name="Submit"))

    expect(page.locator("#status")).to_have_text("Applied")
    change.refresh_from_db()
    assert change.status == Status.APPLIED and Geo.objects.filter(name="MEA").exists()
    assert_as_declared(request, user)


def test_register_for_a_webinar(request, page, users):
    webinar = events.create_event(
        actor=users["admin"], kind="webinar", title="Pipelines Q&A", time_zone="Europe/Berlin",
        starts_at=timezone.now().replace(microsecond=0) + dt.timedelta(days=10), capacity=100,
    )
    user = Counted(page, "/e/")

    user.click(page.get_by_role("link", name="Register for Pipelines Q&A"))
    user.fill(page.get_by_label("Name"), "Ada Lovelace")
    user.fill(page.get_by_label("Email"), "ada@example.org")
    user.click(page.get_by_role("button", name="Register"))

    expect(page.locator("#outcome")).to_have_text("You are registered")
    assert Registration.objects.get(event=webinar).email == "ada@example.org"
    assert_as_declared(request, user)


def test_complete_a_sales_cs_handoff(request, page, make_account, contact_for):
    ae = User.objects.create_user(username="ae-handoff", password=PASSWORD, role=Role.ACCOUNT_OWNER,
                                  email="ae-handoff@example.com")
    account = make_account(name="Hooli Efficiency", ae=ae)
    Opportunity.objects.create(
        external_id="O-EFF-1", account=account, name="Hooli - new", type="new", stage="Closed Won",
        net_arr=Decimal("50000"), close_date=timezone.localdate() - dt.timedelta(days=2),
        forecast_category="closed",
    )
    assert handoffs.open_handoffs(timezone.localdate()) == 1
    handoff = Handoff.objects.get()
    contact = contact_for(account, "GitLab Admin", first_name="Ada")
    log_in(page, ae.username)
    user = Counted(page, handoff.get_absolute_url())

    user.fill(page.get_by_label("Why they bought"), "Consolidating three CI tools.")
    user.fill(page.get_by_label("Primary use case"), "CI")
    user.fill(page.get_by_label("Value driver"), "Faster releases")
    user.check(page.get_by_label(str(contact)))
    user.fill(page.get_by_label("Risks"), "The sponsor is new.")
    user.fill(page.get_by_label("Recommended features"), "Merge trains")
    user.click(page.get_by_role("button", name="Save"))

    expect(page.locator("#missing")).to_contain_text("nothing (complete since")
    handoff.refresh_from_db()
    assert handoff.completed_at is not None and list(handoff.key_contacts.all()) == [contact]
    assert_as_declared(request, user)


def test_export_a_segments_accounts(request, page, users, make_account):
    scale = [make_account(segment=Segment.objects.get(name="Scale")) for _ in range(2)]
    make_account(segment=Segment.objects.get(name="Growth"))
    log_in(page, "viewer-user")
    user = Counted(page, HOME)

    user.choose(page.locator("select[name=segment]"), label="Scale")
    user.click(page.get_by_role("button", name="Filter"))
    expect(page).to_have_url(re.compile(r"[?&]segment=Scale(&|$)"))
    with page.expect_download() as download:
        user.click(page.get_by_role("link", name="Export CSV"))

    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8-sig"))))
    assert sorted(row["Name"] for row in rows) == sorted(a.name for a in scale)
    assert_as_declared(request, user)
