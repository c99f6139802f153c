"""The calendar's rules: DRI slots, registration and its waitlist, the lab request deadline, the
invitation codes and their redemption into lab spaces."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from csops.core.models import Role, User
from csops.customers.models import Contact
from csops.events import actions
from csops.events.models import CodeKind, DriRole, EventKind, InvitationCode, LabSpace, RegistrationStatus

UTC = dt.UTC


def errors(call) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        call()
    return caught.value.message_dict


@pytest.fixture
def cse(users) -> User:
    return User.objects.create_user(
        username="cse-ana", role=Role.CSM, first_name="Ana", email="ana@example.com"
    )


@pytest.fixture
def lab(users):
    def make(days_ahead: int = 10, **fields):
        starts = (timezone.now() + dt.timedelta(days=days_ahead)).replace(
            hour=17, minute=0, second=0, microsecond=0
        )
        return actions.create_event(
            actor=users["admin"], kind=EventKind.LAB, title="CI hands-on lab", starts_at=starts, **fields
        )

    return make


def test_an_event_has_a_host_and_panelist_slots_a_cse_signs_up_for(lab, cse, users):
    event = lab(panelists=2)
    assert event.duration_minutes == 120  # the policy's lab length
    slots = {(s.role, s.seat) for s in event.slots.all()}
    assert slots == {(DriRole.HOST, 1), (DriRole.PANELIST, 1), (DriRole.PANELIST, 2)}
    host = event.slots.get(role=DriRole.HOST)
    actions.sign_up(host, cse=cse, actor=cse)
    assert actions.sign_up(host, cse=cse, actor=cse).cse == cse  # again: the same
    other = User.objects.create_user(username="cse-bo", role=Role.CSM)
    assert "taken by" in errors(lambda: actions.sign_up(host, cse=other, actor=other))["slot"][0]
    assert (
        "Sign yourself up"
        in errors(
            lambda: actions.sign_up(event.slots.get(role=DriRole.PANELIST, seat=1), cse=other, actor=cse)
        )["cse"][0]
    )
    assert (
        "not a CSE"
        in errors(
            lambda: actions.sign_up(
                event.slots.get(role=DriRole.PANELIST, seat=2), cse=users["viewer"], actor=users["admin"]
            )
        )["cse"][0]
    )
    actions.leave_slot(host, actor=cse)
    host.refresh_from_db()
    assert host.cse is None


def test_only_admins_add_events_and_bad_fields_are_named(users):
    starts = timezone.now() + dt.timedelta(days=3)
    assert "actor" in errors(
        lambda: actions.create_event(actor=users["csm"], kind="lab", title="x", starts_at=starts)
    )
    found = errors(
        lambda: actions.create_event(
            actor=users["admin"],
            kind="party",
            title=" ",
            starts_at=starts.replace(tzinfo=None),
            time_zone="Mars/Olympus",
            capacity=0,
        )
    )
    assert set(found) == {"kind", "title", "starts_at", "time_zone", "capacity"}


def test_registration_is_idempotent_fills_then_waitlists_and_the_waitlist_moves_up(lab, seeded):
    event = lab(capacity=2)
    contact = Contact.objects.exclude(email="").select_related("account").first()
    domain = contact.email.split("@")[1]
    first = actions.register(event, name="Ada Lovelace", email=f"Ada@{domain}")
    assert first.status == RegistrationStatus.REGISTERED and first.email == f"ada@{domain}"
    assert first.account == contact.account  # matched by the email's domain
    assert actions.register(event, name="Ada Lovelace", email=f"ada@{domain}").pk == first.pk
    actions.register(event, name="Bo", email="bo@example.org")
    third = actions.register(event, name="Cy", email="cy@gmail.com")
    assert third.status == RegistrationStatus.WAITLISTED and third.account is None
    actions.cancel_registration(first)
    third.refresh_from_db()
    assert third.status == RegistrationStatus.REGISTERED
    found = errors(lambda: actions.register(event, name="", email="not-an-email"))
    assert set(found) == {"name", "email"}


def test_a_late_lab_request_is_refused_with_its_deadline(lab, cse, users):
    event = lab(days_ahead=5)
    actions.sign_up(event.slots.get(role=DriRole.HOST), cse=cse, actor=cse)
    due = actions.lab_request_due(event)
    message = errors(lambda: actions.file_lab_request(event, actor=cse))["event"][0]
    assert f"by {due.isoformat()}" in message and "7 days before delivery" in message
    on_time = lab(days_ahead=10)
    assert "host" in errors(lambda: actions.file_lab_request(on_time, actor=cse))["actor"][0]
    actions.sign_up(on_time.slots.get(role=DriRole.HOST), cse=cse, actor=cse)
    request = actions.file_lab_request(on_time, actor=cse, today=actions.lab_request_due(on_time))
    assert actions.file_lab_request(on_time, actor=cse).pk == request.pk  # filing again: the same
    assert set(on_time.codes.values_list("kind", flat=True)) == {CodeKind.PRODUCTION, CodeKind.TESTING}


def test_codes_are_unique_and_unguessable(lab, users):
    codes = []
    for _ in range(20):
        event = lab(days_ahead=30)
        actions.file_lab_request(event, actor=users["admin"])
        codes += list(event.codes.values_list("code", flat=True))
    assert len(set(codes)) == len(codes) == 40
    assert all(len(code) >= 20 for code in codes)  # 120 random bits, URL-safe
    assert len({code[:6] for code in codes}) == 40  # no shared prefix or counter


def test_redeeming_gives_one_space_per_attendee_and_refuses_the_rest(lab, users):
    event = lab(days_ahead=10, capacity=2, lab_access_days=4)
    actions.file_lab_request(event, actor=users["admin"])
    production = event.codes.get(kind=CodeKind.PRODUCTION).code
    testing = event.codes.get(kind=CodeKind.TESTING).code
    ada = actions.register(event, name="Ada Lovelace", email="ada@example.org")
    space = actions.redeem(production, email="ADA@example.org")
    assert space.registration == ada and space.name.startswith("ada-lovelace-")
    assert space.expires_at == event.starts_at + dt.timedelta(minutes=120, days=4)
    assert actions.redeem(production, email="ada@example.org").pk == space.pk  # twice: the same space
    assert "not registered" in errors(lambda: actions.redeem(production, email="eve@example.org"))["email"][0]
    assert (
        "Not a lab invitation code"
        in errors(lambda: actions.redeem(testing, email="ada@example.org"))["code"][0]
    )
    assert (
        "Not a lab invitation code"
        in errors(lambda: actions.redeem("guess", email="ada@example.org"))["code"][0]
    )

    actions.register(event, name="Bo", email="bo@example.org")
    actions.redeem(production, email="bo@example.org")
    Event = type(event)
    Event.objects.filter(pk=event.pk).update(capacity=2)
    cy = actions.register(event, name="Cy", email="cy@example.org")  # waitlisted: the lab is full
    assert cy.status == RegistrationStatus.WAITLISTED
    Event.objects.filter(pk=event.pk).update(capacity=3)  # a seat freed at registration, not in the lab
    cy = actions.register(event, name="Cy", email="cy@example.org")
    type(cy).objects.filter(pk=cy.pk).update(status=RegistrationStatus.REGISTERED)
    Event.objects.filter(pk=event.pk).update(capacity=2)
    assert (
        "All 2 lab spaces are taken"
        in errors(lambda: actions.redeem(production, email="cy@example.org"))["code"][0]
    )
    assert LabSpace.objects.count() == 2

    late = event.starts_at + dt.timedelta(days=5)
    Event.objects.filter(pk=event.pk).update(capacity=None)
    assert (
        "access ended"
        in errors(lambda: actions.redeem(production, email="cy@example.org", now=late))["code"][0]
    )
    assert LabSpace.objects.count() == 2
    assert InvitationCode.objects.count() == 2


def test_open_dri_slots_a_week_ahead_are_flagged_once_a_day(lab, cse, users):
    from csops.programs.models import OutboxMessage

    soon, later = lab(days_ahead=3), lab(days_ahead=20)
    actions.sign_up(soon.slots.get(role=DriRole.HOST), cse=cse, actor=cse)
    assert actions.flag_unfilled_slots() == 1  # one message, to the admin (no CSE manager set)
    assert actions.flag_unfilled_slots() == 0  # the same day: not again
    message = OutboxMessage.objects.get(kind="notification")
    assert message.to == users["admin"].email and "1 DRI slot(s) open within 7 days" in message.subject
    assert "Q&A panelist 1" in message.text and soon.starts_at.strftime("%Y-%m-%d %H:%M") in message.text
    assert later.starts_at.strftime("%Y-%m-%d") not in message.text  # 20 days out: not yet


def test_the_confirmation_is_queued_when_the_registration_commits(lab, django_capture_on_commit_callbacks):
    from csops.programs.models import OutboxMessage

    event = lab(days_ahead=10, capacity=1)
    with django_capture_on_commit_callbacks(execute=True):
        actions.register(event, name="Ada", email="ada@example.org")
        actions.register(event, name="Bo", email="bo@example.org")  # waitlisted: no confirmation yet
    [message] = OutboxMessage.objects.filter(kind="event")
    assert message.to == "ada@example.org" and event.title in message.subject + message.text
