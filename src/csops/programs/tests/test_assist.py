"""Email assist from a CTA's page: the email reaches a real SMTP server on loopback with its merge
fields (and, when deployed, a survey link that works), lands on the timeline, goes once."""

from __future__ import annotations

import email
import email.policy
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from csops.cockpit.actions import create_cta
from csops.cockpit.models import CtaReason
from csops.core.models import AuditEntry, Role, User
from csops.customers.models import Account, Contact, Geo, Segment
from csops.programs.assist import FOLLOW_UP_TEMPLATE, message_key, send_assist_email
from csops.programs.models import (
    CseAssignment,
    EmailTemplate,
    OutboxMessage,
    SurveyInvitation,
    SurveyResponse,
    TrackingEvent,
)
from csops.programs.outbox import deliver
from csops.timeline.models import Activity

CALENDLY = "https://calendly.com/casey-engineer/30min"


@pytest.fixture
def engagement(users):
    """A Scale account with three contacts (one opted out), its CSE, and a CTA owned by the CSE."""
    scale, amer = Segment.objects.get(name="Scale"), Geo.objects.get(name="AMER")
    cse = User.objects.create(
        username="casey", first_name="Casey", last_name="Engineer", email="casey@ours.example", role=Role.CSM
    )
    CseAssignment.objects.update_or_create(
        segment=scale, geo=amer, defaults={"name": "Scale AMER", "cse": cse, "calendly_url": CALENDLY}
    )
    account = Account.objects.create(
        external_id="A-7", name="Acme Rockets", segment=scale, geo=amer, csm=users["pool"], cse=cse
    )
    people = {
        name: Contact.objects.create(
            external_id=f"C-{name}",
            account=account,
            first_name=name.title(),
            last_name="Lovelace",
            email=f"{name}@acme.example",
            email_opt_out=opted,
        )
        for name, opted in (("ada", False), ("bob", False), ("eve", True))
    }
    other = Account.objects.create(external_id="A-8", name="Other Corp", segment=scale, geo=amer)
    stranger = Contact.objects.create(
        external_id="C-x", account=other, first_name="Sam", last_name="Stranger", email="sam@other.example"
    )
    reason = CtaReason.objects.get(type__name="Digital Journey", name="One-Off CSE Outreach")
    cta, _ = create_cta(
        account,
        actor=None,
        type=reason.type,
        reason=reason,
        owner=cse,
        name="Acme Rockets - Ad-Hoc CSE Engagement Request",
    )
    return {"cta": cta, "cse": cse, "stranger": stranger, **people}


def follow_up() -> EmailTemplate:
    return EmailTemplate.objects.get(name=FOLLOW_UP_TEMPLATE)


def received(inbox) -> dict[str, email.message.EmailMessage]:
    return {
        message["To"]: message
        for message in (
            email.message_from_string(raw, policy=email.policy.default) for _, raw in inbox.messages
        )
    }


def test_the_follow_up_template_is_configured_and_checked(config):
    template = follow_up()
    template.full_clean()  # merge fields and tags are checked
    assert "{% if survey_link %}" in template.text and "{{ survey_link }}" in template.text
    for section in ("Summary", "Action items", "Resources"):
        assert f"\n{section}\n" in template.text


