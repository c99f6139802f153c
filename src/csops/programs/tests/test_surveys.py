"""Surveys end to end: invitations emailed through a real SMTP server, the link in the email
opening the public page, answers stored once (even racing), refusals, the CTAs rules raise from
answers, the results dashboard and Account 360."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import hashlib
import re
import threading
from urllib.parse import urlsplit

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from csops.cockpit.models import Cta
from csops.core.models import AuditEntry
from csops.customers.models import Account, Contact, Segment
from csops.programs import outbox, surveys
from csops.programs.models import (
    Enrolment,
    OutboxMessage,
    Program,
    Survey,
    SurveyInvitation,
    SurveyResponse,
)
from csops.rules import features
from csops.rules.actions import evaluate_pending
from csops.rules.models import PendingEvaluation, Rule

SURVEY_LINK = re.compile(r"https?://\S+/t/[^/\s]+/")


_numbers = iter(range(1, 10_000))


def in_segment(name: str) -> dict:
    return {"segment": Segment.objects.get(name=name)}


@pytest.fixture
def make_contact():
    def make(account: Account, first_name: str = "Ada", **fields) -> Contact:
        number = next(_numbers)
        values = {"email": f"{first_name.lower()}.{number}@customer.example", **fields}
        return Contact.objects.create(
            external_id=f"SVC-{number}", account=account, first_name=first_name, last_name="Admin", **values
        )

    return make


def row(contact: Contact, key: str | None = None, **refs) -> dict:
    return {
        "account_id": contact.account_id,
        "contact_id": contact.pk,
        "key": key or f"test:{contact.pk}",
        **refs,
    }


def token_of(invitation: SurveyInvitation) -> str:
    """The token in the invitation's email: the survey link is tracked, so read it from there."""
    link = SURVEY_LINK.search(invitation.message.text).group(0)
    token = urlsplit(link).path.split("/")[2]
    _, name, url = outbox.read_token(token, outbox.TRACK_SALT)
    assert name == "survey"
    return urlsplit(url).path.split("/")[2]


def invite(contact: Contact, survey: str = "Pre-renewal NPS", key: str | None = None) -> str:
    """Invite the contact; the token of the link in their email."""
    key = key or f"test:{contact.pk}:{survey}"
    assert surveys.invite_contacts(Survey.objects.get(name=survey), [row(contact, key)]) == 1
    return token_of(SurveyInvitation.objects.select_related("message").get(key=key))


def survey_path(token: str) -> str:
    return f"/s/{token}/"


# --- invitations -----------------------------------------------------------------------------------


def test_invitations_are_emailed_and_the_link_opens_the_survey(
    make_account, make_contact, smtp_server, caplog
):
    account = make_account()
    ada = make_contact(account, "Ada")
    opted_out = make_contact(account, "Otto", email_opt_out=True)
    no_email = make_contact(account, "Nora", email="")
    survey = Survey.objects.get(name="Post-onboarding NPS")
    rows = [row(ada), row(opted_out), row(no_email)]

    with caplog.at_level("INFO", logger="csops.programs.surveys"):
        assert surveys.invite_contacts(survey, rows, source_ref="test") == 1
    assert "'opted out': 1" in caplog.text and "'no email': 1" in caplog.text
    assert surveys.invite_contacts(survey, rows) == 0  # a retry invites no one twice
    invitation = SurveyInvitation.objects.select_related("message").get()
    assert invitation.contact == ada and invitation.account == account
    assert invitation.message.kind == "survey" and invitation.message.to == ada.email
    assert invitation.message.contact_id == ada.pk and invitation.message.account_id == account.pk
    expected_expiry = invitation.created_at + dt.timedelta(days=survey.expires_in_days)
    assert abs((invitation.expires_at - expected_expiry).total_seconds()) < 5
    assert AuditEntry.objects.filter(object_id=str(invitation.pk), changes__by=[None, "test"]).exists()

    report = outbox.deliver()
    assert report.sent == 1
    [(recipients, raw)] = smtp_server.messages
    assert recipients == [ada.email]
    message = email.message_from_string(raw, policy=email.policy.default)
    text = message.get_body(("plain",)).get_content()
    assert "Hello Ada" in text and str(account.csm) in text  # the sender: the CSM
    link = SURVEY_LINK.search(text).group(0)

    client = Client()
    followed = client.get(urlsplit(link).path)
    assert followed.status_code == 302
    token = urlsplit(followed["Location"]).path.split("/")[2]
    assert followed["Location"] == f"{outbox.base_url()}/s/{token}/"
    # Only the digest of the token is stored on the invitation.
    assert invitation.digest == hashlib.sha256(token.encode()).hexdigest()
    assert len(token) >= 43 and not SurveyInvitation.objects.filter(key__contains=token).exists()
    assert message.get_all("List-Unsubscribe")

    page = client.get(survey_path(token))
    assert page.status_code == 200 and "no-store" in page["Cache-Control"]
    html = page.content.decode()
    assert survey.question in html and html.count('type="radio" name="score"') == 11
    assert "What is the main reason for your score?" in html
    assert invitation.message.events.filter(kind="click", link="survey").exists()


