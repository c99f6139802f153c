"""The event pages: permissions, the calendar's query count, DRI sign-up, the lab request, public
registration and code redemption (errors naming the field, nothing written), and the iCalendar feed."""

from __future__ import annotations

import datetime as dt

import icalendar
import pytest
from django.test import Client
from django.utils import timezone

from csops.events import actions
from csops.events.models import (
    CodeKind,
    DriRole,
    Event,
    InvitationCode,
    LabRequest,
    LabSpace,
    Registration,
    RegistrationStatus,
)

pytestmark = pytest.mark.django_db


def _event(users, *, kind="lab", days=14, capacity=None, title="CI lab", **extra) -> Event:
    return actions.create_event(
        actor=users["admin"], kind=kind, title=title, capacity=capacity,
        starts_at=timezone.now().replace(microsecond=0) + dt.timedelta(days=days), region="EMEA",
        time_zone="Europe/Berlin", series="CI lab", **extra,
    )


def test_calendar_needs_login_and_lists_upcoming_events(
    client, client_as, users, django_assert_max_num_queries
):
    for n in range(4):
        _event(users, days=10 + n * 20, title=f"Lab {n}")
    assert client.get("/events/").status_code == 302
    viewer = client_as("viewer")
    with django_assert_max_num_queries(8):
        page = viewer.get("/events/")
    assert page.status_code == 200
    assert b"Lab 0" in page.content and b"Lab 3" in page.content
    assert b"Add an event" not in page.content
    assert b"Lab 3" not in viewer.get("/events/?past=on").content
    assert viewer.get("/events/?kind=webinar").content.count(b"Lab 0") == 0


def test_my_dri_slots_filter(client_as, users):
    mine, other = _event(users, title="Mine"), _event(users, title="Other")
    actions.sign_up(mine.slots.get(role=DriRole.HOST), cse=users["csm"], actor=users["csm"])
    page = client_as("csm").get("/events/?mine=on")
    assert b"Mine" in page.content and b">Other<" not in page.content
    assert other.pk


def test_admin_adds_an_event_and_bad_input_names_the_field(client_as, users):
    admin = client_as("admin")
    assert client_as("csm").get("/events/new/").status_code == 403
    bad = admin.post("/events/new/", {"kind": "lab", "title": "CI lab", "starts_at": "2030-03-10T09:00",
                                      "time_zone": "Mars/Olympus", "panelists": "1"})
    assert bad.status_code == 400 and b"Not a time zone" in bad.content
    assert not Event.objects.exists()
    good = admin.post("/events/new/", {"kind": "lab", "title": "CI lab", "starts_at": "2030-03-10T09:00",
                                       "time_zone": "Europe/Berlin", "panelists": "2", "capacity": "20"})
    event = Event.objects.get()
    assert good.status_code == 302 and good["Location"] == f"/events/{event.pk}/"
    assert event.starts_at == dt.datetime(2030, 3, 10, 8, 0, tzinfo=dt.UTC)  # 09:00 CET
    assert event.slots.count() == 3


def test_cse_signs_up_and_leaves_a_slot_viewer_may_not(client_as, users):
    event = _event(users)
    slot = event.slots.get(role=DriRole.HOST)
    assert client_as("viewer").post(f"/events/slots/{slot.pk}/sign-up/").status_code == 403
    csm = client_as("csm")
    page = csm.get(event.get_absolute_url())
    assert b"Sign up" in page.content
    csm.post(f"/events/slots/{slot.pk}/sign-up/")
    slot.refresh_from_db()
    assert slot.cse == users["csm"]
    admin = client_as("admin")
    refused = admin.post(f"/events/slots/{slot.pk}/sign-up/", follow=True)
    assert b"is taken by" in refused.content
    csm.post(f"/events/slots/{slot.pk}/leave/")
    slot.refresh_from_db()
    assert slot.cse is None


def test_lab_request_shows_deadline_refuses_late_and_codes_are_staff_only(client, client_as, users):
    late = _event(users, days=3, title="Late lab")
    host = late.slots.get(role=DriRole.HOST)
    actions.sign_up(host, cse=users["csm"], actor=users["csm"])
    csm = client_as("csm")
    due = actions.lab_request_due(late)
    page = csm.get(late.get_absolute_url())
    assert b"Request the lab environment" in page.content
    refused = csm.post(f"/events/{late.pk}/lab-request/", {"notes": ""})
    assert refused.status_code == 400 and due.isoformat().encode() in refused.content
    assert not LabRequest.objects.exists() and not InvitationCode.objects.exists()

    lab = _event(users, days=14)
    actions.sign_up(lab.slots.get(role=DriRole.HOST), cse=users["csm"], actor=users["csm"])
    assert client_as("viewer").post(f"/events/{lab.pk}/lab-request/").status_code == 403
    assert csm.post(f"/events/{lab.pk}/lab-request/", {"notes": "runners"}).status_code == 302
    code = InvitationCode.objects.get(event=lab, kind=CodeKind.PRODUCTION).code
    assert code.encode() in csm.get(lab.get_absolute_url()).content
    public = client.get(f"/e/{lab.pk}/register/").content + client.get("/e/").content
    assert code.encode() not in public