def test_a_csm_sends_the_follow_up_from_the_cta_page(engagement, smtp_server, client_as, users):
    cta, ada, bob = engagement["cta"], engagement["ada"], engagement["bob"]
    client = client_as("csm")
    page = client.get(f"/cockpit/ctas/{cta.pk}/").content.decode()
    assert f'<option value="{follow_up().pk}" selected>{FOLLOW_UP_TEMPLATE}</option>' in page
    assert f'value="{engagement["eve"].pk}" id="assist-contact-{engagement["eve"].pk}" disabled>' in page
    assert "(opted out of emails)" in page and "Casey Engineer (the CTA's owner) is copied" in page

    response = client.post(
        f"/cockpit/ctas/{cta.pk}/assist/",
        {"template": follow_up().pk, "contacts": [ada.pk, bob.pk]},
        follow=True,
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "Email queued to Ada Lovelace, Bob Lovelace; logged on the timeline." in html
    assert deliver().sent == 2
    mail = received(smtp_server)
    assert set(mail) == {"ada@acme.example", "bob@acme.example"}
    recipients = sorted(r for rs, _ in smtp_server.messages for r in rs)
    assert recipients == ["ada@acme.example", "bob@acme.example", "casey@ours.example", "casey@ours.example"]
    to_ada = mail["ada@acme.example"]
    assert to_ada["Subject"] == "Following up on our session with Acme Rockets"
    assert to_ada["Cc"] == "casey@ours.example" and to_ada["Reply-To"] == "csm@example.com"
    text = to_ada.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert text.startswith("Hello Ada,") and "recommendations that fit Acme Rockets best" in text
    assert "Summary\n" in text and "Action items\n" in text and "Resources\n" in text
    assert "How did the session go?" not in text  # no survey deployed
    assert f"\n\n{users['csm']}\n" in text  # signed by who sent it
    calendly = text.split("Time for another session: ")[1].split()[0]
    assert client.get(urlsplit(calendly).path)["Location"] == CALENDLY
    message = OutboxMessage.objects.get(to="ada@acme.example")
    assert (message.kind, message.cta_id, message.contact_id, message.key) == (
        "assist",
        cta.pk,
        ada.pk,
        message_key(cta, follow_up(), ada),
    )
    assert TrackingEvent.objects.get(message=message).link == "calendly"

    activity = Activity.objects.get(cta=cta)
    assert (
        activity.type.name == "Email" and activity.subject == "Following up on our session with Acme Rockets"
    )
    assert set(activity.external_attendees.all()) == {ada, bob}
    assert activity.author.username == "csm-user"
    timeline = client.get(cta.account.get_absolute_url()).content.decode()
    assert "Following up on our session with Acme Rockets" in timeline
    assert AuditEntry.objects.filter(content_type__model="outboxmessage", verb="create").count() == 2

    # The same post again (a double click, a retry): nothing more is sent or logged.
    again = client.post(
        f"/cockpit/ctas/{cta.pk}/assist/",
        {"template": follow_up().pk, "contacts": [ada.pk, bob.pk], "deploy_survey": "1"},
        follow=True,
    )
    assert "Nothing sent: each of them has had this email from this CTA already." in again.content.decode()
    assert OutboxMessage.objects.count() == 2 and Activity.objects.filter(cta=cta).count() == 1
    assert deliver().sent == 0 and len(smtp_server.messages) == 2
    page = client.get(f"/cockpit/ctas/{cta.pk}/").content.decode()
    assert page.count(f'href="/programs/outbox/{message.pk}/"') == 1  # the CTA's emails


def test_deploying_the_survey_puts_a_working_link_in_the_follow_up(engagement, smtp_server, client):
    cta, ada, cse = engagement["cta"], engagement["ada"], engagement["cse"]
    result = send_assist_email(cta, actor=cse, template=follow_up(), contacts=[ada], deploy_survey=True)
    assert [c.pk for c in result.queued] == [ada.pk] and result.surveyed
    assert deliver().sent == 1
    ((recipients, raw),) = smtp_server.messages
    assert sorted(recipients) == ["ada@acme.example", "casey@ours.example"]  # the owner in copy
    mail = email.message_from_string(raw, policy=email.policy.default)
    assert mail["Cc"] == "casey@ours.example" and mail["Reply-To"] == "casey@ours.example"
    text = mail.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert text.startswith("Hello Ada,") and "How did the session go? One click tells us:" in text
    invitation = SurveyInvitation.objects.get(contact=ada)
    message = OutboxMessage.objects.get()
    assert invitation.survey.name == "CSE engagement CSAT" and invitation.message_id == message.pk
    assert (message.kind, message.cta_id, message.key) == (
        "assist",
        cta.pk,
        f"survey:{message_key(cta, follow_up(), ada)}",
    )

    link = text.split("One click tells us:")[1].split()[0]
    assert link.startswith(settings.CSOPS_BASE_URL + "/t/")
    survey_page = client.get(urlsplit(link).path)
    assert survey_page.status_code == 302 and "/s/" in survey_page["Location"]
    assert TrackingEvent.objects.get(message=message).link == "survey"
    form = client.get(urlsplit(survey_page["Location"]).path)
    assert form.status_code == 200 and "session with our Customer Success Engineer" in form.content.decode()
    assert (
        client.post(urlsplit(survey_page["Location"]).path, {"score": "5", "comment": "Great"}).status_code
        == 200
    )
    response = SurveyResponse.objects.get()
    assert (response.contact, response.score, response.category) == (ada, 5, "satisfied")

    activity = Activity.objects.get(cta=cta)
    assert "with the CSE engagement CSAT survey" in activity.notes
    # Once per CTA, template and contact, with the survey or without it.
    again = send_assist_email(cta, actor=cse, template=follow_up(), contacts=[ada], deploy_survey=False)
    assert again.queued == [] and [c.pk for c in again.already] == [ada.pk]
    assert OutboxMessage.objects.count() == 1 and SurveyInvitation.objects.count() == 1


@pytest.mark.parametrize(
    ("post", "error"),
    [
        (lambda e: {"template": follow_up().pk}, "Recipients: Choose at least one contact to email."),
        (
            lambda e: {"template": follow_up().pk, "contacts": [e["ada"].pk, e["stranger"].pk]},
            "Recipients: Sam Stranger is not a contact of Acme Rockets.",
        ),
        (
            lambda e: {"template": follow_up().pk, "contacts": [e["eve"].pk]},
            "Recipients: Eve Lovelace has opted out of emails.",
        ),
        (lambda e: {"contacts": [e["ada"].pk]}, "Template: Choose an email template."),
        (
            lambda e: {"template": "x", "contacts": [e["ada"].pk]},
            "Template: There is no email template &#x27;x&#x27;.",
        ),
        (
            lambda e: {"template": follow_up().pk, "contacts": ["999999"]},
            "Recipients: There is no contact 999999.",
        ),
        (
            lambda e: {
                "template": EmailTemplate.objects.get(name="CI product coach").pk,
                "contacts": [e["ada"].pk],
                "deploy_survey": "1",
            },
            "Survey: The template &#x27;CI product coach&#x27; has no {{ survey_link }} for the survey",
        ),
    ],
    ids=[
        "no contact",
        "another account's",
        "opted out",
        "no template",
        "bad template",
        "unknown contact",
        "survey without a link",
    ],
)
def test_bad_input_is_refused_with_the_field_named_and_nothing_written(engagement, client_as, post, error):
    cta = engagement["cta"]
    audits = AuditEntry.objects.count()
    response = client_as("csm").post(f"/cockpit/ctas/{cta.pk}/assist/", post(engagement))
    assert response.status_code == 400
    assert error in response.content.decode()
    assert "<details open><summary>Send an email</summary>" in response.content.decode()
    assert not OutboxMessage.objects.exists() and not SurveyInvitation.objects.exists()
    assert not Activity.objects.exists() and AuditEntry.objects.count() == audits


def test_who_may_send(engagement, client_as):
    cta, ada = engagement["cta"], engagement["ada"]
    for role in ("viewer", "account_owner"):
        client = client_as(role)
        assert "Send an email" not in client.get(f"/cockpit/ctas/{cta.pk}/").content.decode()
        post = client.post(
            f"/cockpit/ctas/{cta.pk}/assist/", {"template": follow_up().pk, "contacts": [ada.pk]}
        )
        assert post.status_code == 403
    assert not OutboxMessage.objects.exists()
    assert client_as("csm").post("/cockpit/ctas/999999/assist/", {}).status_code == 404
    assert client_as("csm").get(f"/cockpit/ctas/{cta.pk}/assist/").status_code == 405


def test_the_cta_page_costs_a_fixed_number_of_queries(engagement, client_as):
    cta = engagement["cta"]
    client = client_as("csm")
    client.post(
        f"/cockpit/ctas/{cta.pk}/assist/", {"template": follow_up().pk, "contacts": [engagement["ada"].pk]}
    )
    with CaptureQueriesContext(connection) as before:
        client.get(f"/cockpit/ctas/{cta.pk}/")
    for n in range(5):
        Contact.objects.create(
            external_id=f"C-more-{n}",
            account=cta.account,
            last_name=f"More {n}",
            email=f"more{n}@acme.example",
        )
    client.post(
        f"/cockpit/ctas/{cta.pk}/assist/", {"template": follow_up().pk, "contacts": [engagement["bob"].pk]}
    )
    with CaptureQueriesContext(connection) as after:
        client.get(f"/cockpit/ctas/{cta.pk}/")
    assert len(after) == len(before), "\n".join(q["sql"] for q in after)