def test_two_runners_inviting_the_same_keys_invite_each_contact_once(make_account, make_contact):
    account = make_account()
    contacts = [make_contact(account, f"C{i}") for i in range(3)]
    survey = Survey.objects.get(name="Quarterly CSAT")
    rows = [row(c) for c in contacts]
    assert surveys.invite_contacts(survey, rows[:2]) == 2
    assert surveys.invite_contacts(survey, rows + rows) == 1  # the new key only, once
    assert SurveyInvitation.objects.count() == 3
    assert OutboxMessage.objects.filter(kind="survey").count() == 3
    assert not SurveyInvitation.objects.filter(message__isnull=True).exists()
    assert OutboxMessage.objects.get(contact=contacts[2]).subject == "How did we do?"


# --- answering -------------------------------------------------------------------------------------


def csrf_post(client: Client, path: str, data: dict):
    """Post the form as a browser does: the page first (it sets the CSRF cookie), then the form."""
    page = client.get(path)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    return client.post(path, {"csrfmiddlewaretoken": token, **data})


def test_an_answer_is_stored_on_account_and_contact_and_marks_the_account(make_account, make_contact):
    account = make_account()
    ada = make_contact(account)
    token = invite(ada, "Pre-renewal NPS")
    client = Client(enforce_csrf_checks=True)
    assert client.post(survey_path(token), {"score": "9"}).status_code == 403  # no CSRF token
    assert not SurveyResponse.objects.exists()

    done = csrf_post(client, survey_path(token), {"score": "9", "comment": "  Great support.\n"})
    assert done.status_code == 200
    assert Survey.objects.get(name="Pre-renewal NPS").thank_you in done.content.decode()
    response = SurveyResponse.objects.get()
    assert (response.account, response.contact, response.score, response.category, response.comment) == (
        account,
        ada,
        9,
        "promoter",
        "Great support.",
    )
    assert response.invitation.answered_at is not None
    assert ada.survey_responses.get() == response and account.survey_responses.get() == response
    audited = AuditEntry.objects.filter(object_id=str(response.pk), content_type__model="surveyresponse")
    assert audited.exists()
    assert PendingEvaluation.objects.filter(account=account).exists()


@pytest.mark.parametrize(
    ("survey", "score", "category"),
    [
        ("Pre-renewal NPS", 0, "detractor"),
        ("Pre-renewal NPS", 6, "detractor"),
        ("Pre-renewal NPS", 7, "passive"),
        ("Pre-renewal NPS", 8, "passive"),
        ("Pre-renewal NPS", 9, "promoter"),
        ("Pre-renewal NPS", 10, "promoter"),
        ("Quarterly CSAT", 1, "dissatisfied"),
        ("Quarterly CSAT", 2, "dissatisfied"),
        ("Quarterly CSAT", 3, "neutral"),
        ("Quarterly CSAT", 4, "satisfied"),
        ("Quarterly CSAT", 5, "satisfied"),
    ],
)
def test_categories(make_account, make_contact, survey, score, category):
    token = invite(make_contact(make_account()), survey)
    assert surveys.answer(token, score=score, comment="").category == category


