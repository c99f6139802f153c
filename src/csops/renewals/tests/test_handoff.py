"""The Sales→CS handoff: opened once per won New or Growth deal with an onboarding CTA, filled by
the AE, who is reminded of the missing fields once a day."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.test import Client

from csops.cockpit.models import Cta
from csops.core.models import Role, User
from csops.customers.models import Opportunity
from csops.programs.models import OutboxMessage
from csops.renewals import handoff
from csops.renewals.models import Handoff
from csops.rules.tests.conftest import contact_for, make_account, team  # noqa: F401

TODAY = dt.date(2026, 12, 1)
_numbers = iter(range(1, 10_000))


@pytest.fixture
def ae(db) -> User:
    return User.objects.create_user(username="ae1", password="pw-for-tests", email="ae1@example.com",
                                    role=Role.ACCOUNT_OWNER, first_name="Alex", last_name="Ae")


@pytest.fixture
def deal(make_account, ae):  # noqa: F811
    def make(type="new", stage="Closed Won", forecast="closed", close=TODAY - dt.timedelta(days=2),
             **account):
        acct = make_account(ae=ae, **account)
        return Opportunity.objects.create(
            external_id=f"O-{next(_numbers)}", account=acct, name=f"{acct.name} - deal", type=type,
            net_arr=Decimal("50000"), close_date=close, stage=stage, forecast_category=forecast,
        )

    return make


def test_a_won_new_deal_opens_one_handoff_and_one_onboarding_cta(deal, team):  # noqa: F811
    opp = deal()
    assert handoff.open_handoffs(TODAY) == 1
    assert handoff.open_handoffs(TODAY) == 0
    h = Handoff.objects.get()
    assert h.opportunity == opp and h.account == opp.account
    ctas = Cta.objects.filter(account=opp.account)
    assert ctas.count() == 1
    cta = ctas.get()
    assert h.cta == cta
    assert (cta.type.name, cta.reason.name) == ("Lifecycle", "New Customer Onboarding")
    assert cta.owner == team["csm"]
    assert cta.playbook is not None and cta.tasks.exists()


def test_a_growth_deal_on_a_pooled_account_goes_to_the_pool(deal, team):  # noqa: F811
    deal(type="add_on", csm=team["pool"])
    handoff.open_handoffs(TODAY)
    assert Handoff.objects.get().cta.owner == team["pool"]


@pytest.mark.parametrize(
    "fields",
    [
        {"stage": "Closed Lost", "forecast": "omitted"},
        {"type": "renewal"},
        {"stage": "Proposal", "forecast": "best_case"},
        {"close": TODAY + dt.timedelta(days=3), "stage": "Negotiating", "forecast": "commit"},
        {"close": TODAY - dt.timedelta(days=400)},  # long past onboarding
    ],
)
def test_lost_renewal_open_and_old_deals_open_none(deal, fields):
    deal(**fields)
    assert handoff.open_handoffs(TODAY) == 0
    assert not Handoff.objects.exists() and not Cta.objects.exists()


def test_missing_fields_and_completion(deal, contact_for, ae):  # noqa: F811
    opp = deal()
    handoff.open_handoffs(TODAY)
    h = Handoff.objects.get()
    assert handoff.missing_fields(h) == list(handoff.REQUIRED.values())
    contact = contact_for(opp.account, "GitLab Admin")
    handoff.update_handoff(h, actor=ae, why_they_bought="Consolidate toolchain", key_contacts=[contact],
                           primary_use_case="CI")
    assert handoff.missing_fields(h) == ["Value driver", "Risks", "Recommended features"]
    assert h.completed_at is None
    handoff.update_handoff(h, actor=ae, value_driver="Faster releases", risks="Champion leaving",
                           recommended_features="Merge trains")
    h.refresh_from_db()
    assert handoff.missing_fields(h) == [] and h.completed_at is not None
    handoff.update_handoff(h, actor=ae, risks="")
    h.refresh_from_db()
    assert handoff.missing_fields(h) == ["Risks"] and h.completed_at is None


def test_key_contacts_must_belong_to_the_account(deal, make_account, contact_for, ae):  # noqa: F811
    deal()
    handoff.open_handoffs(TODAY)
    other = contact_for(make_account(), "GitLab Admin")
    with pytest.raises(Exception, match="Key contacts"):
        handoff.update_handoff(Handoff.objects.get(), actor=ae, key_contacts=[other])


def test_the_ae_is_emailed_once_a_day_through_the_outbox(deal, ae):
    deal()
    deal(type="add_on")
    handoff.open_handoffs(TODAY)
    assert handoff.remind_aes(TODAY) == 1
    assert handoff.remind_aes(TODAY) == 0
    message = OutboxMessage.objects.get()
    assert message.to == ae.email
    assert "2 Sales→CS handoffs" in message.text and "Why they bought" in message.text
    assert handoff.remind_aes(TODAY + dt.timedelta(days=1)) == 1


def test_a_complete_handoff_sends_no_email(deal, contact_for, ae):  # noqa: F811
    opp = deal()
    handoff.open_handoffs(TODAY)
    handoff.update_handoff(
        Handoff.objects.get(), actor=ae, why_they_bought="a", primary_use_case="b", value_driver="c",
        key_contacts=[contact_for(opp.account, "GitLab Admin")], risks="d", recommended_features="e",
    )
    assert handoff.remind_aes(TODAY) == 0


def _client(user):
    client = Client()
    client.force_login(user)
    return client


def test_the_list_filters_by_missing_field_ae_and_segment(deal, ae, client_as):
    deal()
    handoff.open_handoffs(TODAY)
    h = Handoff.objects.get()
    handoff.update_handoff(h, actor=ae, risks="Budget")
    client = client_as("viewer")
    assert h.opportunity.name in client.get("/renewals/handoffs/?missing=any").content.decode()
    assert h.opportunity.name in client.get("/renewals/handoffs/?missing=why_they_bought").content.decode()
    assert h.opportunity.name not in client.get("/renewals/handoffs/?missing=risks").content.decode()
    assert h.opportunity.name in client.get(f"/renewals/handoffs/?ae={ae.pk}").content.decode()
    segment = h.account.segment_id
    assert h.opportunity.name in client.get(f"/renewals/handoffs/?segment={segment}").content.decode()


def test_the_ae_fills_the_handoff_from_its_page(deal, ae, contact_for):  # noqa: F811
    opp = deal()
    handoff.open_handoffs(TODAY)
    h = Handoff.objects.get()
    contact = contact_for(opp.account, "GitLab Admin")
    client = _client(ae)
    page = client.get(h.get_absolute_url())
    assert page.status_code == 200 and "Fill the handoff" in page.content.decode()
    response = client.post(h.get_absolute_url(), {
        "why_they_bought": "Consolidation", "primary_use_case": "CI", "value_driver": "Speed",
        "key_contacts": [contact.pk], "risks": "None known", "recommended_features": "Pipelines",
    })
    assert response.status_code == 302
    h.refresh_from_db()
    assert h.completed_at is not None and list(h.key_contacts.all()) == [contact]


def test_bad_input_names_the_field(deal, ae, make_account, contact_for):  # noqa: F811
    deal()
    handoff.open_handoffs(TODAY)
    h = Handoff.objects.get()
    client = _client(ae)
    response = client.post(h.get_absolute_url(), {"primary_use_case": "x" * 300})
    assert response.status_code == 400
    assert "Primary use case: Ensure this value has at most 200 characters" in response.content.decode()
    stranger = contact_for(make_account(), "GitLab Admin")
    response = client.post(h.get_absolute_url(), {"key_contacts": [stranger.pk]})
    assert response.status_code == 400
    assert "Key contacts: Select a valid choice" in response.content.decode()
    h.refresh_from_db()
    assert h.primary_use_case == "" and not h.key_contacts.exists()


def test_permissions(deal, client_as):
    deal()
    handoff.open_handoffs(TODAY)
    h = Handoff.objects.get()
    viewer, csm = client_as("viewer"), client_as("csm")
    assert viewer.get("/renewals/handoffs/").status_code == 200
    page = csm.get(h.get_absolute_url())
    assert page.status_code == 200 and "Fill the handoff" not in page.content.decode()
    assert csm.post(h.get_absolute_url(), {"risks": "x"}).status_code == 403
    assert viewer.post(h.get_absolute_url(), {"risks": "x"}).status_code == 403
    assert client_as("admin").post(h.get_absolute_url(), {"risks": "x"}).status_code == 302
    h.refresh_from_db()
    assert h.risks == "x"


def test_the_account_page_links_the_handoff(deal, client_as):
    opp = deal()
    handoff.open_handoffs(TODAY)
    h = Handoff.objects.get()
    page = client_as("viewer").get(opp.account.get_absolute_url()).content.decode()
    assert f'href="{h.get_absolute_url()}"' in page
