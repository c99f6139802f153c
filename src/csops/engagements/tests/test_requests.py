"""CSE engagement requests: every rule of the CSE operating rhythm, at its boundaries."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from csops.cockpit.models import Cta
from csops.core.models import User
from csops.engagements import actions
from csops.engagements.actions import cta_name, file_request
from csops.engagements.models import NAME_SUFFIX, EngagementRequest, FollowUp, RequestStatus
from csops.programs import outbox
from csops.programs.models import OutboxMessage, SurveyInvitation
from csops.timeline.models import Activity

FIELDS = {
    "topic": "CI pipelines for the mobile team",
    "interventions": ["onboarding", "license_utilization"],
    "primary_use_case": "ci",
    "risk_type": "adoption",
    "environment": "saas",
}


def file(account, actor=None, **fields):
    return file_request(
        account, actor=actor or account.ae, contact=fields.pop("contact", account.contacts.first()),
        **(FIELDS | fields),
    )


def refusal(call) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        call()
    return caught.value.message_dict


# --- filing ------------------------------------------------------------------------------------------


def test_an_owner_files_and_nothing_happens_until_the_batch(eligible, smtp_server):
    account = eligible()
    request = file(account, challenges="x" * 1000)
    assert request.status == RequestStatus.FILED and request.cta is None
    assert not Cta.objects.exists() and not OutboxMessage.objects.exists()
    # The renewals manager is an account owner too.
    assert file(account, actor=account.renewals_manager).filed_by == account.renewals_manager


@pytest.mark.parametrize("arr, ok", [(Decimal("29999.99"), False), (Decimal("30000"), True)])
def test_the_minimum_arr(eligible, arr, ok):
    account = eligible(arr=arr)
    if ok:
        assert file(account).pk
    else:
        errors = refusal(lambda: file(account))
        assert "under the minimum of 30,000.00" in errors["arr"][0]
        assert not EngagementRequest.objects.exists()


def test_only_tam_scale_accounts(eligible, team):
    account = eligible(csm=team["csm"])
    assert "not the tam-scale pool" in refusal(lambda: file(account))["csm"][0]


def test_above_the_range_needs_a_recorded_approver(eligible, users):
    account = eligible(arr=Decimal("150000.01"))
    assert "name the regional sales leader" in refusal(lambda: file(account))["approved_by"][0]
    leader = users["viewer"]
    request = file(account, approved_by=leader, approval_note="Expansion deal")
    assert (request.approved_by, request.approval_note) == (leader, "Expansion deal")
    assert file(eligible(arr=Decimal("150000"))).approved_by is None  # the ceiling itself needs none


def test_only_the_account_owner_files(eligible, team, users):
    account = eligible()
    for stranger in (team["cse"], users["admin"], users["account_owner"]):
        errors = refusal(lambda s=stranger: file(account, actor=s))
        assert "Only the account owner" in errors["filed_by"][0] and "Avery Owner" in errors["filed_by"][0]
    assert not EngagementRequest.objects.exists()


@pytest.mark.parametrize("length, ok", [(1000, True), (1001, False)])
def test_challenges_up_to_1000_characters_never_cut(eligible, length, ok):
    account = eligible()
    text = "é" * length  # characters, not bytes
    if ok:
        assert file(account, challenges=text).challenges == text
    else:
        errors = refusal(lambda: file(account, challenges=text))
        assert errors["challenges"] == [
            "At most 1,000 characters (1,001 given); nothing was cut: shorten it."
        ]


def test_every_required_field_is_named(eligible, make_account, contact_for):
    account = eligible()
    other = make_account()
    stranger = contact_for(other, "GitLab Admin")
    errors = refusal(lambda: file(account, contact=stranger, topic=" ", interventions=[], primary_use_case="",
                                  risk_type="bogus", environment="moon"))
    assert set(errors) == {
        "contact", "topic", "interventions", "primary_use_case", "risk_type", "environment"
    }
    assert "not a contact of" in errors["contact"][0]
    unknown = refusal(lambda: file(account, interventions=["telepathy"]))["interventions"][0]
    assert "Unknown intervention" in unknown


# --- the CTA's name --------------------------------------------------------------------------------------


def test_the_cta_name_keeps_its_suffix_whole():
    assert cta_name("Acme") == "Acme - Ad-Hoc CSE Engagement Request"
    room = 255 - len(NAME_SUFFIX)
    exact = "A" * room
    assert cta_name(exact) == exact + NAME_SUFFIX and len(cta_name(exact)) == 255
    long = cta_name("B" * (room + 1))
    assert len(long) == 255 and long.endswith("…" + NAME_SUFFIX)


def test_truncation_never_splits_a_character_from_its_accent_or_an_emoji_sequence():
    room = 255 - len(NAME_SUFFIX)
    # "e" + combining acute straddling the cut: the letter goes whole or not at all.
    accented = "x" * (room - 2) + "e\u0301" + "tail"
    name = cta_name(accented)
    assert len(name) <= 255 and name.endswith(NAME_SUFFIX)
    assert not name.replace(NAME_SUFFIX, "").rstrip("…").endswith("e")
    family = "x" * (room - 4) + "👩\u200d👩\u200d👧" + "tail"  # a ZWJ sequence across the cut
    cut = cta_name(family).removesuffix(NAME_SUFFIX).rstrip("…")
    assert not cut.endswith("\u200d") and "👩" not in cut
    # Multi-byte characters count as one each, as the database's varchar(255) counts them.
    kanji = cta_name("株式会社" * 100)
    assert len(kanji) == 255 and kanji.endswith(NAME_SUFFIX)


# --- the batch ---------------------------------------------------------------------------------------------


def test_the_batch_raises_one_cta_and_queues_the_outreach_once(eligible, team, smtp_server):
    account = eligible(name=("Initech " + "Worldwide " * 30)[:255])  # the longest name an account has
    request = file(account, priority="high")
    first = actions.convert_requests()
    assert (first.ctas, first.outreach) == (1, 1)
    again = actions.convert_requests()
    assert (again.ctas, again.outreach) == (0, 0)
    cta = Cta.objects.get()
    request.refresh_from_db()
    assert request.cta == cta and request.status == RequestStatus.OPEN and request.converted_at
    assert cta.name.endswith(NAME_SUFFIX) and len(cta.name) == 255
    assert (cta.type.name, cta.reason.name, cta.playbook.name, cta.priority) == (
        "Digital Journey", "Other Digital Journey Reason", "One-Off CSE Outreach", "high")
    assert cta.owner == team["cse"] == request.cse  # the pool's CSE for the account's geo
    assert outbox.deliver().sent == 1
    [(recipients, text)] = smtp_server.messages
    assert sorted(recipients) == sorted([account.contacts.first().email, account.ae.email])  # owner in copy
    assert "Avery Owner asked me to get in touch" in text


def test_no_outreach_when_the_owner_opts_out(eligible):
    file(eligible(), opt_out_outreach=True)
    report = actions.convert_requests()
    assert report.ctas == 1 and report.outreach == 0
    assert report.skipped == {"opted out by the account owner": 1}
    assert not OutboxMessage.objects.exists()


def test_a_returning_customer_goes_to_the_cse_who_had_them(eligible, team):
    account = eligible()
    other_cse = User.objects.create(username="cse9", email="cse9@example.com", geo=team["cse"].geo,
                                    pool=team["pool"])
    first = file(account)
    actions.convert_requests()
    first.refresh_from_db()
    EngagementRequest.objects.filter(pk=first.pk).update(cse=other_cse)
    second = file(account, topic="Security scanning")
    assert second.continues == first
    actions.convert_requests()
    second.refresh_from_db()
    assert second.cse == other_cse and second.cta.owner == other_cse


# --- after the call ----------------------------------------------------------------------------------------


def converted(eligible):
    request = file(eligible())
    actions.convert_requests()
    request.refresh_from_db()
    return request


def test_the_call_then_the_follow_up_that_deploys_the_csat(eligible, team, smtp_server):
    request = converted(eligible)
    assert outbox.deliver().sent == 1  # the outreach
    smtp_server.messages.clear()
    cse = request.cse
    friday = dt.date(2026, 11, 20)
    activity = actions.log_call(request, actor=cse, date=friday, notes="Walked through CI templates")
    assert activity.type.name == "CSE Engagement" and activity.cta == request.cta
    follow_up = FollowUp.objects.get()
    assert follow_up.due_on == dt.date(2026, 11, 25)  # 3 business days: Mon, Tue, Wed
    request.refresh_from_db()
    assert request.called_on == friday and request.cta.due_date == follow_up.due_on
    result = actions.send_follow_up(
        request, actor=cse, contacts=[request.contact], summary="We set up your first pipeline.",
        action_items="- Add tests to the pipeline", resources="- https://docs.example.com/ci",
    )
    assert result.surveyed and result.queued == [request.contact]
    assert SurveyInvitation.objects.get().survey.name == "CSE engagement CSAT"
    follow_up.refresh_from_db()
    assert follow_up.done_at is not None
    assert outbox.deliver().sent == 1
    [(_, text)] = smtp_server.messages
    assert "We set up your first pipeline." in text and "Add tests to the pipeline" in text
    assert Activity.objects.filter(cta=request.cta, type__name="Email").exists()


def test_the_follow_up_needs_the_call_and_its_three_parts(eligible):
    request = converted(eligible)
    assert "Log the call first" in refusal(lambda: actions.send_follow_up(
        request, actor=request.cse, contacts=[request.contact], summary="s", action_items="a",
        resources="r"))["request"][0]
    actions.log_call(request, actor=request.cse, date=actions.business_today())
    errors = refusal(lambda: actions.send_follow_up(
        request, actor=request.cse, contacts=[request.contact], summary=" ", action_items="", resources="r"))
    assert set(errors) == {"summary", "action_items"}


def test_no_call_before_the_cta_exists_or_in_the_future(eligible):
    request = file(eligible())
    assert "every 4 hours" in refusal(lambda: actions.log_call(
        request, actor=request.filed_by, date=actions.business_today()))["request"][0]
    actions.convert_requests()
    request.refresh_from_db()
    tomorrow = actions.business_today() + dt.timedelta(days=1)
    assert "future" in refusal(lambda: actions.log_call(request, actor=request.cse, date=tomorrow))["date"][0]


# --- further questions and the topic rules -----------------------------------------------------------


def called(eligible, on: dt.date):
    request = converted(eligible)
    actions.log_call(request, actor=request.cse, date=on)
    request.refresh_from_db()
    return request


def test_a_question_is_due_the_next_business_day(eligible):
    request = called(eligible, dt.date(2026, 11, 2))
    answer = actions.record_question(
        request, actor=request.cse, asked_on=dt.date(2026, 11, 6), question="How?"
    )
    assert answer.due_on == dt.date(2026, 11, 9)  # asked on a Friday: due Monday
    actions.answer_question(answer, actor=request.cse)
    answer.refresh_from_db()
    assert answer.done_at is not None


@pytest.mark.parametrize("days, new", [(27, False), (28, False), (29, True)])
def test_after_four_weeks_a_question_opens_a_new_request(eligible, days, new):
    call = dt.date(2026, 10, 1)
    request = called(eligible, call)
    result = actions.record_question(
        request, actor=request.cse, asked_on=call + dt.timedelta(days=days), question="Runners?"
    )
    if new:
        assert isinstance(result, EngagementRequest) and result.continues == request
        assert result.status == RequestStatus.FILED and result.topic == request.topic
        assert result.filed_by == request.filed_by and "Runners?" in result.challenges
    else:
        assert isinstance(result, FollowUp) and result.request == request


def test_a_new_topic_opens_a_new_request_for_the_same_cse(eligible):
    request = called(eligible, dt.date(2026, 11, 2))
    result = actions.record_question(request, actor=request.cse, asked_on=dt.date(2026, 11, 3),
                                     question="And SAST?", topic="Security scanning")
    assert isinstance(result, EngagementRequest) and result.topic == "Security scanning"
    actions.convert_requests()
    result.refresh_from_db()
    assert result.cse == request.cse


def test_at_most_three_follow_ups_per_topic(eligible):
    request = called(eligible, dt.date(2026, 11, 2))  # the follow-up email is the first
    for day in (3, 4):
        actions.record_question(request, actor=request.cse, asked_on=dt.date(2026, 11, day), question="More?")
    assert request.follow_ups.count() == 3
    errors = refusal(lambda: actions.record_question(
        request, actor=request.cse, asked_on=dt.date(2026, 11, 5), question="A fourth?"))
    assert "a 4th is refused" in errors["question"][0]
    assert request.follow_ups.count() == 3


def test_a_request_of_a_previous_fiscal_quarter_never_reopens(eligible, settings):
    settings.CSOPS_ORGANISATION = {**settings.CSOPS_ORGANISATION, "fiscal_year_start_month": 2}
    request = converted(eligible)
    actions.close_request(request, actor=request.cse)
    # Filed on the last day of FY27-Q3 (Oct 31 2026), then today is the first of Q4.
    last_of_quarter = timezone.make_aware(dt.datetime(2026, 10, 31, 12, 0))
    EngagementRequest.objects.filter(pk=request.pk).update(filed_at=last_of_quarter)
    request.refresh_from_db()
    errors = refusal(lambda: actions.reopen_request(request, actor=request.cse))
    assert "filed in FY27-Q3, a previous quarter" in errors["request"][0]
    # Filed on the first day of the current quarter: it reopens.
    EngagementRequest.objects.filter(pk=request.pk).update(
        filed_at=timezone.make_aware(dt.datetime(2026, 11, 1, 0, 30))
    )
    request.refresh_from_db()
    assert actions.reopen_request(request, actor=request.cse).status == RequestStatus.OPEN


def test_two_batches_racing_raise_one_cta_and_one_outreach(transactional_db, eligible):
    """Two workers run the batch at once (as two schedulers could): the database keeps one CTA
    per request, and only the batch that linked it queues the outreach."""
    import threading

    from django.db import connection, connections

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite serialises writers, so two batches cannot interleave")
    requests = [file(eligible()) for _ in range(5)]
    start = threading.Barrier(2)
    reports = []

    def batch() -> None:
        try:
            start.wait()
            reports.append(actions.convert_requests())
        finally:
            connections.close_all()

    threads = [threading.Thread(target=batch) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(reports) == 2
    assert sum(r.ctas for r in reports) == 5 and Cta.objects.count() == 5
    assert sum(r.outreach for r in reports) == 5 and OutboxMessage.objects.count() == 5
    mine = EngagementRequest.objects.filter(pk__in=[r.pk for r in requests])
    linked = set(mine.values_list("cta", flat=True))
    assert linked == set(Cta.objects.values_list("pk", flat=True))


def test_closed_sent_and_answered_states_hold(eligible, smtp_server):
    """A closed request takes no call until reopened; the follow-up email goes once; only questions
    are marked answered; a reopened request gets back the status it had."""
    request = converted(eligible)
    actions.log_call(request, actor=request.cse, date=actions.business_today())
    request.refresh_from_db()
    actions.close_request(request, actor=request.cse)
    closed = refusal(lambda: actions.log_call(request, actor=request.cse, date=actions.business_today()))
    assert "closed: reopen it first" in closed["request"][0]
    assert actions.reopen_request(request, actor=request.cse).status == RequestStatus.CALLED
    email = request.follow_ups.get()
    refused = refusal(lambda: actions.answer_question(email, actor=request.cse))
    assert "not marked answered" in refused["follow_up"][0]

    def send():
        return actions.send_follow_up(
            request, actor=request.cse, contacts=[request.contact], summary="s", action_items="a",
            resources="r",
        )

    send()
    assert "went out on" in refusal(send)["request"][0]