def test_public_registration_errors_name_the_field_and_waitlist(client, users):
    event = _event(users, capacity=1)
    page = client.get("/e/")
    assert page.status_code == 200 and f"/e/{event.pk}/register/".encode() in page.content
    bad = client.post(f"/e/{event.pk}/register/", {"name": "", "email": "not-an-email"})
    assert bad.status_code == 400 and b"Name:" in bad.content and b"Email:" in bad.content
    assert not Registration.objects.exists()
    ok = client.post(f"/e/{event.pk}/register/", {"name": "Ada Lovelace", "email": "ada@example.org"})
    assert ok.status_code == 200 and b"You are registered" in ok.content
    full = client.post(f"/e/{event.pk}/register/", {"name": "Bob", "email": "bob@example.org"})
    assert b"you are on the waitlist" in full.content.lower()
    assert Registration.objects.get(email="bob@example.org").status == RegistrationStatus.WAITLISTED
    Event.objects.filter(pk=event.pk).update(cancelled=True)
    assert client.get(f"/e/{event.pk}/register/").status_code == 404
    assert f"/e/{event.pk}/register/".encode() not in client.get("/e/").content


def test_redeem_page_shows_the_space_and_clear_refusals(client, users):
    event = _event(users, capacity=1)
    actions.file_lab_request(event, actor=users["admin"])
    code = InvitationCode.objects.get(event=event, kind=CodeKind.PRODUCTION).code
    actions.register(event, name="Ada Lovelace", email="ada@example.org")
    unknown = client.post("/e/lab/", {"code": "nope", "email": "ada@example.org"})
    assert unknown.status_code == 400 and b"Invitation code:" in unknown.content
    stranger = client.post("/e/lab/", {"code": code, "email": "eve@example.org"})
    assert stranger.status_code == 400 and b"not registered" in stranger.content
    assert not LabSpace.objects.exists()
    ok = client.post("/e/lab/", {"code": code, "email": "ada@example.org"})
    space = LabSpace.objects.get()
    assert ok.status_code == 200 and space.name.encode() in ok.content and b"Open until" in ok.content
    again = client.post("/e/lab/", {"code": code, "email": "ADA@example.org"})
    assert space.name.encode() in again.content and LabSpace.objects.count() == 1


def test_ical_feed_parses_with_utc_times(client, users):
    lab = _event(users, days=14, title="CI lab")
    webinar = actions.create_event(
        actor=users["admin"], kind="webinar", title="Security webinar", time_zone="America/New_York",
        starts_at=dt.datetime(2031, 7, 1, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=-4))),
    )
    gone = _event(users, days=20, title="Cancelled lab")
    Event.objects.filter(pk=gone.pk).update(cancelled=True)
    response = Client().get("/e/calendar.ics")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/calendar")
    cal = icalendar.Calendar.from_ical(response.content)
    found = {str(e["uid"]): e for e in cal.walk("VEVENT")}
    assert set(found) == {f"event-{lab.pk}@csops", f"event-{webinar.pk}@csops"}
    item = found[f"event-{webinar.pk}@csops"]
    assert item.decoded("dtstart") == dt.datetime(2031, 7, 1, 14, 0, tzinfo=dt.UTC)
    assert item.decoded("dtstart").utcoffset() == dt.timedelta(0)
    assert item.decoded("dtend") - item.decoded("dtstart") == dt.timedelta(minutes=webinar.duration_minutes)
    assert str(item["summary"]) == "Webinar: Security webinar"
    assert str(item["url"]).endswith(f"/e/{webinar.pk}/register/")
    one = icalendar.Calendar.from_ical(client.get(f"/e/events/{lab.pk}.ics").content)
    assert [str(e["uid"]) for e in one.walk("VEVENT")] == [f"event-{lab.pk}@csops"]


def test_event_page_query_count_does_not_grow_with_registrations(
    client_as, users, django_assert_max_num_queries
):
    event = _event(users)
    actions.file_lab_request(event, actor=users["admin"])
    code = InvitationCode.objects.get(event=event, kind=CodeKind.PRODUCTION).code
    for n in range(6):
        actions.register(event, name=f"Attendee {n}", email=f"a{n}@example.org")
        actions.redeem(code, email=f"a{n}@example.org")
    viewer = client_as("viewer")
    with django_assert_max_num_queries(10):
        page = viewer.get(event.get_absolute_url())
    assert page.content.count(b"attendee-") == 6 and b"Sign up" not in page.content


def test_a_cse_marks_attendance_on_the_event_page_once_it_started(client_as, users, seeded):
    from csops.cockpit.models import Cta
    from csops.customers.models import Contact
    from csops.events.models import Registration

    contact = Contact.objects.exclude(email="").select_related("account").first()
    starts = timezone.now() + dt.timedelta(days=2)
    event = actions.create_event(actor=users["admin"], kind="webinar", title="CI basics", starts_at=starts)
    registration = actions.register(event, name="Ada", email=contact.email, account=contact.account)
    csm = client_as("csm")
    url = f"/events/registrations/{registration.pk}/attendance/"
    assert "Mark attended" not in csm.get(f"/events/{event.pk}/").content.decode()  # not started yet
    type(event).objects.filter(pk=event.pk).update(starts_at=timezone.now() - dt.timedelta(hours=2))
    page = csm.get(f"/events/{event.pk}/").content.decode()
    assert "Mark attended" in page and f"/events/{event.pk}/results/" in page
    assert client_as("viewer").post(url, {"attended": "yes"}).status_code == 403
    assert csm.post(url, {"attended": "yes"}).status_code == 302
    assert Registration.objects.get(pk=registration.pk).attended is True
    assert Cta.objects.filter(account=contact.account, reason__name="Webinar Attended by Customer").exists()
