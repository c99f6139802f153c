"""Attendance from the webinar tool's CSV or by hand: bad rows named by line and nothing written;
a Webinar activity per account, the Lifecycle CTA once per account and event, the feedback poll."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from csops.cockpit.models import Cta
from csops.customers.models import Contact
from csops.events.actions import create_event, register
from csops.events.attendance import mark_attendance
from csops.events.models import Event, Registration
from csops.programs.models import OutboxMessage, SurveyInvitation
from csops.rules.tests.conftest import contact_for, make_account, team  # noqa: F401
from csops.timeline.models import Activity

pytestmark = pytest.mark.django_db


@pytest.fixture
def event(users) -> Event:
    event = create_event(
        actor=users["admin"],
        kind="webinar",
        title="Security scanning",
        starts_at=timezone.now() + dt.timedelta(hours=2),
        related_measure="ci",
    )
    return event


@pytest.fixture
def people(event, make_account, contact_for):  # noqa: F811
    account = make_account()
    admin = contact_for(account, "GitLab Admin")  # gitlab.admin@customer.example
    ada = register(event, name="Admin Person", email=admin.email, account=account)
    bob = register(event, name="Bob Absent", email="bob@customer.example", account=account)
    return account, admin, ada, bob


def _csv(tmp_path, text: str):
    path = tmp_path / "attendance.csv"
    path.write_text(text)
    return path


def test_import_marks_attendance_logs_activity_raises_cta_and_polls(event, people, tmp_path):
    account, admin, ada, bob = people
    path = _csv(
        tmp_path,
        "Name (Original Name),User Email,Total Duration (Minutes)\n"
        f"Admin Person,{admin.email.upper()},40\n"
        f"Admin Person,{admin.email},15\n"
        "Walk In,walk.in@elsewhere.example,30\n",
    )
    call_command("events", "attendance", str(event.pk), str(path))
    ada.refresh_from_db()
    bob.refresh_from_db()
    assert (ada.attended, ada.attended_minutes) == (True, 55)
    assert (bob.attended, bob.attended_minutes) == (False, 0)
    assert Registration.objects.get(event=event, email="walk.in@elsewhere.example").attended
    activity = Activity.objects.get(account=account)
    assert activity.type.name == "Webinar" and "Security scanning" in activity.subject
    assert list(activity.external_attendees.all()) == [admin]
    cta = Cta.objects.get(account=account)
    assert (cta.type.name, cta.reason.name) == ("Lifecycle", "Webinar Attended by Customer")
    invitation = SurveyInvitation.objects.get()
    assert invitation.contact == admin and invitation.survey.name == "Webinar and lab feedback"
    poll = OutboxMessage.objects.get(kind="survey")
    assert poll.to == admin.email and "One question, one click: http" in poll.text

    # Again (a corrected export, a retry): nothing more is logged, raised or sent.
    call_command("events", "attendance", str(event.pk), str(path))
    assert (Activity.objects.count(), Cta.objects.count(), SurveyInvitation.objects.count()) == (1, 1, 1)


def test_bad_rows_are_named_by_line_and_nothing_is_written(event, people, tmp_path):
    path = _csv(
        tmp_path,
        "email,name,minutes attended\n"
        "gitlab.admin@customer.example,Admin,40\n"
        "not-an-address,Someone,10\n"
        "bob@customer.example,Bob,ten\n",
    )
    with pytest.raises(CommandError) as caught:
        call_command("events", "attendance", str(event.pk), str(path))
    message = str(caught.value)
    assert "line 3: not-an-address is not an email address" in message
    assert "line 4: minutes attended 'ten' is not a number of minutes" in message
    assert not Registration.objects.filter(attended__isnull=False).exists()
    assert not Activity.objects.exists() and not Cta.objects.exists()


def test_missing_column_is_refused(event, tmp_path):
    path = _csv(tmp_path, "name,seconds\nAda,10\n")
    with pytest.raises(CommandError, match="Missing column"):
        call_command("events", "attendance", str(event.pk), str(path))


def test_marking_by_hand_raises_the_cta_once_per_account_and_event(event, people, users):
    account, _admin, ada, bob = people
    mark_attendance(ada, attended=True, actor=users["admin"])
    mark_attendance(bob, attended=True, minutes=20, actor=users["admin"])
    assert Cta.objects.filter(account=account).count() == 1
    assert Activity.objects.filter(account=account).count() == 1
    ada.refresh_from_db()
    assert ada.attended_minutes == event.duration_minutes
    assert Contact.objects.filter(account=account).count() == 1  # no contact is made from a registrant
