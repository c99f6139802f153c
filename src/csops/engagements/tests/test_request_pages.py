"""The engagement pages: CSE Help (filing), a request and the CSE's work on it, the list, the
dashboard, and the links from the account and CTA pages."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from csops.cockpit.actions import raise_manual_cta
from csops.cockpit.models import Cta
from csops.core.models import Role, User
from csops.customers.models import Opportunity, Segment
from csops.engagements import actions
from csops.engagements.models import NAME_SUFFIX, EngagementRequest, FollowUp, RequestStatus

NEW = reverse("engagements:request_new")
POST = {
    "topic": "CI pipelines for the mobile team",
    "interventions": ["onboarding", "license_utilization"],
    "primary_use_case": "ci",
    "risk_type": "adoption",
    "environment": "saas",
    "priority": "high",
    "challenges": "",
}


@pytest.fixture
def ae(users) -> User:
    return User.objects.create_user(
        username="ae-pages", email="ae-pages@example.com", role=Role.ACCOUNT_OWNER,
        first_name="Avery", last_name="Owner", password="pw-for-tests",
    )


@pytest.fixture
def book(make_account, contact_for, team, ae):
    """An eligible account (Scale, TAM Scale pool, $60k ARR), its AE, a contact, an opportunity."""

    def make(**fields):
        defaults = {"segment": Segment.objects.get(name="Scale"), "arr": Decimal("60000"),
                    "csm": team["pool"], "cse": None, "ae": ae}
        account = make_account(**(defaults | fields))
        contact_for(account, "GitLab Admin", first_name="Ada")
        return account

    return make


def login(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def form_data(account, **fields) -> dict:
    return {"contact": account.contacts.first().pk, **POST, **fields}


def filed(account, **fields) -> EngagementRequest:
    return actions.file_request(
        account, actor=account.ae, contact=account.contacts.first(),
        **{k: v for k, v in POST.items() if k not in fields} | fields,
    )


def converted(account, **fields) -> EngagementRequest:
    request = filed(account, **fields)
    actions.convert_requests()
    request.refresh_from_db()
    assert request.cta is not None
    return request


# --- CSE Help ------------------------------------------------------------------------------------------


def test_the_owner_sees_each_condition_and_files(book, ae):
    account = book()
    opportunity = Opportunity.objects.create(
        external_id="O-1", account=account, name="FY27 renewal", type="renewal",
        close_date=dt.date(2027, 1, 31), stage="Discovery",
    )
    client = login(ae)
    page = client.get(f"{NEW}?account={account.pk}&opportunity={opportunity.pk}")
    assert page.status_code == 200
    html = page.content.decode()
    for condition in ("You are the account owner", "ARR of at least 30,000", "the tam-scale pool"):
        assert condition in html
    assert "✗ not met" not in html
    assert 'maxlength="1000"' in html and "approved_by" not in html
    assert f'value="{opportunity.pk}" selected' in html

    response = client.post(
        f"{NEW}?account={account.pk}&opportunity={opportunity.pk}",
        form_data(account, opportunity=opportunity.pk, opt_out_outreach="on"),
        follow=True,
    )
    request = EngagementRequest.objects.get()
    assert response.redirect_chain == [(request.get_absolute_url(), 302)]
    assert (request.filed_by, request.opportunity, request.opt_out_outreach) == (ae, opportunity, True)
    assert request.interventions == ["onboarding", "license_utilization"]
    text = response.content.decode()
    assert "next batch, which runs every 4 hours from 00:30" in text
    assert "Not raised yet" in text


def test_a_non_owner_is_told_why_and_refused(book, team, client_as):
    account = book()
    client = login(team["cse"])
    page = client.get(f"{NEW}?account={account.pk}")
    assert page.status_code == 200
    html = page.content.decode()
    assert "You cannot file this request" in html and "Avery Owner" in html
    assert "File the request" not in html  # no form to fill in vain
    response = client.post(f"{NEW}?account={account.pk}", form_data(account))
    assert response.status_code == 403
    assert "Only the account owner (AE, SAE or Renewals Manager)" in response.content.decode()
    assert not EngagementRequest.objects.exists()


def test_an_ineligible_account_shows_the_failed_condition(book, ae, team):
    account = book(csm=team["csm"], arr=Decimal("1000"))
    html = login(ae).get(f"{NEW}?account={account.pk}").content.decode()
    assert html.count("✗ not met") == 2
    assert "under the minimum of 30,000.00" in html and "not the tam-scale pool" in html
    assert "File the request" not in html


def test_1001_characters_are_refused_with_the_field_named_and_nothing_written(book, ae):
    account = book()
    client = login(ae)
    response = client.post(f"{NEW}?account={account.pk}", form_data(account, challenges="x" * 1001))
    assert response.status_code == 400
    html = response.content.decode()
    assert "Challenges / pain points: At most 1,000 characters (1,001 given); nothing was cut" in html
    assert 'href="#id_challenges">Challenges / pain points</a>' in html
    assert "x" * 1001 in html  # what was typed comes back, whole
    assert not EngagementRequest.objects.exists()
    # Line breaks count once, as the browser's maxlength counted them.
    text = "y" * 998 + "\r\n" + "z"
    assert client.post(f"{NEW}?account={account.pk}", form_data(account, challenges=text)).status_code == 302
    assert len(EngagementRequest.objects.get().challenges) == 1000


def test_missing_fields_are_named(book, ae):
    account = book()
    response = login(ae).post(
        f"{NEW}?account={account.pk}", form_data(account, interventions=[], environment="", topic=" ")
    )
    assert response.status_code == 400
    html = response.content.decode()
    for label in ("Interventions needed", "Environment", "Topic"):
        assert f"{label}: This field is required." in html
    assert not EngagementRequest.objects.exists()


def test_above_the_range_asks_for_the_approver(book, ae, users):
    account = book(arr=Decimal("150000.01"))
    client = login(ae)
    html = client.get(f"{NEW}?account={account.pk}").content.decode()
    assert "approval needed" in html and 'name="approved_by"' in html
    response = client.post(f"{NEW}?account={account.pk}", form_data(account))
    assert "Approved by (regional sales leader): This field is required." in response.content.decode()
    response = client.post(
        f"{NEW}?account={account.pk}",
        form_data(account, approved_by=users["viewer"].pk, approval_note="Expansion"),
    )
    assert response.status_code == 302
    assert EngagementRequest.objects.get().approved_by == users["viewer"]


def test_the_account_page_offers_cse_help_to_its_owners_only(book, ae, team):
    account = book()
    Opportunity.objects.create(
        external_id="O-2", account=account, name="Expansion", type="renewal",
        close_date=dt.date(2027, 1, 31), stage="Discovery",
    )
    filed(account)
    html = login(ae).get(account.get_absolute_url()).content.decode()
    assert f'href="{NEW}?account={account.pk}">CSE Help</a>' in html
    assert "CSE Help for Expansion" in html
    assert "CSE engagement requests" in html and "CI pipelines for the mobile team" in html
    other = login(team["csm"]).get(account.get_absolute_url()).content.decode()
    assert ">CSE Help</a>" not in other
    assert "CI pipelines for the mobile team" in other  # the related list is for everyone


# --- a request and the CSE's work ------------------------------------------------------------------------


def test_the_cse_logs_the_call_sends_the_follow_up_and_records_questions(book, team, smtp_server):
    account = book()
    request = converted(account)
    cse = login(team["cse"])
    url = request.get_absolute_url()
    page = cse.get(url).content.decode()
    assert request.cta.name in page and "Log the call" in page
    assert "Log the call first" in page  # no follow-up form before the call

    today = actions.business_today()
    response = cse.post(reverse("engagements:log_call", args=[request.pk]),
                        {"call-date": today.isoformat(), "call-notes": "Went through CI."}, follow=True)
    assert "Call logged on the timeline" in response.content.decode()
    request.refresh_from_db()
    assert request.status == RequestStatus.CALLED and request.called_on == today
    assert 'name="fu-deploy_survey" id="id_fu-deploy_survey" checked' in response.content.decode()

    # The follow-up needs its three parts, each named when missing.
    response = cse.post(reverse("engagements:send_follow_up", args=[request.pk]),
                        {"fu-contacts": [request.contact_id], "fu-summary": "Covered CI."})
    assert response.status_code == 400
    assert "Action items: This field is required." in response.content.decode()
    response = cse.post(
        reverse("engagements:send_follow_up", args=[request.pk]),
        {"fu-contacts": [request.contact_id], "fu-summary": "Covered CI.", "fu-action_items": "Try caching.",
         "fu-resources": "https://docs.example.com/ci", "fu-deploy_survey": "on"},
        follow=True,
    )
    assert "with the CSE engagement CSAT survey" in response.content.decode()
    request.refresh_from_db()
    assert request.status == RequestStatus.FOLLOWED_UP
    assert "Done on time" in response.content.decode()

    # A question on the topic is a follow-up due in one business day.
    response = cse.post(reverse("engagements:record_question", args=[request.pk]),
                        {"q-asked_on": today.isoformat(), "q-question": "And for tags?"}, follow=True)
    assert "Question recorded: the answer is due by" in response.content.decode()
    answer = FollowUp.objects.get(kind="answer")
    response = cse.post(reverse("engagements:answer_question", args=[answer.pk]), follow=True)
    assert "Marked answered." in response.content.decode()

    # A new topic opens a new request, and the CSE is taken to it.
    response = cse.post(reverse("engagements:record_question", args=[request.pk]),
                        {"q-asked_on": today.isoformat(), "q-question": "Security scans?",
                         "q-topic": "Security scanning"}, follow=True)
    new = EngagementRequest.objects.get(continues=request)
    assert response.redirect_chain[-1][0] == new.get_absolute_url()
    html = response.content.decode()
    assert f"opened request #{new.pk}, continuing #{request.pk}" in html
    assert f"#{request.pk} CI pipelines for the mobile team" in html  # the "Continues" link


def test_refusals_of_the_work_come_back_on_the_form(book, team):
    account = book()
    request = filed(account)
    cse = login(team["cse"])
    # No CTA yet: the call cannot be logged; the page says why and writes nothing.
    response = cse.post(reverse("engagements:log_call", args=[request.pk]),
                        {"call-date": actions.business_today().isoformat()})
    assert response.status_code == 400
    assert "This request has no CTA yet" in response.content.decode()
    actions.convert_requests()
    future = actions.business_today() + dt.timedelta(days=3)
    response = cse.post(reverse("engagements:log_call", args=[request.pk]), {"call-date": future.isoformat()})
    assert "Date of the call: A call is logged once it has happened" in response.content.decode()


def test_only_cta_workers_work_a_request_and_close_reopen(book, team, ae):
    account = book()
    request = converted(account)
    owner = login(ae)
    assert owner.post(reverse("engagements:close_request", args=[request.pk])).status_code == 403
    assert "Log the call" not in owner.get(request.get_absolute_url()).content.decode()
    cse = login(team["cse"])
    cse.post(reverse("engagements:close_request", args=[request.pk]))
    request.refresh_from_db()
    assert request.status == RequestStatus.CLOSED
    cse.post(reverse("engagements:reopen_request", args=[request.pk]))
    request.refresh_from_db()
    assert request.status == RequestStatus.OPEN


def test_the_cta_page_links_to_the_work(book, team):
    account = book()
    request = converted(account)
    html = login(team["cse"]).get(request.cta.get_absolute_url()).content.decode()
    for anchor, text in (("call", "Log the call"), ("follow-up", "Send the follow-up"),
                         ("question", "Record a question")):
        assert f'href="{request.get_absolute_url()}#{anchor}">{text}</a>' in html
    manual = raise_manual_cta(account, actor=team["cse"], type=request.cta.type, reason=request.cta.reason,
                              owner=team["cse"])
    html = login(team["cse"]).get(manual.get_absolute_url()).content.decode()
    assert "CSE engagement request #" not in html


# --- the list and the dashboard -----------------------------------------------------------------------------


def test_the_list_filters_sorts_exports_and_its_queries_are_pinned(
    book, team, django_assert_num_queries
):
    accounts = [book() for _ in range(3)]
    for account in accounts:
        filed(account)
    actions.convert_requests()
    late = EngagementRequest.objects.order_by("pk").first()
    actions.log_call(late, actor=team["cse"], date=actions.business_today() - dt.timedelta(days=10))
    client = login(team["cse"])
    url = reverse("engagements:request_list")

    # Session, user, count, page rows, the CSE filter's choices: the same for 3 rows or 6.
    with django_assert_num_queries(5):
        response = client.get(url)
    assert response.status_code == 200
    for account in accounts:
        filed(account, topic="Second topic")
    with django_assert_num_queries(5):
        assert client.get(url).status_code == 200

    html = client.get(f"{url}?overdue=true").content.decode()
    assert "<small>1</small>" in html and f">{late.pk}</a>" in html
    assert "<small>3</small>" in client.get(f"{url}?status=filed").content.decode()
    assert "<small>3</small>" in client.get(f"{url}?q=second").content.decode()
    assert client.get(f"{url}?cse={team['cse'].username}").status_code == 200
    sorted_page = client.get(f"{url}?sort=account__name").content.decode()
    assert 'aria-sort="ascending"' in sorted_page
    export = client.get(f"{url}?export=csv&status=open&status=called")
    lines = b"".join(export.streaming_content).decode().splitlines()
    assert lines[0].startswith("#,Topic,Account,Status,CSE") and len(lines) == 4


def test_the_dashboard_counts_only_suffixed_ctas(book, team):
    client = login(team["cse"])
    url = reverse("engagements:dashboard")
    empty = client.get(url).content.decode()
    assert "No counted request yet." in empty and "No follow-up is overdue." in empty
    assert "No open escalation." in empty and "No answer to the “CSE engagement CSAT” survey yet." in empty

    requests = [converted(book()) for _ in range(3)]
    actions.log_call(requests[0], actor=team["cse"], date=actions.business_today() - dt.timedelta(days=10))
    Cta.objects.filter(pk=requests[2].cta_id).update(name="Renamed without the suffix")
    filed(book())
    html = client.get(url).content.decode()
    assert f"ends with “{NAME_SUFFIX}”" in html
    assert "(1 such request)" in html and "1 request filed but not yet converted" in html
    assert "<svg" in html and "Requests by status: Filed 0, Open 1, Call held 1" in html
    assert '<td class="num" id="open-overdue">1</td>' in html
    assert f"#{requests[0].pk} CI pipelines" in html  # listed among the overdue, with its CSE
    assert "h</dd>" in html  # a median time to the CTA
    assert client.get(f"{url}?cse={team['cse'].username}").status_code == 200