def test_wrong_used_and_expired_links_are_refused(make_account, make_contact):
    account = make_account()
    client = Client()
    wrong = client.get(survey_path("not-a-token-" + "x" * 31))
    assert wrong.status_code == 404 and "This survey link is not valid" in wrong.content.decode()
    with pytest.raises(surveys.InvalidToken):
        surveys.answer("not-a-token", score=5, comment="")

    used = invite(make_contact(account), "Quarterly CSAT")
    surveys.answer(used, score=5, comment="")
    again = client.get(survey_path(used))
    assert again.status_code == 410 and "already been answered" in again.content.decode()
    assert "Thank you" in again.content.decode()
    assert client.post(survey_path(used), {"score": "1"}).status_code == 410
    with pytest.raises(surveys.AlreadyAnswered):
        surveys.answer(used, score=1, comment="")

    expired = invite(make_contact(account), "Quarterly CSAT")
    SurveyInvitation.objects.filter(digest=surveys.digest(expired)).update(
        expires_at=timezone.now() - dt.timedelta(minutes=1)
    )
    closed = client.get(survey_path(expired))
    assert closed.status_code == 410 and "This survey has closed" in closed.content.decode()
    assert client.post(survey_path(expired), {"score": "4"}).status_code == 410
    with pytest.raises(surveys.SurveyClosed):
        surveys.answer(expired, score=4, comment="")
    assert SurveyResponse.objects.count() == 1 and SurveyResponse.objects.get().score == 5


@pytest.mark.parametrize(
    ("survey", "data", "field"),
    [
        ("Pre-renewal NPS", {"score": "11"}, "score"),
        ("Pre-renewal NPS", {"score": "-1"}, "score"),
        ("Pre-renewal NPS", {"score": "seven"}, "score"),
        ("Pre-renewal NPS", {}, "score"),
        ("Quarterly CSAT", {"score": "0"}, "score"),
        ("Quarterly CSAT", {"score": "6"}, "score"),
        ("Quarterly CSAT", {"score": "4", "comment": "x" * 2001}, "comment"),
        ("Quarterly CSAT", {"score": "4", "comment": "bad \x00 byte"}, "comment"),
    ],
)
def test_a_bad_answer_names_the_field_and_writes_nothing(make_account, make_contact, survey, data, field):
    account = make_account()
    token = invite(make_contact(account), survey)
    audits = AuditEntry.objects.count()
    page = Client().post(survey_path(token), data)
    assert page.status_code == 400
    html = page.content.decode()
    assert f"Please check the {field}:" in html and 'role="alert"' in html
    if "comment" in data and len(data["comment"]) > 2000:
        assert "x" * 2001 in html  # what they wrote is kept for them to shorten
    assert not SurveyResponse.objects.exists()
    assert SurveyInvitation.objects.get().answered_at is None
    assert AuditEntry.objects.count() == audits
    assert not PendingEvaluation.objects.exists()
    # The same link still takes a good answer.
    assert surveys.answer(token, score=4, comment="ok").score == 4


def test_the_action_checks_types_too(make_account, make_contact):
    token = invite(make_contact(make_account()), "Quarterly CSAT")
    for score in (True, 4.0, "4", None):
        with pytest.raises(surveys.InvalidAnswer) as refused:
            surveys.answer(token, score=score, comment="")
        assert refused.value.field == "score"
    with pytest.raises(surveys.InvalidAnswer, match="comment: at most 2,000 characters"):
        surveys.answer(token, score=4, comment="y" * 2001)
    assert surveys.answer(token, score=4, comment="y" * 2000).comment == "y" * 2000


