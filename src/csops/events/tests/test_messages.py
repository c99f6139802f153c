"""The emails of an event through the outbox and a real SMTP server on loopback: the confirmation
with its calendar link, each reminder once however often the task runs, the post-event email."""

from __future__ import annotations

import datetime as dt
import email
import email.policy

import pytest
from django.utils import timezone

from csops.events import messages
from csops.events.actions import create_event, register
from csops.events.models import Event
from csops.programs import outbox
from csops.programs.models import OutboxMessage
from csops.rules.tests.conftest import contact_for, make_account, put_health, team  # noqa: F401

pytestmark = pytest.mark.django_db


def _event(users, *, hours_ahead: float = 48, **fields) -> Event:
    return create_event(
        actor=users["admin"],
        kind=fields.pop("kind", "webinar"),
        title=fields.pop("title", "CI pipelines in practice"),
        starts_at=timezone.now() + dt.timedelta(hours=hours_ahead),
        **fields,
    )


def _subjects(inbox) -> list[str]:
    return [
        email.message_from_string(text, policy=email.policy.default)["Subject"] for _, text in inbox.messages
    ]


def test_confirmation_and_each_reminder_arrive_once(users, smtp_server):
    event = _event(users, join_url="https://meet.example.com/ci")
    registration = register(event, name="Ada Lovelace", email="ada@customer.example")
    start = event.starts_at

    assert messages.queue_confirmation(registration) == 1
    assert messages.queue_confirmation(registration) == 0
    for minutes_before in (1439, 1438):  # the task runs every 5 minutes: twice in the day-ahead window
        report = messages.send_due(start - dt.timedelta(minutes=minutes_before))
        assert report.confirmations == 0
    outbox.deliver()
    for minutes_before in (59, 58, 30):
        messages.send_due(start - dt.timedelta(minutes=minutes_before))
    outbox.deliver()
    outbox.deliver()

    subjects = _subjects(smtp_server)
    assert len(subjects) == 3
    assert subjects[0].startswith("You are registered: CI pipelines in practice")
    starts = messages.event_fields(event)["starts"]
    assert subjects.count(f"Reminder: CI pipelines in practice starts {starts}") == 2
    keys = set(OutboxMessage.objects.values_list("key", flat=True))
    assert keys == {
        messages.message_key(registration.pk, event.pk, what)
        for what in ("confirmation", "reminder:1440", "reminder:60")
    }
    confirmation = OutboxMessage.objects.get(key__endswith=":confirmation")
    assert confirmation.kind == "event" and confirmation.to == "ada@customer.example"
    assert "Add it to your calendar: http" in confirmation.text
    assert "unsubscribe" not in confirmation.text.lower()
    message = email.message_from_string(smtp_server.messages[0][1], policy=email.policy.default)
    assert message["List-Unsubscribe"] is None


def test_the_task_confirms_and_a_late_run_sends_only_the_nearest_reminder(users):
    event = _event(users)
    register(event, name="Grace Hopper", email="grace@customer.example")
    late = event.starts_at - dt.timedelta(minutes=20)  # the worker was down for a day
    report = messages.send_due(late)
    assert (report.confirmations, report.reminders) == (1, 1)
    assert OutboxMessage.objects.filter(key__endswith=":reminder:60").count() == 1
    assert not OutboxMessage.objects.filter(key__endswith=":reminder:1440").exists()
    assert str(messages.send_due(late)) == "0 confirmation(s), 0 reminder(s), 0 post-event email(s) queued"


def test_no_reminder_to_someone_who_registered_after_its_time(users):
    event = _event(users, hours_ahead=5)
    register(event, name="Alan Turing", email="alan@customer.example")
    report = messages.send_due(event.starts_at - dt.timedelta(hours=4))
    assert report.reminders == 0  # registered 5 hours ahead: no day-ahead reminder
    assert messages.send_due(event.starts_at - dt.timedelta(minutes=50)).reminders == 1


def test_post_event_email_with_recording_and_deck_once(users, smtp_server):
    event = _event(users, hours_ahead=1)
    register(event, name="Ada Lovelace", email="ada@customer.example")
    register(event, name="Grace Hopper", email="grace@customer.example")
    ends = event.starts_at + dt.timedelta(minutes=event.duration_minutes)
    assert messages.send_due(ends - dt.timedelta(minutes=1)).follow_ups == 0
    assert messages.send_due(ends + dt.timedelta(hours=2)).follow_ups == 0  # no recording yet
    Event.objects.filter(pk=event.pk).update(
        recording_url="https://videos.example.com/ci", deck_url="https://slides.example.com/ci"
    )
    assert messages.send_due(ends + dt.timedelta(hours=3)).follow_ups == 2
    assert messages.send_due(ends + dt.timedelta(hours=3, minutes=5)).follow_ups == 0
    event.refresh_from_db()
    assert event.follow_up_sent_at is not None
    outbox.deliver()
    follow_ups = [s for s in _subjects(smtp_server) if s.startswith("Thank you for joining")]
    assert len(follow_ups) == 2
    body = OutboxMessage.objects.filter(key__endswith=":follow-up").first().text
    assert "The recording: http" in body and "The slides: http" in body


def test_post_event_email_goes_by_the_deadline_without_a_recording(users):
    event = _event(users, hours_ahead=1)
    register(event, name="Ada Lovelace", email="ada@customer.example")
    ends = event.starts_at + dt.timedelta(minutes=event.duration_minutes)
    assert messages.send_due(ends + dt.timedelta(hours=24)).follow_ups == 1


def test_lab_invitations_go_to_the_audiences_by_rule(
    make_account, put_health, contact_for, smtp_server  # noqa: F811 (the rules tests' fixtures)
):
    from csops.customers.models import Segment
    from csops.programs.models import Enrolment
    from csops.programs.runner import advance
    from csops.rules.actions import run_rules

    today = timezone.localdate()
    growth = Segment.objects.get(name="Growth")
    red_ci = make_account(tier="premium", segment=growth)
    green_ci = make_account(tier="premium", segment=growth)
    top = make_account(tier="ultimate", segment=growth)
    for account, colour in ((red_ci, "red"), (green_ci, "green"), (top, "green")):
        contact_for(account, "GitLab Admin")
        put_health(account, today, ci=(0.2, colour))
    run_rules(names=["CI lab invitation", "Security lab invitation"], as_of=today)
    enrolled = set(Enrolment.objects.values_list("program__name", "account_id"))
    assert enrolled == {("CI lab invitation", red_ci.pk), ("Security lab invitation", top.pk)}
    advance()
    outbox.deliver()
    received = {
        (recipients[0], email.message_from_string(text, policy=email.policy.default)["Subject"])
        for recipients, text in smtp_server.messages
    }
    admin = "gitlab.admin@customer.example"
    assert received == {
        (admin, f"A hands-on CI lab for {red_ci.name}"),
        (admin, f"A hands-on security lab for {top.name}"),
    }
    invitation = OutboxMessage.objects.get(account=red_ci)
    assert "Pick a date and register: http" in invitation.text
