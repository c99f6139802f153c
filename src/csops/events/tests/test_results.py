"""Results of an event and a series: counts, attendance rate, poll, segments, CTAs, and the change
in the related health measure for attending accounts against the same segment's others (a chart)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from csops.events.actions import create_event, register
from csops.events.attendance import mark_attendance
from csops.events.models import Event
from csops.events.results import results
from csops.rules.tests.conftest import contact_for, make_account, put_health, team  # noqa: F401

pytestmark = pytest.mark.django_db


def test_event_and_series_results_with_health_change(
    users, make_account, put_health, client_as  # noqa: F811
):
    today = timezone.localdate()
    event = create_event(
        actor=users["admin"], kind="lab", title="CI lab", series="CI lab", related_measure="ci",
        starts_at=timezone.now() + dt.timedelta(hours=3),
    )
    attending, absent, other = make_account(), make_account(), make_account()
    for account, before, after in ((attending, 0.2, 0.6), (absent, 0.3, 0.4), (other, 0.5, 0.5)):
        put_health(account, today - dt.timedelta(days=40), ci=(before, "red"))
        put_health(account, today, ci=(after, "yellow"))
    went = register(event, name="Ada One", email="ada@one.example", account=attending)
    register(event, name="Bob Two", email="bob@two.example", account=absent)
    mark_attendance(went, attended=True, actor=users["admin"])
    Event.objects.filter(pk=event.pk).update(starts_at=timezone.now() - dt.timedelta(days=30))
    event.refresh_from_db()

    found = results([event], today=today)
    assert found.registrations["Registered"] == 2
    assert (found.attended, found.attendance_rate, found.ctas) == (1, 50, 1)
    assert found.segments == [{"segment": "Growth", "registered": 2, "attended": 1}]
    assert {(h["group"], h["accounts"], h["change"]) for h in found.health} == {
        ("Attended", 1, 0.4),
        ("Did not attend", 2, 0.05),
    }
    assert found.chart.startswith("<svg")

    client = client_as("viewer")
    page = client.get(f"/events/{event.pk}/results/")
    assert page.status_code == 200
    assert b"Attendance rate" in page.content and b"<svg" in page.content
    assert client.get("/events/series/CI lab/results/").status_code == 200
    assert client.get("/events/series/nothing/results/").status_code == 404