@pytest.mark.django_db(transaction=True)
def test_two_racing_answers_make_one_response(users, make_account, make_contact):
    """Both posts read the invitation as unanswered, then wait on a lock of its row; when it is
    released each runs its conditional UPDATE, and only one finds the row still unanswered."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite serialises writers, so two answers cannot interleave")
    from django.db import connections, transaction

    token = invite(make_contact(make_account()), "Pre-renewal NPS")
    invitation = SurveyInvitation.objects.get()
    outcomes: list[str] = []

    def post(score: int) -> None:
        try:
            surveys.answer(token, score=score, comment=f"answer {score}")
            outcomes.append("answered")
        except surveys.AlreadyAnswered:
            outcomes.append("refused")
        finally:
            connections.close_all()

    with transaction.atomic():
        SurveyInvitation.objects.select_for_update().get(pk=invitation.pk)
        threads = [threading.Thread(target=post, args=(score,)) for score in (3, 10)]
        for thread in threads:
            thread.start()
        waiting = 0
        for _ in range(200):
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_stat_clear_snapshot()")  # statistics are a snapshot per transaction
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND query LIKE 'UPDATE%%programs_surveyinvitation%%'"
                )
                waiting = cursor.fetchone()[0]
            if waiting == 2:
                break
            threading.Event().wait(0.05)
        assert waiting == 2, "both answers should be waiting on the invitation's row"
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["answered", "refused"]
    assert SurveyResponse.objects.count() == 1


# --- rules ---------------------------------------------------------------------------------------------


@pytest.fixture
def survey_rules(config):
    Rule.objects.exclude(name__startswith="Survey:").update(enabled=False)


def test_a_detractor_raises_a_cta_for_the_csms_manager_and_a_promoter_one_for_the_csm(
    survey_rules, make_account, make_contact, team
):
    unhappy, happy, lukewarm, neutral = (make_account() for _ in range(4))
    surveys.answer(invite(make_contact(unhappy), "Pre-renewal NPS"), score=4, comment="Too slow.")
    surveys.answer(invite(make_contact(happy), "Post-renewal NPS"), score=10, comment="")
    surveys.answer(invite(make_contact(lukewarm), "Post-renewal NPS"), score=8, comment="")
    surveys.answer(invite(make_contact(neutral), "Quarterly CSAT"), score=3, comment="")
    assert set(PendingEvaluation.objects.values_list("account_id", flat=True)) == {
        unhappy.pk,
        happy.pk,
        lukewarm.pk,
        neutral.pk,
    }

    outcome = evaluate_pending()
    assert outcome["accounts"] == 4
    raised = {c.account_id: c for c in Cta.objects.select_related("reason", "type")}
    assert set(raised) == {unhappy.pk, happy.pk, neutral.pk}
    detractor = raised[unhappy.pk]
    assert (detractor.type.name, detractor.reason.name, detractor.owner) == (
        "Risk",
        "Survey Detractor",
        team["manager"],
    )
    assert detractor.name == f"{unhappy.name} - Survey answer 4 (detractor)"
    assert raised[neutral.pk].reason.name == "Survey Detractor"
    promoter = raised[happy.pk]
    assert (promoter.reason.name, promoter.owner) == ("Positive Survey Response", team["csm"])

    # A CSM without a manager: the detractor CTA goes to the CSM.
    team["csm"].manager = None
    team["csm"].save()
    Cta.objects.filter(account=unhappy).update(closed_at=timezone.now() - dt.timedelta(days=1))
    surveys.answer(invite(make_contact(unhappy), "Quarterly CSAT"), score=1, comment="")
    evaluate_pending()
    latest = Cta.objects.filter(account=unhappy).order_by("-pk").first()
    assert latest.reason.name == "Survey Detractor" and latest.owner == team["csm"]
    assert evaluate_pending() == {"accounts": 0}
    # Once per answer: running the rules again raises nothing new.
    from csops.rules.actions import run_rules

    before = Cta.objects.count()
    run_rules(names=["Survey: detractor or unsatisfied", "Survey: positive answer"])
    assert Cta.objects.count() == before


def test_survey_features_as_of_a_day(make_account, make_contact):
    """Backtests read the latest answer given by each day."""
    account = make_account()
    contact = make_contact(account)
    first = surveys.answer(invite(contact, "Pre-renewal NPS", key="a"), score=3, comment="")
    second = surveys.answer(invite(contact, "Quarterly CSAT", key="b"), score=5, comment="")
    today = timezone.now()
    SurveyResponse.objects.filter(pk=first.pk).update(created_at=today - dt.timedelta(days=10))
    SurveyResponse.objects.filter(pk=second.pk).update(created_at=today - dt.timedelta(days=2))
    other = surveys.answer(invite(make_contact(make_account()), "Quarterly CSAT"), score=2, comment="")

    def as_of(days_ago: int, ids=None) -> dict:
        table = features.survey_rows(today.date() - dt.timedelta(days=days_ago), ids)
        return {r["account_id"]: r for r in table.to_pylist()}

    assert as_of(20) == {}
    week_ago = as_of(7)
    assert list(week_ago) == [account.pk]
    assert week_ago[account.pk] == {
        "account_id": account.pk,
        "last_survey_response_id": first.pk,
        "last_survey_kind": "nps",
        "last_survey_score": 3,
        "last_survey_category": "detractor",
        "last_survey_on": (today - dt.timedelta(days=10)).date(),
    }
    now = as_of(0)
    assert now[account.pk]["last_survey_response_id"] == second.pk
    assert now[account.pk]["last_survey_category"] == "satisfied"
    assert now[other.account_id]["last_survey_score"] == 2
    assert list(as_of(0, [account.pk])) == [account.pk]


# --- the dashboard and Account 360 -------------------------------------------------------------------------


@pytest.fixture
def results(make_account, make_contact):
    """Pre-renewal NPS: 5 invitations, 4 answers (10, 9, 8, 3); Quarterly CSAT: 4 invitations,
    2 answers (5, 2), one invitation expired; Growth and Scale accounts; one program."""
    growth, scale = make_account(**in_segment("Growth")), make_account(**in_segment("Scale"))
    program = Program.objects.create(name="Renewal journey")
    answers = [
        (growth, "Pre-renewal NPS", 10, "Fast and friendly."),
        (growth, "Pre-renewal NPS", 9, ""),
        (scale, "Pre-renewal NPS", 8, ""),
        (scale, "Pre-renewal NPS", 3, "Pipelines keep failing."),
        (growth, None, None, None),
        (scale, "Quarterly CSAT", 5, ""),
        (scale, "Quarterly CSAT", 2, "No reply for a week."),
        (growth, None, None, None),
    ]
    for index, (account, survey, score, comment) in enumerate(answers):
        contact = make_contact(account)
        survey = survey or ("Pre-renewal NPS" if index == 4 else "Quarterly CSAT")
        enrolment = None
        if account is growth and survey == "Pre-renewal NPS":
            enrolment = Enrolment.objects.create(
                program=program, account=account, contact=contact, key=f"e{index}"
            )
        key = f"r{index}"
        surveys.invite_contacts(
            Survey.objects.get(name=survey),
            [row(contact, key, **({"enrolment_id": enrolment.pk} if enrolment else {}))],
        )
        if score is not None:
            surveys.answer(token_of(SurveyInvitation.objects.get(key=key)), score=score, comment=comment)
    expired = make_contact(scale)
    surveys.invite_contacts(Survey.objects.get(name="Quarterly CSAT"), [row(expired, "expired")])
    SurveyInvitation.objects.filter(key="expired").update(expires_at=timezone.now() - dt.timedelta(days=1))
    return {"growth": growth, "scale": scale}


def test_the_dashboard_gives_nps_csat_and_response_rates(results, client_as):
    page = client_as("viewer").get("/programs/surveys/")
    assert page.status_code == 200
    by_name = {survey.name: tally for survey, tally in page.context["results"]}
    nps, csat = by_name["Pre-renewal NPS"], by_name["Quarterly CSAT"]
    assert (nps.responses, nps.invited, nps.answered, nps.open) == (4, 5, 4, 1)
    assert nps.score == 25.0 and nps.score_label == "+25" and nps.response_rate == 0.8
    assert (csat.responses, csat.invited, csat.open) == (2, 4, 1)
    assert csat.score == 50.0 and csat.score_label == "50%" and csat.response_rate == 0.5
    assert by_name["Post-onboarding NPS"].score is None

    segments = {(name, t.kind): t for name, t in page.context["by_segment"]}
    assert segments[("Growth", "nps")].score == 100.0 and segments[("Growth", "nps")].invited == 3
    assert segments[("Scale", "nps")].score == -50.0
    assert segments[("Scale", "csat")].responses == 2 and segments[("Scale", "csat")].invited == 3
    assert segments[("Growth", "csat")].responses == 0 and segments[("Growth", "csat")].invited == 1
    programs = {(name, t.kind): t for name, t in page.context["by_program"]}
    assert programs[("Renewal journey", "nps")].responses == 2
    assert programs[("Renewal journey", "nps")].invited == 3
    assert programs[("Not in a program", "nps")].score == -50.0

    html = page.content.decode()
    assert "<svg" in html and "Answers by survey" in html
    assert "Pipelines keep failing." in html and "No reply for a week." in html
    assert page.context["comments"][0].comment == "No reply for a week."
    assert "80%" in html and "+25" in html


def test_the_dashboards_period_and_empty_states(results, client_as):
    client = client_as("csm")
    SurveyResponse.objects.filter(comment="Fast and friendly.").update(
        created_at=timezone.now() - dt.timedelta(days=60)
    )
    recent = client.get("/programs/surveys/?period=30")
    nps = {s.name: t for s, t in recent.context["results"]}["Pre-renewal NPS"]
    assert nps.responses == 3 and "Fast and friendly." not in recent.content.decode()
    assert client.get("/programs/surveys/?period=7000").status_code == 400
    SurveyResponse.objects.all().delete()
    SurveyInvitation.objects.all().delete()
    empty = client.get("/programs/surveys/").content.decode()
    assert "No invitation has been sent in this period" in empty and "No comment in this period" in empty
    Survey.objects.all().delete()
    assert "No survey is configured" in client.get("/programs/surveys/").content.decode()
    assert Client().get("/programs/surveys/").status_code == 302  # login required


def test_the_dashboards_query_count_is_pinned(results, client_as, make_account, make_contact):
    client = client_as("viewer")
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/programs/surveys/").status_code == 200
    assert len(queries) <= 10, "\n".join(q["sql"] for q in queries)
    for _ in range(5):
        account = make_account(**in_segment("Strategic"))
        surveys.answer(invite(make_contact(account), "Post-onboarding NPS"), score=7, comment="More, please.")
    with CaptureQueriesContext(connection) as more:
        client.get("/programs/surveys/")
    assert len(more) == len(queries)


def test_account_360_shows_the_accounts_answers_and_open_invitations(results, client_as):
    scale = results["scale"]
    page = client_as("viewer").get(scale.get_absolute_url())
    html = page.content.decode()
    section = html[html.index('id="surveys"') :]
    section = section[: section.index("</section>")]
    assert "0 open invitations" in section  # the rest are answered, the last CSAT one expired
    assert "Pipelines keep failing." in section and "No reply for a week." in section
    assert "detractor" in section and "Quarterly CSAT" in section
    assert "Fast and friendly." not in section  # another account's
    assert [r.score for r in page.context["survey_responses"]] == [2, 5, 3, 8]
    growth = client_as("viewer").get(results["growth"].get_absolute_url()).content.decode()
    assert "2 open invitations" in growth and "Fast and friendly." in growth


def test_the_outbox_page_hides_the_survey_and_unsubscribe_links(make_account, make_contact, client_as):
    """Staff reading the outbox must not be able to answer as the contact or opt them out."""
    contact = make_contact(make_account())
    token = invite(contact)
    message = SurveyInvitation.objects.get(contact=contact).message
    survey_link = SURVEY_LINK.search(message.text).group(0)
    html = client_as("admin").get(f"/programs/outbox/{message.pk}/").content.decode()
    assert "[survey link, hidden]" in html and "[unsubscribe link, hidden]" in html
    assert survey_link not in html and token not in html and "/u/" not in html
    tracked = SURVEY_LINK.findall(message.text)
    survey_links = [
        link for link in tracked if outbox.read_token(link.split("/")[-2], outbox.TRACK_SALT)[1] == "survey"
    ]
    redacted = outbox.redact_personal_links(message.text)
    assert survey_links and len(SURVEY_LINK.findall(redacted)) == len(tracked) - len(survey_links)
