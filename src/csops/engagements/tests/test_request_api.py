"""The engagement request API: filing, the CSE's work, and refusals as 422s naming the field."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.test import Client

from csops.core.models import Role, User
from csops.customers.models import Segment
from csops.engagements import actions
from csops.engagements.models import EngagementRequest, RequestStatus

JSON = "application/json"
URL = "/api/v1/engagement-requests"


@pytest.fixture
def ae(users) -> User:
    return User.objects.create_user(
        username="ae-api", email="ae-api@example.com", role=Role.ACCOUNT_OWNER, password="pw-for-tests"
    )


@pytest.fixture
def account(make_account, contact_for, team, ae):
    account = make_account(
        segment=Segment.objects.get(name="Scale"), arr=Decimal("60000"), csm=team["pool"], cse=None, ae=ae
    )
    contact_for(account, "GitLab Admin", first_name="Ada")
    return account


def login(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def body(on, **fields) -> dict:
    return {
        "account": on.external_id,
        "contact": on.contacts.first().email,
        "topic": "CI pipelines",
        "interventions": ["onboarding"],
        "primary_use_case": "ci",
        "risk_type": "none",
        "environment": "saas",
        **fields,
    }


def test_the_owner_files_and_reads_it_back(account, ae):
    api = login(ae)
    response = api.post(URL, content_type=JSON, data=body(account, priority="high", challenges="x" * 1000))
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["status"] == "filed" and created["cta_id"] is None and created["filed_by"] == "ae-api"
    assert created["priority"] == "high" and created["follow_ups"] == []
    assert api.get(f"{URL}/{created['id']}").json()["topic"] == "CI pipelines"
    listed = api.get(f"{URL}?status=filed&limit=10").json()
    assert listed["count"] == 1 and listed["items"][0]["id"] == created["id"]
    assert api.get(f"{URL}/999999").status_code == 404


@pytest.mark.parametrize(
    ("change", "field", "fragment"),
    [
        ({"challenges": "x" * 1001}, "challenges", "At most 1,000 characters (1,001 given)"),
        ({"interventions": []}, "interventions", "Choose at least one intervention"),
        ({"interventions": ["magic"]}, "interventions", "Unknown intervention 'magic'"),
        ({"environment": "mainframe"}, "environment", "not 'mainframe'"),
        ({"contact": "nobody@nowhere"}, "contact", "is not a contact"),
        ({"account": "NOPE"}, "account", "unknown account 'NOPE'"),
        ({"opportunity": "NOPE"}, "opportunity", "is not an opportunity"),
        ({"approved_by": "nobody@nowhere"}, "approved_by", "unknown user"),
    ],
)
def test_refusals_are_422s_naming_the_field_and_write_nothing(account, ae, change, field, fragment):
    response = login(ae).post(URL, content_type=JSON, data=body(account, **change))
    assert response.status_code == 422, response.content
    detail = response.json()["detail"]
    assert any(error["loc"] == [field] and fragment in error["msg"] for error in detail), detail
    assert not EngagementRequest.objects.exists()


def test_unknown_fields_and_an_ineligible_account_are_422s(account, ae, team):
    api = login(ae)
    assert api.post(URL, content_type=JSON, data=body(account, colour="red")).status_code == 422
    account.csm = team["csm"]
    account.save()
    detail = api.post(URL, content_type=JSON, data=body(account)).json()["detail"]
    assert detail[0]["loc"] == ["csm"] and "not the tam-scale pool" in detail[0]["msg"]


def test_only_the_owner_files(account, team, users):
    response = login(users["admin"]).post(URL, content_type=JSON, data=body(account))
    assert response.status_code == 403
    assert "Only the account owner" in response.json()["detail"]
    assert not EngagementRequest.objects.exists()


def test_the_cse_works_it_through_the_api(account, ae, team, smtp_server):
    created = login(ae).post(URL, content_type=JSON, data=body(account)).json()
    actions.convert_requests()
    cse = team["cse"]
    api = login(cse)
    today = actions.business_today().isoformat()
    base = f"{URL}/{created['id']}"

    early = api.post(f"{base}/follow-up", content_type=JSON,
                     data={"contacts": [account.contacts.first().email], "summary": "s", "action_items": "a",
                           "resources": "r"})
    assert early.status_code == 422 and early.json()["detail"][0]["loc"] == ["request"]

    called = api.post(f"{base}/call", content_type=JSON, data={"date": today, "notes": "Good call."})
    assert called.status_code == 201, called.content
    assert called.json()["status"] == RequestStatus.CALLED
    assert called.json()["follow_ups"][0]["kind"] == "email"

    missing = api.post(f"{base}/follow-up", content_type=JSON,
                       data={"contacts": [account.contacts.first().email], "summary": "s",
                             "action_items": " ", "resources": "r"})
    assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == ["action_items"]
    sent = api.post(f"{base}/follow-up", content_type=JSON,
                    data={"contacts": [account.contacts.first().external_id], "summary": "s",
                          "action_items": "a", "resources": "r"})
    assert sent.status_code == 201, sent.content
    assert sent.json()["surveyed"] is True and sent.json()["request"]["status"] == "followed_up"

    question = api.post(f"{base}/questions", content_type=JSON, data={"asked_on": today, "question": "Tags?"})
    assert question.status_code == 201 and question.json()["new_request"] is False
    assert question.json()["follow_up"]["kind"] == "answer"
    new = api.post(f"{base}/questions", content_type=JSON,
                   data={"asked_on": today, "question": "Scans?", "topic": "Security"})
    assert new.status_code == 201 and new.json()["new_request"] is True
    assert new.json()["request"]["continues_id"] == created["id"]

    future = (actions.business_today() + dt.timedelta(days=5)).isoformat()
    refused = api.post(f"{base}/call", content_type=JSON, data={"date": future})
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["date"]
    assert login(ae).post(f"{base}/call", content_type=JSON, data={"date": today}).status_code == 403
